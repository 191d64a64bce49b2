//! `cardinality-guard proxy`'s command line: its help, its usage and
//! config errors (exit 2, the file, line and key named), a graceful
//! stop on `SIGTERM` (exit 0), a `SIGHUP` without `--config` that
//! leaves it running, and an upstream's failure said on stderr.

mod support;

use std::time::Duration;

use support::upstream::{ProxyProc, Reply, Upstream, PROMETHEUS};

#[test]
fn help_lists_the_proxy_and_its_flags_with_their_defaults() {
    let top = support::cli_ok(&["--help"], 0);
    assert!(top.contains("proxy"), "{top}");
    let help = support::cli_ok(&["proxy", "--help"], 0);
    for flag in [
        "--upstream",
        "--listen",
        "--config",
        "--timeout",
        "[default: 10s]",
        "--max-bytes",
        "[default: 256MiB]",
        "--max-inputs",
        "[default: 1000000]",
        "--staleness",
        "[default: 10m]",
        "--write-timeout",
        "--header-read-timeout",
        "--idle-timeout",
        "[default: 5s]",
        "--max-connections",
        "[default: 1024]",
        "never reads",
        "/debug/cardinality",
        "SIGHUP",
        "counts as new",
    ] {
        assert!(help.contains(flag), "{flag} in\n{help}");
    }
}

#[test]
fn usage_and_config_errors_exit_2_naming_what_is_wrong() {
    let dir = support::scratch("proxy-cli");
    let config = dir.join("guard.toml");
    std::fs::write(&config, "[[metrics]]\nmatch = \"a\"\nmax_series = 0\n").unwrap();
    let config = config.to_str().unwrap();
    let out = support::cli(&[
        "proxy",
        "--upstream",
        "http://127.0.0.1:9/metrics",
        "--listen",
        "127.0.0.1:0",
        "--config",
        config,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("guard.toml:3"), "{stderr}");
    assert!(stderr.contains("max_series"), "{stderr}");

    for args in [
        &["proxy", "--listen", "127.0.0.1:0"][..],
        &["proxy", "--upstream", "ftp://x/", "--listen", "127.0.0.1:0"],
        &[
            "proxy",
            "--upstream",
            "http://x/",
            "--listen",
            "127.0.0.1:0",
            "--timeout",
            "soon",
        ],
        &[
            "proxy",
            "--upstream",
            "http://x/",
            "--listen",
            "127.0.0.1:0",
            "--max-bytes",
            "0",
        ],
        &[
            "proxy",
            "--upstream",
            "http://x/",
            "--listen",
            "not an address",
        ],
        &[
            "proxy",
            "--upstream",
            "http://x/",
            "--listen",
            "127.0.0.1:0",
            "--max-inputs",
            "0",
        ],
    ] {
        let out = support::cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    // A Go-style `:PORT` is named, with what to write instead.
    let out = support::cli(&["proxy", "--upstream", "http://x/", "--listen", ":9464"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("0.0.0.0:9464 (every interface) or 127.0.0.1:9464"),
        "{stderr}"
    );
}

#[test]
fn sigterm_stops_the_proxy_with_exit_0() {
    let upstream = Upstream::start(Reply::Body(200, PROMETHEUS, b"up 1\n".to_vec()));
    let mut proxy = ProxyProc::start(&upstream.url(), &[]);
    assert_eq!(proxy.scrape().value("up{}"), Some(1.0));
    let term = std::process::Command::new("kill")
        .args(["-TERM", &proxy.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(term.success());
    let exited = support::eventually(Duration::from_secs(30), || {
        proxy.child.try_wait().expect("wait")
    });
    assert_eq!(exited.and_then(|status| status.code()), Some(0));
}

#[test]
fn sighup_without_a_config_leaves_the_proxy_running() {
    // `kill -HUP $(pidof cardinality-guard)` (the README's reload) reaches
    // every proxy on the machine, those on the embedded default too: its
    // default action would end them.
    let upstream = Upstream::start(Reply::Body(200, PROMETHEUS, b"up 1\n".to_vec()));
    let listen = format!("127.0.0.1:{}", support::free_port());
    let mut proc = support::spawn("proxy-sighup-no-config", |_| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cardinality-guard"));
        command.args(["proxy", "--upstream", &upstream.url(), "--listen", &listen]);
        command
    });
    // Up: the handler is in place (it is installed before the proxy serves).
    support::wait_until_up(&format!("http://{listen}/debug/cardinality"), &proc);
    for _ in 0..2 {
        let hup = std::process::Command::new("kill")
            .args(["-HUP", &proc.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(hup.success());
    }
    // Handled (said on stderr; two signals may arrive as one), not their
    // default action.
    let ended = support::eventually(support::PATIENCE, || {
        if let Some(status) = proc.child.try_wait().expect("wait") {
            return Some(Some(status));
        }
        proc.log()
            .contains("SIGHUP: no config file to reload")
            .then_some(None)
    });
    let ended = ended.unwrap_or_else(|| panic!("not handled; log:\n{}", proc.log()));
    assert_eq!(ended, None, "the proxy ended on SIGHUP");
    assert!(
        proc.child.try_wait().expect("wait").is_none(),
        "the proxy ended on SIGHUP"
    );
    let scrape = support::get(&format!("http://{listen}/metrics")).expect("it still answers");
    assert!(scrape.lines().any(|l| l == "up 1"), "{scrape}");
}

#[test]
fn a_failed_upstream_scrape_is_said_on_stderr() {
    // While the upstream fails, every scrape of the proxy is a 503: the
    // self-report that counts the failures can't be read, stderr can.
    let upstream = Upstream::start(Reply::Body(404, PROMETHEUS, b"no".to_vec()));
    let port = support::free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let proc = support::spawn("proxy-stderr", |_| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cardinality-guard"));
        command.args(["proxy", "--upstream", &upstream.url(), "--listen", &listen]);
        command
    });
    support::wait_until_up(&format!("http://{listen}/debug/cardinality"), &proc);
    assert_eq!(
        support::get(&format!("http://{listen}/metrics")),
        None,
        "a 503"
    );
    let said = support::eventually(support::PATIENCE, || {
        let log = proc.log();
        log.contains("upstream failed (status)").then_some(log)
    });
    let said = said.unwrap_or_else(|| panic!("not on stderr:\n{}", proc.log()));
    assert!(said.contains("answered HTTP 404"), "{said}");
}
