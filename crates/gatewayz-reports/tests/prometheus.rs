//! The Prometheus source against a real Prometheus scraping a target whose counters the test
//! sets: a counter reset (a replica restarting) is counted through, two instances are summed,
//! the selector keeps another job out, customer events take the maximum across instances, and
//! a reference-cost counter that does not exist gives no savings rather than zero.

use std::{
    io::{Read, Write},
    net::TcpListener,
    sync::{Arc, Mutex},
    thread,
    time::Duration,
};

use gatewayz_reports::{Period, PrometheusSource};
use gatewayz_testkit::prometheus::Prometheus;

/// A scrape target serving whatever text the test puts in it.
#[derive(Clone)]
struct Target {
    text: Arc<Mutex<String>>,
    address: String,
}

impl Target {
    fn start() -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let text = Arc::new(Mutex::new(String::new()));
        let served = Arc::clone(&text);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let body = served.lock().unwrap().clone();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Target { text, address }
    }

    /// Cost in dollars and successful requests of one pair; events as the database counts them.
    fn set(&self, cost: f64, requests: u64, converted: u64) {
        *self.text.lock().unwrap() = format!(
            "# TYPE gatewayz_cost_usd_total counter\n\
             gatewayz_cost_usd_total{{provider=\"p\",model=\"m\"}} {cost}\n\
             # TYPE credits_used_total counter\n\
             credits_used_total{{provider=\"p\",model=\"m\"}} {cost}\n\
             # TYPE model_inference_requests_total counter\n\
             model_inference_requests_total{{provider=\"p\",model=\"m\",status=\"success\"}} {requests}\n\
             # TYPE gatewayz_customer_events_total counter\n\
             gatewayz_customer_events_total{{event=\"trial_converted\",plan=\"trial\"}} {converted}\n"
        );
    }
}

/// Waits until Prometheus has scraped `cost` from `target` (whatever the machine's load).
fn scraped(prometheus: &Prometheus, target: &Target, cost: f64) {
    prometheus.wait_for(
        &format!(
            r#"gatewayz_cost_usd_total{{instance="{}"}} == {cost}"#,
            target.address
        ),
        Duration::from_secs(30),
    );
}

#[test]
fn increases_count_through_resets_sum_instances_and_keep_to_the_selector() {
    let (a, b, other) = (Target::start(), Target::start(), Target::start());
    for target in [&a, &b, &other] {
        target.set(0.0, 0, 7);
    }
    let dir = tempfile::tempdir().unwrap();
    let prometheus = Prometheus::start(dir.path(), |_| {
        format!(
            "global: {{scrape_interval: 50ms, scrape_timeout: 50ms}}\nscrape_configs:\n  \
             - job_name: gateway\n    static_configs: [{{targets: ['{}', '{}']}}]\n  \
             - job_name: someone-else\n    static_configs: [{{targets: ['{}']}}]\n",
            a.address, b.address, other.address
        )
    });
    prometheus.wait_for(
        "count(gatewayz_cost_usd_total) == 3",
        Duration::from_secs(30),
    );
    // Flat history first, so the extrapolation at the end stays small.
    thread::sleep(Duration::from_secs(4));
    // Instance a: $5, restarts (back to 0), then $3 more: $8. Instance b: $2. The other job
    // spends $1000, which the selector keeps out. One conversion, seen by both instances of
    // one database.
    a.set(5.0, 5, 8);
    b.set(2.0, 2, 8);
    other.set(1000.0, 1000, 8);
    scraped(&prometheus, &a, 5.0);
    scraped(&prometheus, &b, 2.0);
    scraped(&prometheus, &other, 1000.0);
    a.set(0.0, 0, 8);
    scraped(&prometheus, &a, 0.0);
    a.set(3.0, 3, 8);
    scraped(&prometheus, &a, 3.0);
    // A few flat scrapes after the last change.
    thread::sleep(Duration::from_millis(300));

    let now = chrono::Utc::now();
    let report = PrometheusSource::new(&prometheus.url)
        .selector(r#"job="gateway""#)
        .reference_cost_metric("gatewayz_reference_cost_usd_total")
        .report(Period::month_of(now), now, None)
        .unwrap();
    let cost = report.totals.cost.units();
    assert!(
        (cost - 10.0).abs() < 0.1,
        "cost {cost}, expected $10 (5 + 3 + 2)"
    );
    assert_eq!(report.totals.requests, 10);
    let accounts = report.accounts.unwrap();
    assert_eq!(
        accounts.trials_converted, 1,
        "max across instances, not their sum"
    );
    assert_eq!(report.routing_savings, None);
    assert_eq!(report.by_provider.len(), 1);
    assert!(report.customers.is_none());

    // Without a selector, everything Prometheus has.
    let everything = PrometheusSource::new(&prometheus.url)
        .report(Period::month_of(now), now, None)
        .unwrap();
    assert!(everything.totals.cost.units() > 1000.0);

    // Refusals are explained: a bad selector, a server that is not there.
    let error = PrometheusSource::new(&prometheus.url)
        .selector("job=")
        .report(Period::month_of(now), now, None)
        .unwrap_err()
        .to_string();
    assert!(error.contains("bad_data"), "{error}");
    let error = PrometheusSource::new("http://127.0.0.1:9")
        .report(Period::month_of(now), now, None)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("Prometheus at http://127.0.0.1:9"),
        "{error}"
    );
}
