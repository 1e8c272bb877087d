//! The two report sources on the same live traffic: two gateway replicas on one database,
//! scraped by a real Prometheus, agree within 1%.
//!
//! The ledger report reads the database (exact); the Prometheus report reads the counters'
//! `increase` over the month, summed across the replicas, and the customer events with `max`
//! across them (both replicas export the same database totals: a sum would double them).
//! Prometheus scrapes every 50 ms and has a few seconds of flat series before the traffic:
//! `increase` extrapolates its last sample to the end of the range, which over a few seconds
//! of history is worth up to (scrape interval ÷ history) of the total; over a month it is
//! nothing. Every pair the gateways route exists at zero before its first call, so no first
//! request is lost between a series' birth and its first scrape.
//!
//! About 20 seconds: Prometheus needs history on both sides of the traffic (six seconds before
//! it keeps the extrapolation below half a percent).

mod support;

use std::time::{Duration, Instant};

use gatewayz_gateway::{report::ledger_report, store::Database};
use gatewayz_metrics::Metrics;
use gatewayz_reports::{Period, PrometheusSource, Report, Totals};
use gatewayz_testkit::prometheus::Prometheus;
use serde_json::json;
use support::{Gateway, Setup};

const CONFIG: &str = r#"
[server]
business_collect_seconds = 0.2

[[providers]]
name = "anthropic"
simulated = { latency_median_ms = 5, latency_sigma = 0.1, time_to_first_token_ms = 2, tokens_per_second = 20000, error_rate = 0.0 }
models = [{ name = "claude-3.5-sonnet", input_price_per_million = 3.00, output_price_per_million = 15.00 }]

[[providers]]
name = "openrouter"
simulated = { latency_median_ms = 5, latency_sigma = 0.1, time_to_first_token_ms = 2, tokens_per_second = 20000, error_rate = 0.0 }
models = [
    { name = "gpt-4o-mini", input_price_per_million = 0.15, output_price_per_million = 0.60 },
    { name = "llama-3.1-8b", input_price_per_million = 0.05, output_price_per_million = 0.05 },
]
"#;

const MODELS: [&str; 3] = ["claude-3.5-sonnet", "gpt-4o-mini", "llama-3.1-8b"];

/// Whether `a` is within 1% of `b`.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 0.01 * b.abs().max(f64::MIN_POSITIVE)
}

fn assert_close(what: &str, prometheus: f64, ledger: f64) {
    assert!(
        ledger > 0.0 && close(prometheus, ledger),
        "{what}: Prometheus {prometheus}, ledger {ledger}"
    );
}

fn assert_totals(what: &str, prometheus: &Totals, ledger: &Totals) {
    assert_close(
        &format!("{what} cost"),
        prometheus.cost.units(),
        ledger.cost.units(),
    );
    assert_close(
        &format!("{what} credits"),
        prometheus.credits.units(),
        ledger.credits.units(),
    );
    assert_close(
        &format!("{what} requests"),
        prometheus.requests as f64,
        ledger.requests as f64,
    );
    assert_close(
        &format!("{what} input tokens"),
        prometheus.input_tokens as f64,
        ledger.input_tokens as f64,
    );
    assert_close(
        &format!("{what} output tokens"),
        prometheus.output_tokens as f64,
        ledger.output_tokens as f64,
    );
}

async fn traffic(gateways: &[&Gateway], keys: &[&str], requests: usize) {
    for i in 0..requests {
        let gateway = gateways[i % gateways.len()];
        let key = keys[i % keys.len()];
        let body = json!({
            "model": MODELS[i % MODELS.len()],
            "stream": i % 3 == 0,
            "messages": [{"role": "user", "content": format!("Request number {i}, please.")}]
        });
        if i % 3 == 0 {
            let streamed = support::stream(gateway, key, body, || {}).await;
            assert_eq!(streamed.status, 200);
        } else {
            let reply = gateway.complete(key, body).await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
        }
    }
}

#[test]
fn the_prometheus_report_agrees_with_the_ledger_within_one_percent() {
    actix_web::rt::System::new().block_on(async {
        let setup = Setup::new(CONFIG);
        let paid = setup.create_key("paid", 1000.0);
        let trial = setup.create_key("trial", 1000.0);
        // Two replicas on one database.
        let first = setup.start(&["--replica", "gw-1"]);
        let second = setup.start(&["--replica", "gw-2"]);
        let prometheus_dir = tempfile::tempdir().unwrap();
        let targets = [&first, &second]
            .map(|g| format!("'{}'", g.url.trim_start_matches("http://")))
            .join(", ");
        let prometheus = Prometheus::start(prometheus_dir.path(), |_| {
            format!(
                "global: {{scrape_interval: 50ms, scrape_timeout: 50ms, evaluation_interval: 1s}}\n\
                 scrape_configs:\n  - job_name: gatewayz\n    metrics_path: /prometheus/metrics/all\n    \
                 static_configs: [{{targets: [{targets}]}}]\n"
            )
        });
        // History before the traffic: both replicas scraped, every routed pair at zero.
        prometheus.wait_for(
            r#"count(gatewayz_cost_usd_total{job="gatewayz"}) == 6"#,
            Duration::from_secs(30),
        );
        actix_web::rt::time::sleep(Duration::from_secs(6)).await;

        let started = Instant::now();
        traffic(&[&first, &second], &[&paid, &trial], 60).await;
        // Customer events while Prometheus watches: a conversion and a top-up.
        let trial_prefix: String = trial.chars().take(10).collect();
        let paid_prefix: String = paid.chars().take(10).collect();
        setup.keys(&["convert", &trial_prefix]);
        setup.keys(&["top-up", &paid_prefix, "--credits", "12.5"]);
        traffic(&[&first, &second], &[&paid, &trial], 60).await;
        eprintln!("traffic took {:?}", started.elapsed());
        // Let the last charges' series and the events' collection be scraped.
        prometheus.wait_for(
            r#"max(gatewayz_customer_events_total{job="gatewayz", event="trial_converted"}) == 1"#,
            Duration::from_secs(15),
        );
        actix_web::rt::time::sleep(Duration::from_secs(1)).await;

        let now = chrono::Utc::now();
        let period = Period::month_of(now);
        let from_prometheus: Report = PrometheusSource::new(&prometheus.url)
            .selector(r#"job="gatewayz""#)
            // Not exported by these gateways: the report must show no savings, not zero.
            .reference_cost_metric("gatewayz_test_reference_cost_usd_total")
            .report(period, now, None)
            .unwrap();
        let mut db = Database::open(&setup.data(), Metrics::new()).unwrap();
        let from_ledger = ledger_report(&mut db, "test", period, now, None).unwrap();

        assert_totals("total", &from_prometheus.totals, &from_ledger.totals);
        for (label, prometheus_lines, ledger_lines) in [
            ("provider", &from_prometheus.by_provider, &from_ledger.by_provider),
            ("model", &from_prometheus.by_model, &from_ledger.by_model),
        ] {
            let names = |lines: &[gatewayz_reports::Line]| {
                let mut names: Vec<String> = lines.iter().map(|l| l.name.clone()).collect();
                names.sort();
                names
            };
            assert_eq!(names(prometheus_lines), names(ledger_lines), "{label}s");
            for line in ledger_lines {
                let other = prometheus_lines.iter().find(|l| l.name == line.name).unwrap();
                assert_totals(&format!("{label} {}", line.name), &other.totals, &line.totals);
            }
        }
        let today = |report: &Report| report.daily.last().map(|d| (d.date, d.cost.units()));
        let (day, prometheus_today) = today(&from_prometheus).unwrap();
        let (ledger_day, ledger_today) = today(&from_ledger).unwrap();
        assert_eq!(day, ledger_day);
        assert_close("today's cost", prometheus_today, ledger_today);

        // Events made under Prometheus's eye: once, not once per replica.
        let events = from_prometheus.accounts.expect("the gateways export events");
        let ledger_events = from_ledger.accounts.unwrap();
        assert_eq!(events.trials_converted, 1);
        assert_eq!(ledger_events.trials_converted, 1);
        assert_eq!(events.top_ups, 1);
        assert_eq!(ledger_events.credits_topped_up.credits(), "12.50");
        assert_close(
            "credits topped up",
            events.credits_topped_up.units(),
            ledger_events.credits_topped_up.units(),
        );
        // What only the ledger knows.
        assert!(from_prometheus.customers.is_none());
        assert_eq!(from_ledger.customers.as_ref().unwrap().len(), 2);
        assert_eq!(from_prometheus.routing_savings, None);
        let markdown = gatewayz_reports::markdown(&from_prometheus);
        assert!(markdown.contains("Customers are not in Prometheus"));
        assert!(!markdown.contains("Savings from routing"));
        first.stop();
        second.stop();
    });
}
