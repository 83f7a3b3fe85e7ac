//! Text messages: the passwordless codes of `sms` connections, through a pluggable
//! sender chosen in configuration. Development uses the outbox (one `.txt` file per
//! message in `<data_dir>/sms-outbox`: the recipient on the first line, then the text);
//! production posts `{"to","body"}` as JSON to a webhook that hands it to an SMS gateway
//! (Twilio, Vonage, an in-house relay), with an optional bearer token.
//!
//! Every send is bounded by a timeout; a failure is logged without the text (it holds a
//! code).

use gatehouse_core::secret::Secret;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where text messages go.
#[derive(Debug, Clone)]
pub enum SmsTransport {
    /// One file per message in this directory (`None`: `<data_dir>/sms-outbox`).
    Outbox { dir: Option<PathBuf> },
    /// `POST {"to","body"}` to this URL, with `Authorization: Bearer <token>` when set.
    Webhook { url: String, token: Option<Secret> },
}

#[derive(Debug, Clone)]
pub struct SmsConfig {
    pub transport: SmsTransport,
    /// Longest a send may take.
    pub timeout_secs: u64,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self { transport: SmsTransport::Outbox { dir: None }, timeout_secs: 10 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error("writing to the SMS outbox failed: {0}")]
    Outbox(#[from] std::io::Error),
    #[error("the SMS webhook failed: {0}")]
    Webhook(String),
    #[error("sending took longer than {0} s")]
    Timeout(u64),
}

/// One text message.
#[derive(Clone, PartialEq, Eq)]
pub struct Sms {
    /// E.164.
    pub to: String,
    pub body: String,
}

/// The body holds a code: never shown by `Debug`.
impl std::fmt::Debug for Sms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sms {{ to: {:?}, body: <{} bytes> }}", self.to, self.body.len())
    }
}

#[derive(Clone)]
enum Transport {
    Outbox(PathBuf),
    Webhook { url: String, token: Option<Secret>, http: reqwest::Client },
}

/// Sends text messages. Cheap to clone.
#[derive(Clone)]
pub struct SmsSender {
    transport: Transport,
    timeout_secs: u64,
}

impl SmsSender {
    pub fn new(config: &SmsConfig, data_dir: &Path) -> Self {
        let timeout_secs = config.timeout_secs.max(1);
        let transport = match &config.transport {
            SmsTransport::Outbox { dir } => {
                Transport::Outbox(dir.clone().unwrap_or_else(|| data_dir.join("sms-outbox")))
            }
            SmsTransport::Webhook { url, token } => Transport::Webhook {
                url: url.clone(),
                token: token.clone(),
                http: reqwest::Client::builder().timeout(Duration::from_secs(timeout_secs)).build().unwrap_or_default(),
            },
        };
        Self { transport, timeout_secs }
    }

    /// Sends one message, giving up after the configured timeout.
    pub async fn send(&self, sms: &Sms) -> Result<(), SmsError> {
        let work = async {
            match &self.transport {
                Transport::Outbox(dir) => {
                    tokio::fs::create_dir_all(dir).await?;
                    let name = format!("{}.txt", crate::secrets::random_token());
                    let tmp = dir.join(format!(".{name}.tmp"));
                    tokio::fs::write(&tmp, format!("To: {}\n\n{}\n", sms.to, sms.body)).await?;
                    tokio::fs::rename(&tmp, dir.join(name)).await?;
                    Ok(())
                }
                Transport::Webhook { url, token, http } => {
                    let mut request = http.post(url).json(&serde_json::json!({"to": sms.to, "body": sms.body}));
                    if let Some(t) = token {
                        request = request.bearer_auth(t.expose());
                    }
                    let response = request.send().await.map_err(|e| SmsError::Webhook(e.without_url().to_string()))?;
                    if response.status().is_success() {
                        Ok(())
                    } else {
                        Err(SmsError::Webhook(format!("the webhook answered {}", response.status())))
                    }
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(self.timeout_secs), work)
            .await
            .map_err(|_| SmsError::Timeout(self.timeout_secs))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_outbox_keeps_one_file_per_message() {
        let dir = std::env::temp_dir().join(format!("gh-sms-{}", crate::secrets::random_token()));
        let config = SmsConfig { transport: SmsTransport::Outbox { dir: Some(dir.clone()) }, timeout_secs: 5 };
        let sender = SmsSender::new(&config, Path::new("unused"));
        let sms = Sms { to: "+14155550100".into(), body: "Your code is 123456".into() };
        assert!(!format!("{sms:?}").contains("123456"), "Debug hides the code");
        sender.send(&sms).await.unwrap_or_else(|e| unreachable!("{e}"));
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap_or_else(|e| unreachable!("{e}")).flatten().collect();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(files[0].path()).unwrap_or_default();
        assert_eq!(text, "To: +14155550100\n\nYour code is 123456\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
