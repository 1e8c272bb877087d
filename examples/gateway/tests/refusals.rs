//! A flood of refused requests, run against the real binary: every refusal is counted by reason,
//! and the log gets one summary line per interval, never a line per request, and no colour codes
//! when it is a file.
//!
//! The bound checked here: 12,000 refused requests (10,000 to an admin endpoint with a wrong key,
//! 2,000 completions without a key) and 1,000 requests actix-web cannot parse add less than
//! 4 KiB to the log, startup and shutdown lines included. Before, each refused admin request
//! wrote a 221-byte warning (2.2 MB for these) and each malformed request a 121-byte error.

mod support;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    thread,
    time::Duration,
};

use support::Setup;

const CONFIG: &str = r#"
[[providers]]
name = "alpha"
simulated = { latency_median_ms = 5, latency_sigma = 0.0, error_rate = 0.0 }
models = [{ name = "m", input_price_per_million = 1.0, output_price_per_million = 1.0 }]
"#;

/// Sends `request` `n` times, on one keep-alive connection while the gateway keeps it open;
/// returns the statuses seen.
fn flood(addr: SocketAddr, request: &[u8], n: usize) -> Vec<u16> {
    let mut statuses = Vec::with_capacity(n);
    let mut connection: Option<BufReader<TcpStream>> = None;
    for _ in 0..n {
        let reader = connection.get_or_insert_with(|| {
            let stream = TcpStream::connect(addr).unwrap();
            stream.set_nodelay(true).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            BufReader::new(stream)
        });
        reader.get_mut().write_all(request).unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
        let (mut length, mut close) = (0, false);
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let header = line.trim().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(value) = header.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
            close |= header == "connection: close";
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        statuses.push(status);
        if close {
            connection = None;
        }
    }
    statuses
}

#[actix_web::test]
async fn a_flood_of_refusals_is_counted_and_summarised_in_a_bounded_log() {
    let setup = Setup::new(CONFIG);
    let gateway = setup.start(&[]);
    let addr = gateway.addr();
    let log_before = gateway.log().len();
    let admin = b"POST /admin/simulator/alpha HTTP/1.1\r\nHost: gateway\r\n\
        Authorization: Bearer not-the-admin-key\r\nContent-Type: application/json\r\n\
        Content-Length: 16\r\n\r\n{\"outage\": true}";
    let anonymous = b"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n\
        Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    let statuses: Vec<u16> = thread::scope(|scope| {
        let mut threads = Vec::new();
        for _ in 0..4 {
            threads.push(scope.spawn(|| flood(addr, admin, 2_500)));
        }
        threads.push(scope.spawn(|| flood(addr, anonymous, 2_000)));
        // Requests actix-web cannot even parse, answered 400 before any handler.
        threads.push(scope.spawn(|| malformed(addr, 1_000)));
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    });
    assert_eq!(statuses.len(), 12_000);
    assert!(statuses.iter().all(|s| *s == 401), "not all refused");
    let metrics = gateway.metrics().await;
    let refused = |reason| metrics.value("gatewayz_requests_refused_total", &[("reason", reason)]);
    assert_eq!(
        (refused("admin_unauthorized"), refused("unauthenticated")),
        (10_000.0, 2_000.0)
    );
    let log_path = gateway.log_path();
    gateway.stop();
    let log = std::fs::read_to_string(log_path).unwrap();
    let growth = log.len() - log_before;
    eprintln!("12,000 refused and 1,000 malformed requests added {growth} bytes to the log");
    assert!(growth < 4096, "the log grew by {growth} bytes:\n{log}");
    // The summary at shutdown covers what the last interval's did not.
    assert!(
        log.contains("requests refused since the last summary"),
        "{log}"
    );
    let counted = |reason: &str| -> u64 {
        log.lines()
            .filter_map(|line| line.split(&format!("{reason}=")).nth(1))
            .map(|rest| {
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            })
            .sum()
    };
    assert_eq!(
        (counted("admin_unauthorized"), counted("unauthenticated")),
        (10_000, 2_000),
        "{log}"
    );
    // Written to a file, the log has no terminal colour codes.
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file:\n{log}"
    );
}

/// Sends `n` requests with an invalid header line, each on its own connection, and waits for
/// the answer (a 400 from actix-web's parser); returns nothing, as they are not refusals.
fn malformed(addr: SocketAddr, n: usize) -> Vec<u16> {
    for _ in 0..n {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: gateway\r\nX: \x01\r\n\r\n")
            .unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        assert!(
            answer.starts_with(b"HTTP/1.1 400"),
            "{:?}",
            String::from_utf8_lossy(&answer)
        );
    }
    Vec::new()
}
