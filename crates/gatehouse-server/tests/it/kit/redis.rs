//! A Redis of the test's own: `redis-server` started on a free port, which the test can
//! pause (SIGSTOP), resume, kill (SIGKILL) and start again on the same port. Killed
//! when dropped.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct RedisProcess {
    pub port: u16,
    child: Option<Child>,
}

impl RedisProcess {
    /// Starts `redis-server` (from `GATEHOUSE_TEST_REDIS_SERVER`, default `redis-server`
    /// on the `PATH`); `None` when it is not installed.
    pub async fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut redis = Self { port, child: None };
        if !redis.spawn() {
            eprintln!("redis-server is not installed; the Redis fault test is skipped");
            return None;
        }
        redis.wait_accepting().await;
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) -> bool {
        let bin = std::env::var("GATEHOUSE_TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(bin)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match child {
            Ok(c) => {
                self.child = Some(c);
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => panic!("starting redis-server: {e}"),
        }
    }

    /// Waits (bounded) until the server answers PING.
    async fn wait_accepting(&self) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        for _ in 0..200 {
            if let Ok(mut c) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await {
                let mut answer = [0u8; 7];
                if c.write_all(b"PING\r\n").await.is_ok() && c.read_exact(&mut answer).await.is_ok() {
                    assert_eq!(&answer, b"+PONG\r\n");
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server on port {} did not start", self.port);
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("redis-server is running").id();
        let status = Command::new("kill").args([signal, &pid.to_string()]).status().unwrap();
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// SIGSTOP: the port still accepts connections, nothing answers.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// SIGKILL, and reaps the process: the port refuses connections.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts a fresh (empty) server on the same port.
    pub async fn restart(&mut self) {
        self.kill();
        assert!(self.spawn());
        self.wait_accepting().await;
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
