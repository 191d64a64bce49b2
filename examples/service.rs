//! The example service: a guarded axum app.
//!
//! ```text
//! cargo run --release --example service -- --listen 127.0.0.1:3000 --config guard.toml
//! ```
//! Both flags are optional: the defaults are that address and the embedded config.
//! `--max-connections N` (default 1024) caps the connections served at once;
//! `--header-read-timeout SECS` (default 10) closes connections whose request
//! head is not complete in time, `--write-timeout SECS` (default 10) those
//! whose client does not take a response, `--idle-timeout SECS` (default 5)
//! kept-alive connections without a request. SIGTERM or SIGINT stops it
//! gracefully (exit 0).
//! SIGHUP reloads the `--config` file without a restart
//! (`cardinality_guard::axum::reload_on_sighup`, as an app of your own would
//! call it); a file that can't load keeps the running config (the error,
//! logged on stderr, names file, line and key).

#[path = "shared/app.rs"]
mod app;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cardinality_guard::axum::serve as server;
use cardinality_guard::{Config, PrometheusGuard};

const USAGE: &str = "usage: service [--listen ADDR] [--config FILE] [--max-connections N]
               [--header-read-timeout SECS] [--write-timeout SECS] [--idle-timeout SECS]
  --listen ADDR                address to serve on (default 127.0.0.1:3000)
  --config FILE                guard.toml (default: the embedded config); SIGHUP reloads it
  --max-connections N          connections served at once; more wait (default 1024)
  --header-read-timeout SECS   close a connection whose request head is late (default 10)
  --write-timeout SECS         close a connection whose client does not take a response (default 10)
  --idle-timeout SECS          close a kept-alive connection without a request (default 5)";

struct Args {
    listen: SocketAddr,
    config: Option<String>,
    limits: server::Limits,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
        config: None,
        limits: server::Limits::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                args.listen = v.parse().map_err(|e| format!("--listen {v}: {e}"))?;
            }
            "--config" => args.config = Some(value("--config")?),
            "--max-connections" => {
                let v = value("--max-connections")?;
                args.limits.max_connections = match v.parse() {
                    Ok(n) if n > 0 => n,
                    _ => return Err(format!("--max-connections {v}: a positive number")),
                };
            }
            "--header-read-timeout" => {
                args.limits.header_read_timeout = seconds(&arg, &value(&arg)?)?;
            }
            "--write-timeout" => args.limits.write_timeout = seconds(&arg, &value(&arg)?)?,
            "--idle-timeout" => args.limits.idle_timeout = seconds(&arg, &value(&arg)?)?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// A timeout flag's value: positive seconds, fractions allowed.
fn seconds(flag: &str, v: &str) -> Result<Duration, String> {
    match v.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs.is_finite() => {
            Duration::try_from_secs_f64(secs).map_err(|e| format!("{flag} {v}: {e}"))
        }
        _ => Err(format!("{flag} {v}: positive seconds")),
    }
}

fn main() -> ExitCode {
    // The guard's warnings and the reloads' outcomes, on stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config = match &args.config {
        Some(path) => match Config::from_file(path) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => Config::embedded(),
    };
    match serve(
        args.listen,
        config,
        args.config.map(PathBuf::from),
        args.limits,
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn serve(
    listen: SocketAddr,
    config: Config,
    config_file: Option<PathBuf>,
    limits: server::Limits,
) -> Result<(), Box<dyn std::error::Error>> {
    let shutdown = server::shutdown_signal();
    let exporter = PrometheusGuard::builder(config).install()?;
    #[cfg(unix)]
    match config_file {
        Some(path) => {
            cardinality_guard::axum::reload_on_sighup(path, exporter.guard().clone())?;
        }
        // Nothing to reload: a SIGHUP is noted instead of ending the process.
        None => {
            cardinality_guard::axum::ignore_sighup()?;
        }
    }
    #[cfg(not(unix))]
    let _ = config_file;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let app = app::router(app::Exposition::Guarded(exporter));
    server::serve(listener, app, limits, shutdown).await?;
    Ok(())
}
