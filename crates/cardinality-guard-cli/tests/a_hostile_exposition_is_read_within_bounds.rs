//! Whatever the input, `audit` stays bounded (issue 19): `--timeout` bounds
//! reading and parsing (a stalled stream, a flood), memory does not follow
//! a long line (`--max-line-bytes`), an error quotes a few hundred bytes of
//! a malformed line at most, and a metric name longer than a format width
//! (65,535) does not panic the text report.

mod support;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{cli, cli_ok, scratch};

/// A generous bound for an audit that must stop on its own: a test waits
/// this long only when it fails.
const BOUND: Duration = Duration::from_secs(60);

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cardinality-guard"))
}

/// One sample line with `n` labels (`l0="v0",l1="v1",...`).
fn many_labels(n: usize) -> String {
    let mut line = String::from("many_labels{");
    for i in 0..n {
        line.push_str(&format!("l{i}=\"v{i}\","));
    }
    line.push_str("} 1\n");
    line
}

/// Waits for `child` at most [`BOUND`]: its exit code and stderr, or
/// `None` (killed) when it did not stop.
fn wait_bounded(mut child: Child) -> Option<(Option<i32>, String)> {
    let start = Instant::now();
    while start.elapsed() < BOUND {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
            }
            return Some((status.code(), stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn audit_stdin(args: &[&str]) -> Child {
    binary()
        .args(["audit", "-"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs")
}

#[test]
fn timeout_bounds_a_stream_that_stalls_after_100k_labels() {
    let mut child = audit_stdin(&["--timeout", "2s"]);
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(many_labels(100_000).as_bytes())
        .expect("the line is read");
    // The stream stays open and says nothing more.
    let (code, stderr) = wait_bounded(child).expect("the audit stops within its --timeout");
    drop(stdin);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--timeout 2s"), "{stderr}");
}

#[test]
fn timeout_bounds_parsing_a_flood() {
    let mut child = audit_stdin(&["--timeout", "1s", "--max-bytes", "1GiB"]);
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let chunk = many_labels(20).repeat(2000);
        // At most 1 GiB (bounded whatever the binary does): it hangs up first.
        let mut written = 0;
        while written < 1 << 30 && stdin.write_all(chunk.as_bytes()).is_ok() {
            written += chunk.len();
        }
    });
    let (code, stderr) = wait_bounded(child).expect("the audit stops within its --timeout");
    let _ = writer.join();
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--timeout 1s"), "{stderr}");
}

/// Waits for `child`, returning its exit code and peak resident memory
/// (`ru_maxrss`, KiB), which only the reaping `wait4` can tell once it is
/// gone.
#[allow(unsafe_code)] // wait4: the one way to read a finished child's peak memory
fn wait_with_peak_rss(child: &Child) -> (i32, u64) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain out-parameters owned by this frame; `pid` is our child,
    // not reaped elsewhere (the `Child` is never waited on).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, usage.ru_maxrss as u64)
}

#[test]
#[allow(clippy::zombie_processes)] // reaped by wait4, which tells its peak memory too
fn memory_does_not_follow_a_255_mb_line() {
    let mut child = audit_stdin(&[]);
    let mut stdin = child.stdin.take().expect("stdin");
    let stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut { stderr }, &mut text);
        text
    });
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(b"up 1\nhuge{a=\"");
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..255 {
            if stdin.write_all(&chunk).is_err() {
                return;
            }
        }
        let _ = stdin.write_all(b"\"} 1\n");
    });
    let (code, peak_kib) = wait_with_peak_rss(&child);
    let _ = writer.join();
    let stderr = reader.join().expect("stderr");
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("line 2") && stderr.contains("--max-line-bytes"),
        "{stderr}"
    );
    assert!(peak_kib <= 64 * 1024, "peak RSS {peak_kib} KiB");
}

#[test]
fn a_line_longer_than_max_line_bytes_is_named() {
    let dir = scratch("long-line");
    let path = dir.join("metrics.txt");
    let long = format!("long{{a=\"{}\"}} 1\n", "x".repeat(2000));
    std::fs::write(&path, format!("a 1\nb 1\n{long}c 1\n")).expect("write");
    let path = path.display().to_string();
    let out = cli(&["audit", &path, "--max-line-bytes", "1KiB"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("line 3 is longer than 1024 bytes"),
        "{stderr}"
    );
    // Within the bound it reads.
    cli_ok(&["audit", &path, "--max-line-bytes", "4KiB"], 0);
}

#[test]
fn a_malformed_1_mb_line_gets_a_short_error() {
    let dir = scratch("short-error");
    let cases = [
        // A value that is not a number, a name too long to be followed by
        // anything, a timestamp that is none: each quoted by the parser.
        format!("m{{a=\"1\"}} {}\n", "x".repeat(1 << 20)),
        format!("{}é!\n", "n".repeat(1 << 20)),
        format!("m 1 {}\n", "é".repeat(1 << 19)),
    ];
    for (i, line) in cases.iter().enumerate() {
        let path = dir.join(format!("bad{i}.txt"));
        std::fs::write(&path, format!("ok 1\n{line}")).expect("write");
        let out = cli(&["audit", &path.display().to_string()]);
        let stderr = String::from_utf8(out.stderr).expect("UTF-8: cut on a char boundary");
        let start: String = stderr.chars().take(200).collect();
        assert_eq!(out.status.code(), Some(2), "case {i}: {start}");
        assert!(stderr.len() < 1024, "case {i}: {} bytes", stderr.len());
        assert!(stderr.contains("line 2: "), "case {i}: {stderr}");
        assert!(stderr.contains("shortened"), "case {i}: {stderr}");
    }
}

#[test]
fn a_metric_name_longer_than_65535_characters_does_not_panic() {
    let name = "n".repeat(70_000);
    let dir = scratch("long-name");
    let path = dir.join("metrics.txt");
    std::fs::write(&path, format!("{name} 1\nshort 2\n")).expect("write");
    let out = cli_ok(&["audit", &path.display().to_string()], 0);
    assert!(out.contains(&name), "the name is printed whole");
    assert!(out.contains("short"));
}
