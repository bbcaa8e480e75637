//! A tiny HTTP/1.1 server for the tests' stand-ins of outside services (a
//! BMC, a deploy agent): one thread per connection, one request each,
//! answered by the given handler.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use serde_json::Value;

pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: Value,
}

pub enum Answer {
    Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: Value,
    },
    /// Keep the connection open and never answer.
    Hang,
}

pub fn reply(status: u16, body: Value) -> Answer {
    Answer::Reply { status, headers: Vec::new(), body }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Internal Server Error",
    }
}

/// Serves on a free loopback port; its `http://…` root.
pub fn serve(handler: impl Fn(Request) -> Answer + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handler = std::sync::Arc::new(handler);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let handler = handler.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or_default().to_string();
                let path = parts.next().unwrap_or_default().to_string();
                let mut headers = HashMap::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = h.split_once(':') {
                        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
                    }
                }
                let length = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                match handler(Request { method, path, headers, body }) {
                    Answer::Hang => std::thread::sleep(Duration::from_secs(30)),
                    Answer::Reply { status, headers, body } => {
                        let text = if body.is_null() { String::new() } else { body.to_string() };
                        let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
                        let mut out = conn;
                        let _ = write!(
                            out,
                            "HTTP/1.1 {status} {}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\
                             Connection: close\r\n\r\n{text}",
                            reason(status),
                            text.len()
                        );
                    }
                }
            });
        }
    });
    url
}
