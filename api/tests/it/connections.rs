//! The server's connections under slow and idle clients, a full house, and a stop: a client that
//! sends half a head, or a head a byte at a time, or idles after its answer, is disconnected; an
//! answer that takes longer than those deadlines is not cut; past the cap new connections wait;
//! a stop lets the answer under way finish and refuses new connections. The server here serves a
//! small app (the connection handling does not depend on the routes) with deadlines of a second;
//! the bounds the tests wait for are far longer, so a slow machine does not fail them.

use std::sync::Arc;
use std::time::Duration;

use api::server::Limits;
use poem::web::Data;
use poem::{handler, EndpointExt, Route};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Far beyond every deadline below: reaching it means the server did not act.
const GENEROUS: Duration = Duration::from_secs(30);

#[handler]
fn quick() -> &'static str {
    "ok"
}

/// An answer that takes longer than the header and idle deadlines.
#[handler]
async fn slow(started: Data<&Arc<Notify>>) -> &'static str {
    started.notify_one();
    tokio::time::sleep(Duration::from_secs(3)).await;
    "slow"
}

fn short_limits() -> Limits {
    Limits {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        max_connections: 100,
        shutdown_timeout: Duration::from_secs(20),
    }
}

struct Started {
    addr: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Told when a slow answer begins.
    slow_began: Arc<Notify>,
}

/// Starts the server.
async fn start(limits: Limits) -> Started {
    let acceptor = api::server::bind("127.0.0.1", 0).await.unwrap();
    let addr = api::server::local_addr(&acceptor).unwrap().to_string();
    let slow_began = Arc::new(Notify::new());
    let app = Route::new()
        .at("/quick", quick)
        .at("/slow", slow)
        .data(slow_began.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(api::server::run_with_limits(
        acceptor,
        app,
        async move {
            let _ = stopped.await;
        },
        limits,
    ));
    Started {
        addr,
        stop,
        task,
        slow_began,
    }
}

fn request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n")
}

/// Reads until the server closes the connection; what it sent, or `None` if it kept the
/// connection open for [`GENEROUS`].
async fn read_until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(GENEROUS, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&got).into_owned())
}

/// Reads one answer (a small one: its head and body arrive with the terminating "ok" or "slow").
async fn read_answer(stream: &mut TcpStream, body: &str) -> String {
    let mut got = String::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(GENEROUS, async {
        while !(got.contains("\r\n\r\n") && got.ends_with(body)) {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before the answer: {got:?}");
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
    .await
    .expect("an answer");
    got
}

#[tokio::test]
async fn half_a_head_is_disconnected() {
    let server = start(short_limits()).await;
    let addr = &server.addr;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /quick HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let sent = read_until_closed(&mut stream)
        .await
        .expect("the server closes a connection whose head never ends");
    assert!(!sent.contains("200 OK"), "{sent:?}");
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_disconnected() {
    let server = start(short_limits()).await;
    let addr = &server.addr;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_until_closed(&mut stream).await.as_deref(), Some(""));
}

#[tokio::test]
async fn a_head_sent_a_byte_at_a_time_is_disconnected() {
    let server = start(short_limits()).await;
    let addr = &server.addr;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // 10 bytes a second: this head would take far longer than GENEROUS to arrive.
    let head = format!(
        "GET /quick HTTP/1.1\r\nHost: localhost\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(400)
    );
    let sending = async {
        for byte in head.as_bytes() {
            if stream.write_all(&[*byte]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let mut probe = [0u8; 1];
            // A closed connection reads as 0 bytes (or an error) without waiting.
            match tokio::time::timeout(Duration::ZERO, stream.peek(&mut probe)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                _ => {}
            }
        }
        false
    };
    let cut = tokio::time::timeout(GENEROUS, sending).await;
    assert_eq!(cut, Ok(true), "the server cut the trickling head");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_its_answer() {
    let server = start(short_limits()).await;
    let addr = &server.addr;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(request("/quick").as_bytes())
        .await
        .unwrap();
    let answer = read_answer(&mut stream, "ok").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(!answer.to_lowercase().contains("connection: close"));
    // Kept alive, then idle: the server closes it.
    assert_eq!(read_until_closed(&mut stream).await.as_deref(), Some(""));
}

#[tokio::test]
async fn an_answer_longer_than_the_deadlines_is_not_cut() {
    let server = start(short_limits()).await;
    let addr = &server.addr;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request("/slow").as_bytes()).await.unwrap();
    let answer = read_answer(&mut stream, "slow").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // And the connection still serves the next request.
    stream
        .write_all(request("/quick").as_bytes())
        .await
        .unwrap();
    assert!(read_answer(&mut stream, "ok")
        .await
        .starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn past_the_cap_a_connection_waits_for_a_free_one() {
    let limits = Limits {
        header_read_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        max_connections: 2,
        ..short_limits()
    };
    let server = start(limits).await;
    let addr = &server.addr;
    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(request("/quick").as_bytes()).await.unwrap();
    read_answer(&mut first, "ok").await;
    let mut second = TcpStream::connect(addr).await.unwrap();
    second
        .write_all(request("/quick").as_bytes())
        .await
        .unwrap();
    read_answer(&mut second, "ok").await;
    // The kernel completes the third handshake; the server does not take the connection up.
    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(request("/quick").as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(early.is_err(), "answered past the cap: {early:?}");
    drop(first);
    assert!(read_answer(&mut third, "ok")
        .await
        .starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn a_stop_finishes_the_answer_under_way_and_refuses_new_connections() {
    let Started {
        addr,
        stop,
        task,
        slow_began,
    } = start(short_limits()).await;
    let addr = &addr;
    let mut busy = TcpStream::connect(addr).await.unwrap();
    busy.write_all(request("/slow").as_bytes()).await.unwrap();
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(request("/quick").as_bytes()).await.unwrap();
    read_answer(&mut idle, "ok").await;
    // The slow answer is under way (it takes 3 s); stop now.
    tokio::time::timeout(GENEROUS, slow_began.notified())
        .await
        .expect("the slow answer begins");
    stop.send(()).unwrap();
    let answer = read_answer(&mut busy, "slow").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.to_lowercase().contains("connection: close"),
        "{answer}"
    );
    // The idle connection is closed, the listening socket too, and the server returns.
    assert_eq!(read_until_closed(&mut idle).await.as_deref(), Some(""));
    let done = tokio::time::timeout(GENEROUS, task).await;
    assert!(matches!(done, Ok(Ok(Ok(())))), "{done:?}");
    assert!(TcpStream::connect(addr).await.is_err());
}
