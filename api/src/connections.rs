//! Serving connections: the accept loop, the deadlines that cut slow and idle clients, the cap on
//! connections, and the graceful stop.
//!
//! poem's own server bounds none of these: a client sending its header a byte at a time, or
//! holding thousands of idle keep-alive connections, kept a task and its buffers forever. Here a
//! connection with no request being answered has a deadline ([`Limits`]); past it the connection
//! is dropped. hyper's own header timeout would also cut idle keep-alive connections at the same
//! time (its clock starts when it waits for a head) and misses the bytes hyper reads before it
//! knows HTTP/1 from HTTP/2, so the deadlines are kept here, around the socket.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::Endpoint;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{watch, Notify, Semaphore};

/// The bounds every connection is served within (docs/configuration.md).
#[derive(Clone, Debug)]
pub struct Limits {
    /// A new connection must deliver a complete request head within this; so must a kept-alive
    /// connection from the first byte of its next request.
    pub header_read_timeout: Duration,
    /// A kept-alive connection with no request being answered is closed when its next request
    /// has not begun (not one byte) within this.
    pub idle_timeout: Duration,
    /// Connections served at once; beyond it new ones wait in the kernel's accept queue.
    pub max_connections: usize,
    /// After the stop signal: how long answers under way get to finish.
    pub shutdown_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_connections: 10_000,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// What the stop signal tells each connection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    Running,
    /// Finish the answers under way, take no new request.
    Graceful,
    /// The grace period is over.
    Now,
}

/// Counts across connections, for the stop's log lines.
#[derive(Default)]
struct Totals {
    connections: AtomicUsize,
    in_flight: AtomicUsize,
}

/// Serves `app` on `acceptor` until `shutdown` resolves; then closes the listening socket (new
/// connections are refused), lets answers under way finish for up to `limits.shutdown_timeout`
/// (kept-alive connections close after their answer), and drops what is left.
pub async fn serve(
    mut acceptor: TcpAcceptor,
    app: impl Endpoint + 'static,
    shutdown: impl std::future::Future<Output = ()>,
    limits: Limits,
) -> io::Result<()> {
    let app = Arc::new(app);
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let totals = Arc::new(Totals::default());
    let (stop_tx, stop_rx) = watch::channel(Stop::Running);
    tokio::pin!(shutdown);
    loop {
        // `biased`: the stop is checked first on every turn, even while connections pour in.
        let permit = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let accepted = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = acceptor.accept() => accepted,
        };
        let (socket, local, remote, scheme) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, mostly: wait for some to be freed instead of spinning.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let conn = Connection {
            app: app.clone(),
            limits: limits.clone(),
            stop: stop_rx.clone(),
            totals: totals.clone(),
        };
        tokio::spawn(async move {
            conn.serve(socket, local, remote, scheme).await;
            drop(permit);
        });
    }
    drop(acceptor);
    tracing::info!(
        connections = totals.connections.load(Ordering::Relaxed),
        requests_in_flight = totals.in_flight.load(Ordering::Relaxed),
        grace_seconds = limits.shutdown_timeout.as_secs_f32(),
        "stopped accepting; finishing answers under way"
    );
    let started = Instant::now();
    let _ = stop_tx.send(Stop::Graceful);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    match tokio::time::timeout(limits.shutdown_timeout, slots.acquire_many(all)).await {
        Ok(_) => tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "every connection closed"
        ),
        Err(_) => {
            tracing::warn!(
                connections = totals.connections.load(Ordering::Relaxed),
                requests_in_flight = totals.in_flight.load(Ordering::Relaxed),
                "grace period over; dropping the connections left"
            );
            let _ = stop_tx.send(Stop::Now);
            // The tasks see `Now` at their next poll; give them a moment to go.
            let _ = tokio::time::timeout(Duration::from_millis(500), slots.acquire_many(all)).await;
        }
    }
    Ok(())
}

struct Connection<E> {
    app: Arc<E>,
    limits: Limits,
    stop: watch::Receiver<Stop>,
    totals: Arc<Totals>,
}

impl<E: Endpoint + 'static> Connection<E> {
    async fn serve(
        mut self,
        socket: <TcpAcceptor as Acceptor>::Io,
        local: poem::web::LocalAddr,
        remote: poem::web::RemoteAddr,
        scheme: poem::http::uri::Scheme,
    ) {
        self.totals.connections.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity::new());
        let service = {
            let (app, activity, totals) = (self.app.clone(), activity.clone(), self.totals.clone());
            hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let (app, local, remote, scheme) =
                    (app.clone(), local.clone(), remote.clone(), scheme.clone());
                let busy = Busy::start(activity.clone(), totals.clone());
                async move {
                    let resp = app.get_response((req, local, remote, scheme).into()).await;
                    drop(busy);
                    Ok::<hyper::Response<_>, Infallible>(resp.into())
                }
            })
        };
        let io = TokioIo::new(Watched {
            inner: socket,
            activity: activity.clone(),
        });
        let builder = auto::Builder::new(TokioExecutor::new());
        let conn = builder.serve_connection(io, service);
        tokio::pin!(conn);
        let mut graceful = false;
        loop {
            let deadline = activity.deadline(&self.limits);
            tokio::select! {
                _ = &mut conn => break,
                _ = activity.changed.notified() => {}
                _ = sleep_until(deadline), if deadline.is_some() => {
                    // Re-checked: a request may have begun since the deadline was computed.
                    if activity.deadline(&self.limits).is_some_and(|d| d <= Instant::now()) {
                        tracing::debug!("closing a slow or idle connection");
                        break;
                    }
                }
                changed = self.stop.changed() => {
                    let stop = if changed.is_ok() { *self.stop.borrow() } else { Stop::Now };
                    match stop {
                        Stop::Running => {}
                        Stop::Graceful if !graceful => {
                            graceful = true;
                            conn.as_mut().graceful_shutdown();
                        }
                        Stop::Graceful => {}
                        Stop::Now => break,
                    }
                }
            }
        }
        self.totals.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// One connection's state as its deadline sees it: answers under way, when it last had nothing
/// to do, and whether (and when) the next request's first byte came since.
struct Activity {
    born: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds since `born` when the connection last had nothing to do.
    idle_since: AtomicU64,
    /// Milliseconds since `born` (plus one, so 0 means none) of the first byte read since then.
    first_byte: AtomicU64,
    /// Whether the connection has answered a request (a kept-alive connection, not a new one).
    answered: std::sync::atomic::AtomicBool,
    changed: Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            born: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            first_byte: AtomicU64::new(0),
            answered: std::sync::atomic::AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.born.elapsed().as_millis() as u64
    }

    fn at(&self, ms: u64) -> Instant {
        self.born + Duration::from_millis(ms)
    }

    /// When the connection must be closed unless something happens; none while answering.
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        match self.first_byte.load(Ordering::Acquire) {
            0 if self.answered.load(Ordering::Acquire) => {
                Some(self.at(self.idle_since.load(Ordering::Acquire)) + limits.idle_timeout)
            }
            0 => {
                Some(self.at(self.idle_since.load(Ordering::Acquire)) + limits.header_read_timeout)
            }
            first => Some(self.at(first - 1) + limits.header_read_timeout),
        }
    }

    /// Bytes came in: the first since the connection was last idle starts the head's clock.
    fn read(&self) {
        let stamp = self.now_ms() + 1;
        if self
            .first_byte
            .compare_exchange(0, stamp, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            self.changed.notify_one();
        }
    }
}

/// A request being answered; when the last one on the connection ends, it is idle again.
struct Busy {
    activity: Arc<Activity>,
    totals: Arc<Totals>,
}

impl Busy {
    fn start(activity: Arc<Activity>, totals: Arc<Totals>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        totals.in_flight.fetch_add(1, Ordering::Relaxed);
        activity.changed.notify_one();
        Self { activity, totals }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.totals.in_flight.fetch_sub(1, Ordering::Relaxed);
        let a = &self.activity;
        if a.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            a.idle_since.store(a.now_ms(), Ordering::Release);
            a.first_byte.store(0, Ordering::Release);
            a.answered.store(true, Ordering::Release);
            a.changed.notify_one();
        }
    }
}

/// The socket, noting each read for [`Activity`].
struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
