//! A browser for the hosted pages: a cookie jar over a client that does not follow
//! redirects, so each test sees every hop.

use std::collections::HashMap;

pub struct Browser {
    http: reqwest::Client,
    base: String,
    pub cookies: HashMap<String, String>,
}

/// One response as a browser sees it.
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    /// The `Set-Cookie` headers, as sent.
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Browser {
    /// A browser with no cookies yet, for the site at `base`.
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, base: base.trim_end_matches('/').to_string(), cookies: HashMap::new() }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}/{}", self.base, path.trim_start_matches('/'))
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn finish(&mut self, r: reqwest::Response) -> Answer {
        let mut set_cookies = Vec::new();
        for v in r.headers().get_all("set-cookie") {
            let s = v.to_str().unwrap().to_string();
            let (pair, attrs) = s.split_once(';').unwrap_or((&s, ""));
            let (k, val) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
            set_cookies.push(s);
        }
        let status = r.status().as_u16();
        let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
        let headers = r.headers().clone();
        Answer { status, location, headers, set_cookies, body: r.text().await.unwrap() }
    }

    /// `GET path` (relative to the site, or a whole URL) with this browser's cookies.
    pub async fn get(&mut self, path: &str) -> Answer {
        let r = self.http.get(self.url(path)).header("cookie", self.cookie_header()).send().await.unwrap();
        self.finish(r).await
    }

    /// Submits a form to `path` with this browser's cookies.
    pub async fn post_form(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let r = self.http.post(self.url(path)).header("cookie", self.cookie_header()).form(form).send().await.unwrap();
        self.finish(r).await
    }
}

impl Browser {
    /// Submits a multipart form (`fields` in order, then `file` as the part `file.0`).
    pub async fn post_multipart(&mut self, path: &str, fields: &[(&str, &str)], file: (&str, Vec<u8>)) -> Answer {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        form = form.part(file.0.to_string(), reqwest::multipart::Part::bytes(file.1).file_name("users"));
        let r =
            self.http.post(self.url(path)).header("cookie", self.cookie_header()).multipart(form).send().await.unwrap();
        self.finish(r).await
    }
}

/// A query parameter of a URL, absolute or relative to the site (`/u/login?state=…`).
pub fn query_param(url: &str, key: &str) -> Option<String> {
    let u = url::Url::parse(url).or_else(|_| url::Url::parse(&format!("http://x{url}"))).ok()?;
    u.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.to_string())
}

/// The value of a hidden form field; fails the test, showing the page, if there is none.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker).unwrap_or_else(|| panic!("no field {name} in {html}")) + marker.len();
    let end = html[start..].find('"').unwrap();
    html[start..start + end].to_string()
}
