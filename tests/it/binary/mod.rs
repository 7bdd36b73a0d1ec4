use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod commands;
mod environment;
mod failures;
mod healthcheck;
mod logging;
mod memory;
mod observability;
mod serve;

fn orgauth() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orgauth"));
    for var in [
        "DATABASE_URL",
        "POSTGRES_URL",
        "HOST",
        "PORT",
        "RUST_LOG",
        "ORGAUTH_LOG_FORMAT",
        "ORGAUTH_AUTO_MIGRATE",
        "ORGAUTH_METRICS_ADDR",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_SERVICE_NAME",
    ] {
        cmd.env_remove(var);
    }
    cmd.env(
        "BETTER_AUTH_SECRET",
        "binary-test-secret-0123456789-0123456789",
    );
    cmd.current_dir(std::env::temp_dir());
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap()
}

fn stdout_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A running server and the lines it logs.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    base: String,
}

fn start(mut cmd: Command) -> Running {
    let child = cmd
        .arg("--port")
        .arg("0")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let mut running = Running {
        child,
        lines,
        base: String::new(),
    };
    let stderr = running.child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let line = running
            .lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the server logs its address");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest
                .split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches('"');
            assert!(
                line.contains(&format!("Swagger UI: http://{addr}/docs")),
                "{line}"
            );
            running.base = format!("http://{addr}");
            return running;
        }
    }
}

impl Running {
    /// Sends SIGTERM and waits for the exit; returns the status and the lines logged meanwhile.
    fn terminate(&mut self) -> (std::process::ExitStatus, Vec<String>) {
        let killed = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(killed.success());
        let status = self.child.wait().unwrap();
        // The reader thread ends at EOF, once the process has exited.
        (status, self.lines.iter().collect())
    }
}

/// A server left running by a failed test is killed, not leaked.
impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}

async fn get_json(url: String) -> serde_json::Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}
