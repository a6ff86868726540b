//! A real S3-compatible server on loopback for the tests: `moto_server`
//! (PyPI `moto[server]`, which `.ci/run` installs), on a free port, stopped
//! when dropped.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct S3 {
    child: Child,
    pub port: u16,
}

impl S3 {
    /// Starts a server; `auth`: enforce credentials (none are valid then).
    pub fn start(auth: bool) -> S3 {
        // Tests start servers in parallel: picking a free port and binding
        // it are two steps, so one test at a time does both, and a server
        // that lost its port anyway (it exits) is started again elsewhere.
        static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..5 {
            if let Some(s3) = Self::try_start(auth) {
                return s3;
            }
        }
        panic!("moto_server did not start");
    }

    fn try_start(auth: bool) -> Option<S3> {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let program = std::env::var("STRATA_MOTO").unwrap_or_else(|_| "moto_server".into());
        let mut cmd = Command::new(&program);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if auth {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
        }
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot start {program} ({e}): pip install 'moto[server]' (.ci/run does)")
        });
        let mut s3 = S3 { child, port };
        let started = Instant::now();
        loop {
            if s3.child.try_wait().unwrap().is_some() {
                return None;
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                // Listening, and it is ours: our process is still running.
                std::thread::sleep(Duration::from_millis(100));
                return s3.child.try_wait().unwrap().is_none().then_some(s3);
            }
            if started.elapsed() > Duration::from_secs(60) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The variables a client needs (any credentials pass without auth).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", "strata-test"),
            ("AWS_SECRET_ACCESS_KEY", "not-a-real-secret-0123456789"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ALLOW_HTTP", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([("AWS_ENDPOINT_URL".to_string(), self.endpoint())])
        .collect()
    }

    fn request(&self, method: &str, path: &str, body: &[u8]) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        )
        .unwrap();
        stream.write_all(body).unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).unwrap();
        out
    }

    /// Writes an object (`/bucket/key`) as another S3 client would.
    pub fn put(&self, path: &str, body: &[u8]) {
        let answer = self.request("PUT", path, body);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    pub fn create_bucket(&self, name: &str) {
        let answer = self.request("PUT", &format!("/{name}"), b"");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    /// The keys under a prefix.
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let answer = self.request(
            "GET",
            &format!("/{bucket}?list-type=2&prefix={prefix}"),
            b"",
        );
        answer
            .split("<Key>")
            .skip(1)
            .map(|k| k.split("</Key>").next().unwrap().to_string())
            .collect()
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
