//! A panic in a handler is a bug, but it must not cost the client its connection: the request
//! gets the contract's 500, `{"message":"Internal Server Error","code":"INTERNAL_SERVER_ERROR"}`,
//! and the panic is logged once, under the request's id.
//!
//! [`catch_panics`] answers; [`install_hook`] (the binary calls it once the log is set up) logs.
//! The hook runs on the panicking thread, inside the request's span, so its one log line carries
//! the request id, method and path, in the log's format (text or JSON). Panics outside any span
//! keep the previous hook's output.

use std::any::Any;

use poem::http::StatusCode;
use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, Response};

/// `ep`, with any panic while it handles a request turned into the contract's 500.
pub fn catch_panics(ep: impl Endpoint + 'static) -> impl Endpoint {
    ep.with(CatchPanic::new().with_handler(internal_server_error))
}

fn internal_server_error(_panic: Box<dyn Any + Send + 'static>) -> Response {
    Response::builder()
        .status(StatusCode::INTERNAL_SERVER_ERROR)
        .content_type("application/json")
        .body(r#"{"message":"Internal Server Error","code":"INTERNAL_SERVER_ERROR"}"#)
}

/// The panic's message, when it has one.
fn message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Logs every panic inside a span (a request's) as one error event of that span; others go to
/// the hook that was installed before.
pub fn install_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if tracing::Span::current().is_none() {
            previous(info);
            return;
        }
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        tracing::error!(
            panic = message(info.payload()),
            location = %location,
            "panicked"
        );
    }));
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex, Once};
    use std::time::Duration;

    use poem::{handler, EndpointExt, Route};

    use crate::request_log::RequestLog;

    /// The log, captured.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[handler]
    fn boom() -> &'static str {
        panic!("the handler gave up")
    }

    #[handler]
    fn fine() -> &'static str {
        "fine"
    }

    /// As the server stacks them: the request log outside, the panic catcher inside it.
    fn app() -> impl poem::Endpoint {
        super::catch_panics(Route::new().at("/boom", boom).at("/fine", fine)).with(RequestLog {
            client_ip: Default::default(),
            routes: std::sync::Arc::new(crate::route_template::RouteTemplates::new(&["/boom"])),
        })
    }

    /// Over a real connection, which survives the panic.
    #[tokio::test]
    async fn a_panic_is_a_500_in_the_contract_shape_logged_once_with_the_request_id() {
        static HOOK: Once = Once::new();
        HOOK.call_once(super::install_hook);
        let log = Captured::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        // The test's runtime runs the server on this thread too, where the subscriber is the
        // default.
        let _guard = tracing::subscriber::set_default(subscriber);
        let acceptor = crate::server::bind("127.0.0.1", 0).await.unwrap();
        let base = format!("http://{}", crate::server::local_addr(&acceptor).unwrap());
        tokio::spawn(crate::server::run(
            acceptor,
            app(),
            std::future::pending(),
            Duration::from_secs(1),
        ));
        // One connection for both requests.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .unwrap();

        let response = http.get(format!("{base}/boom")).send().await.unwrap();
        assert_eq!(response.status(), 500);
        assert_eq!(response.headers()["content-type"], "application/json");
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            response.json::<serde_json::Value>().await.unwrap(),
            serde_json::json!({"message": "Internal Server Error", "code": "INTERNAL_SERVER_ERROR"})
        );
        let after = http.get(format!("{base}/fine")).send().await.unwrap();
        assert_eq!(after.status(), 200);
        assert_eq!(after.text().await.unwrap(), "fine");

        let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        let panics: Vec<&str> = log.lines().filter(|l| l.contains("panic")).collect();
        assert_eq!(panics.len(), 1, "{log}");
        assert!(panics[0].contains("ERROR"), "{log}");
        assert!(panics[0].contains(&format!("request_id={id}")), "{log}");
        assert!(panics[0].contains("the handler gave up"), "{log}");
        assert!(panics[0].contains("api/src/panic.rs:"), "{log}");
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("request_id={id}")) && l.contains("status=500")),
            "the response is logged as a 500: {log}"
        );
    }
}
