//! A local SMTP sink the tests start: it speaks just enough SMTP for a client to deliver, and
//! keeps each message so a test can read the links in it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct Delivered {
    pub rcpt: Vec<String>,
    /// The message with quoted-printable soft breaks and escapes undone.
    pub text: String,
    /// The message as delivered (headers and MIME parts).
    pub raw: String,
}

#[derive(Clone)]
pub struct MailSink {
    pub url: String,
    messages: Arc<Mutex<Vec<Delivered>>>,
}

fn decode_quoted_printable(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl MailSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let messages: Arc<Mutex<Vec<Delivered>>> = Arc::default();
        let store = messages.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let store = store.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 sink ESMTP\r\n").await.ok();
                    let mut rcpt = Vec::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO")
                        {
                            b"250 sink\r\n"
                        } else if upper.starts_with("RCPT TO:") {
                            rcpt.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
                            b"250 OK\r\n"
                        } else if upper.starts_with("DATA") {
                            write.write_all(b"354 send it\r\n").await.ok();
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                                data.push_str("\r\n");
                            }
                            let text = decode_quoted_printable(&data);
                            store.lock().unwrap().push(Delivered {
                                rcpt: std::mem::take(&mut rcpt),
                                text,
                                raw: data,
                            });
                            b"250 queued\r\n"
                        } else if upper.starts_with("QUIT") {
                            write.write_all(b"221 bye\r\n").await.ok();
                            return;
                        } else {
                            b"250 OK\r\n"
                        };
                        if write.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self { url, messages }
    }

    /// Every message delivered to `to` so far.
    pub fn to(&self, to: &str) -> Vec<Delivered> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.rcpt.iter().any(|r| r == to))
            .cloned()
            .collect()
    }

    /// Waits (up to 10 s) for the `n`-th message to `to`.
    pub async fn wait(&self, to: &str, n: usize) -> Delivered {
        for _ in 0..200 {
            if let Some(m) = self.to(to).into_iter().nth(n - 1) {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no mail #{n} for {to}");
    }

    /// The first link in `message` that starts with `prefix`.
    pub fn link(message: &Delivered, prefix: &str) -> String {
        let start = message
            .text
            .find(prefix)
            .unwrap_or_else(|| panic!("no link {prefix} in {}", message.text));
        message.text[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    }
}
