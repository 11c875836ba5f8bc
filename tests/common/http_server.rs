//! A tiny HTTP/1.1 server on 127.0.0.1:0 for HTTP-check tests: each path has a canned answer,
//! and every request is recorded (method, path, headers) so tests can assert what was sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    /// When the request arrived (before any delay of the answer).
    pub at: std::time::Instant,
}

pub struct Server {
    pub base: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

pub async fn start(routes: Vec<(&str, Answer)>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routes: Arc<HashMap<String, Answer>> = Arc::new(
        routes
            .into_iter()
            .map(|(p, a)| (p.to_string(), a))
            .collect(),
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let routes = Arc::clone(&routes);
            let seen = Arc::clone(&seen2);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let mut lines = head.split("\r\n");
                let mut first = lines.next().unwrap_or("").split(' ');
                let method = first.next().unwrap_or("").to_string();
                let target = first.next().unwrap_or("").to_string();
                let path = target.split('?').next().unwrap_or("").to_string();
                let headers = lines
                    .filter_map(|l| l.split_once(": "))
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                    .collect();
                seen.lock().unwrap().push(Seen {
                    method,
                    path: path.clone(),
                    headers,
                    at: std::time::Instant::now(),
                });
                let answer = routes.get(&path).cloned().unwrap_or(Answer {
                    status: 404,
                    body: "not found".into(),
                    delay: Duration::ZERO,
                });
                tokio::time::sleep(answer.delay).await;
                let kind = if answer.body.starts_with("<!doctype html>") {
                    "text/html; charset=utf-8"
                } else {
                    "application/json"
                };
                let resp = format!(
                    "HTTP/1.1 {} X\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                    answer.status,
                    answer.body.len(),
                    answer.body
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    Server { base, seen }
}

pub fn ok(body: &str) -> Answer {
    Answer {
        status: 200,
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}
