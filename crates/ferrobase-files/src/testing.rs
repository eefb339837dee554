//! A real S3 server for tests: `moto_server` (Python `moto[server]`) on a free loopback port.
//! Found through `FERROBASE_MOTO_SERVER` (a path to the executable) or `moto_server` on `PATH`;
//! `scripts/test.sh` installs it. When it is missing, `Moto::start` returns `None` and callers
//! skip with a message.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts moto and waits (at most 30 s) until it accepts connections.
    pub fn start() -> Option<Moto> {
        let exe = std::env::var("FERROBASE_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .ok()?
            .port();
        let child = Command::new(&exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                eprintln!("SKIP S3 tests: cannot start {exe} ({e}); run scripts/test.sh or pip install 'moto[server]'");
                return None;
            }
        };
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(moto);
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                eprintln!("SKIP S3 tests: {exe} exited with {status}");
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("SKIP S3 tests: {exe} did not listen within 30 s");
        None
    }

    /// Creates a bucket (moto does not check signatures) and returns the `--files-uri` for it.
    pub async fn bucket(&self, name: &str) -> Result<String, String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.endpoint.trim_start_matches("http://");
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let req = format!(
            "PUT /{name} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut resp = String::new();
        s.read_to_string(&mut resp)
            .await
            .map_err(|e| e.to_string())?;
        if !resp.starts_with("HTTP/1.1 200") {
            return Err(format!("bucket creation failed: {resp}"));
        }
        Ok(format!(
            "s3://{name}?endpoint={}&region=us-east-1&access_key_id=test&secret_access_key=test",
            self.endpoint
        ))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
