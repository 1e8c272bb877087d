//! The ledger report (`gatewayz-gateway report`) against a ledger the test writes itself, with
//! known charges and customer events at known times: every figure checked to the cent, the
//! conversion and churn counted by hand, the forecast of a period in progress, and the HTML
//! opened in headless Chromium (its screenshot in `docs/img/report.png` with
//! `GATEWAYZ_UPDATE_SCREENSHOTS=1`).
//!
//! The periods are in 2024 and the report is made "as of" a fixed time, so the test does not
//! depend on the date it runs.

mod support;

use std::{collections::BTreeMap, path::Path, process::Command};

use gatewayz_gateway::store::Database;
use gatewayz_metrics::Metrics;
use gatewayz_testkit::chromium::Browser;
use rusqlite::{Connection, params};
use serde_json::json;

/// Unix seconds of a UTC date and hour.
fn at(date: &str, hour: i64) -> i64 {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp()
        + hour * 3600
}

const PROVIDERS: [&str; 3] = ["anthropic", "cerebras", "openrouter"];
const MODELS: [&str; 4] = [
    "claude-3.5-sonnet",
    "llama-3.1-70b",
    "gpt-4o-mini",
    "claude-3-haiku",
];
const CUSTOMERS: [&str; 6] = ["acme", "globex", "initech", "umbrella", "hooli", "stark"];

/// One charge the test writes, and later expects to see summed.
#[derive(Debug, Clone)]
struct Known {
    key: usize,
    at: i64,
    provider: &'static str,
    model: &'static str,
    input: i64,
    output: i64,
    cost: i64,
    credits: i64,
}

/// The charges of a month: deterministic, uneven, in nano-dollars no float could sum exactly.
fn month_of_charges(first: &str, days: i64, scale: i64) -> Vec<Known> {
    let mut charges = Vec::new();
    for day in 0..days {
        for (key, _) in CUSTOMERS.iter().enumerate() {
            for (m, model) in MODELS.iter().enumerate() {
                if (day + key as i64 + m as i64) % 3 != 0 {
                    continue;
                }
                let cost =
                    scale * (1_234_567 + 98_765_431 * ((day * 7 + key as i64 * 3 + m as i64) % 11));
                charges.push(Known {
                    key,
                    at: at(first, 0) + day * 86_400 + 3600 * ((day + m as i64) % 24),
                    provider: PROVIDERS[(key + m) % 3],
                    model,
                    input: 100 + 17 * day + key as i64,
                    output: 400 + 31 * m as i64,
                    cost,
                    // Credits at 1.2 per dollar, rounded as the gateway rounds.
                    credits: (cost * 6 + 2) / 5,
                });
            }
        }
    }
    charges
}

/// The same rounding the report promises: to the cent, half away from zero.
fn dollars(nano: i64) -> String {
    let cents = (nano + 5_000_000) / 10_000_000;
    let whole = cents / 100;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(d);
    }
    format!("${grouped}.{:02}", cents % 100)
}

/// Writes the ledger: customers created in August 2024 (four paid, two trials), charges in
/// September and October, and October's customer events.
fn write_ledger(dir: &Path) -> (Vec<Known>, Vec<Known>) {
    drop(Database::open(dir, Metrics::new()).unwrap());
    let db = Connection::open(dir.join("gatewayz.db")).unwrap();
    let created = at("2024-08-15", 9);
    for (i, name) in CUSTOMERS.iter().enumerate() {
        // acme..umbrella paid; hooli and stark trials. umbrella's paid term lapses on Oct 20,
        // initech cancels on Oct 10.
        let plan = if i < 4 { "paid" } else { "trial" };
        // hooli's trial is revoked on Oct 5; stark's runs into 2025.
        let expires: Option<i64> = match *name {
            "umbrella" => Some(at("2024-10-20", 0)),
            "hooli" => Some(at("2024-10-30", 0)),
            "stark" => Some(at("2025-06-01", 0)),
            _ => None,
        };
        let revoked: Option<i64> = match *name {
            "initech" => Some(at("2024-10-10", 12)),
            "hooli" => Some(at("2024-10-05", 0)),
            _ => None,
        };
        db.execute(
            "INSERT INTO api_keys (key_hash, prefix, name, plan, credits_nano, created_at, expires_at, revoked_at)
             VALUES (?1, ?2, ?3, ?4, 100000000000, ?5, ?6, ?7)",
            params![format!("hash-{i}"), format!("gwz_{name:.6}"), name, plan, created, expires, revoked],
        )
        .unwrap();
    }
    let september = month_of_charges("2024-09-01", 30, 1);
    // October costs about twice as much, plus charges that test the rounding: half a cent
    // alone, and three thirds of a dollar.
    let mut october = month_of_charges("2024-10-01", 31, 2);
    for (model, cost) in [
        ("half-a-cent", 5_000_000),
        ("thirds", 333_333_333),
        ("thirds", 333_333_333),
        ("thirds", 333_333_333),
    ] {
        october.push(Known {
            key: 0,
            at: at("2024-10-31", 23),
            provider: "openrouter",
            model,
            input: 1,
            output: 1,
            cost,
            credits: cost,
        });
    }
    for c in september.iter().chain(&october) {
        db.execute(
            "INSERT INTO usage (key_id, at, provider, model, input_tokens, output_tokens, cost_nano, credits_nano)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![c.key as i64 + 1, c.at, c.provider, c.model, c.input, c.output, c.cost, c.credits],
        )
        .unwrap();
    }
    // October: two new trials (one converts, one lapses), one new paid key, hooli's trial is
    // revoked (a cancelled trial), initech cancels, umbrella lapses, a top-up and an exhaustion.
    let event = |key: i64, when: i64, event: &str, plan: &str, credits: i64| {
        db.execute(
            "INSERT INTO events (key_id, at, event, plan, credits_nano) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![key, when, event, plan, credits],
        )
        .unwrap();
    };
    for (i, name) in ["ember", "flint", "gale"].iter().enumerate() {
        let plan = if *name == "gale" { "paid" } else { "trial" };
        let when = at("2024-10-03", i as i64);
        // As the rows stand after the events below: ember converted, flint expired.
        let (now_plan, expires) = match *name {
            "ember" => ("paid", None),
            "flint" => ("trial", Some(at("2024-10-24", 0))),
            _ => ("paid", None),
        };
        db.execute(
            "INSERT INTO api_keys (key_hash, prefix, name, plan, credits_nano, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, 1000000000, ?5, ?6)",
            params![format!("new-{i}"), format!("gwz_{name}"), name, now_plan, when, expires],
        )
        .unwrap();
        let id = db.last_insert_rowid();
        event(id, when, "key_created", plan, 1_000_000_000);
        if plan == "trial" {
            event(id, when, "trial_started", "trial", 0);
        }
        match *name {
            "ember" => event(id, at("2024-10-17", 0), "trial_converted", "trial", 0),
            "flint" => event(id, at("2024-10-24", 0), "lapsed", "trial", 0),
            _ => {}
        }
    }
    event(5, at("2024-10-05", 0), "cancelled", "trial", 0);
    event(5, at("2024-10-05", 0), "key_revoked", "trial", 0);
    event(3, at("2024-10-10", 12), "cancelled", "paid", 0);
    event(3, at("2024-10-10", 12), "key_revoked", "paid", 0);
    event(4, at("2024-10-20", 0), "lapsed", "paid", 0);
    event(
        1,
        at("2024-10-12", 0),
        "credits_topped_up",
        "paid",
        25_500_000_000,
    );
    event(2, at("2024-10-13", 0), "credits_exhausted", "paid", 0);
    (september, october)
}

fn report(dir: &Path, out: &Path, args: &[&str]) -> std::process::Output {
    Command::new(support::binary())
        .arg("--data-dir")
        .arg(dir)
        .arg("report")
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .unwrap()
}

/// The last Markdown table row that starts with `| first |` (the summary's, for a figure
/// that is also among the key figures above it).
fn row<'a>(md: &'a str, first: &str) -> Vec<&'a str> {
    let line = md
        .lines()
        .rev()
        .find(|l| l.starts_with(&format!("| {first} |")))
        .unwrap_or_else(|| panic!("no row `{first}` in\n{md}"));
    line.trim_matches('|').split(" | ").map(str::trim).collect()
}

fn sums<F: Fn(&Known) -> String>(
    charges: &[Known],
    by: F,
) -> BTreeMap<String, (i64, i64, i64, i64)> {
    let mut out: BTreeMap<String, (i64, i64, i64, i64)> = BTreeMap::new();
    for c in charges {
        let entry = out.entry(by(c)).or_default();
        entry.0 += c.cost;
        entry.1 += 1;
        entry.2 += c.input;
        entry.3 += c.output;
    }
    out
}

#[test]
fn the_ledger_report_matches_known_charges_to_the_cent() {
    let data = tempfile::tempdir().unwrap();
    let (september, october) = write_ledger(data.path());
    let out = tempfile::tempdir().unwrap();
    let output = report(
        data.path(),
        out.path(),
        &[
            "--period",
            "2024-10",
            "--monthly-budget",
            "150",
            "--at",
            "2025-01-01T00:00:00Z",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let md = std::fs::read_to_string(out.path().join("gatewayz-report-2024-10.md")).unwrap();

    // Hand-checked: half a cent rounds up, three thirds of a dollar make $1.00.
    assert_eq!(row(&md, "half-a-cent")[1], "$0.01", "{md}");
    assert_eq!(row(&md, "thirds")[1], "$1.00");
    assert_eq!(row(&md, "thirds")[3], "3");

    let total: i64 = october.iter().map(|c| c.cost).sum();
    let before: i64 = september.iter().map(|c| c.cost).sum();
    let credits: i64 = october.iter().map(|c| c.credits).sum();
    let summary = row(&md, "Upstream cost");
    assert_eq!(summary[1], dollars(total));
    assert_eq!(summary[2], dollars(before));
    assert_eq!(
        summary[3],
        format!("+{:.1}%", (total - before) as f64 / before as f64 * 100.0)
    );
    let credits_row = row(&md, "Credits charged");
    assert_eq!(credits_row[1], dollars(credits).trim_start_matches('$'));
    assert_eq!(row(&md, "Requests")[1], october.len().to_string());

    for (provider, (cost, requests, input, output)) in sums(&october, |c| c.provider.into()) {
        let cells = row(&md, &provider);
        let previous = sums(&september, |c| c.provider.into())[&provider].0;
        assert_eq!(cells[1], dollars(cost), "{provider}");
        assert_eq!(cells[3], requests.to_string(), "{provider}");
        assert_eq!(
            cells[4].replace(',', ""),
            (input + output).to_string(),
            "{provider}"
        );
        assert_eq!(cells[5], dollars(previous), "{provider}");
    }
    for (model, (cost, requests, input, output)) in sums(&october, |c| c.model.into()) {
        let cells = row(&md, &model);
        assert_eq!(cells[1], dollars(cost), "{model}");
        assert_eq!(cells[3], requests.to_string());
        assert_eq!(cells[4].replace(',', ""), input.to_string());
        assert_eq!(cells[5].replace(',', ""), output.to_string());
    }
    // Customers: by credits charged; the top one's figures exact.
    let per_customer = sums(&october, |c| CUSTOMERS[c.key].into());
    let credits_of = |name: &str| -> i64 {
        october
            .iter()
            .filter(|c| CUSTOMERS[c.key] == name)
            .map(|c| c.credits)
            .sum()
    };
    let mut ranked: Vec<&str> = CUSTOMERS.to_vec();
    ranked.sort_by_key(|name| std::cmp::Reverse(credits_of(name)));
    let top = row(&md, ranked[0]);
    assert_eq!(
        top[3],
        dollars(credits_of(ranked[0])).trim_start_matches('$')
    );
    assert_eq!(top[5], dollars(per_customer[ranked[0]].0));
    let order: Vec<&str> = md
        .lines()
        .filter(|l| CUSTOMERS.iter().any(|c| l.starts_with(&format!("| {c} |"))))
        .map(|l| l.split(" | ").next().unwrap().trim_start_matches("| "))
        .collect();
    assert_eq!(order, ranked);
    // A day, exactly.
    let october_7: i64 = october
        .iter()
        .filter(|c| c.at >= at("2024-10-07", 0) && c.at < at("2024-10-08", 0))
        .map(|c| c.cost)
        .sum();
    assert_eq!(row(&md, "2024-10-07")[1], dollars(october_7));
    assert_eq!(
        md.lines().filter(|l| l.starts_with("| 2024-10-")).count(),
        31
    );

    // Customer events, counted by hand from what `write_ledger` wrote.
    let figures = [
        ("Trials started", "2"),
        ("Trials converted to paid", "1"),
        // ember converted, flint lapsed, hooli's trial revoked.
        ("Trials ended (converted, lapsed or revoked)", "3"),
        ("Trial conversion rate", "33.3%"),
        // acme, globex, initech, umbrella.
        ("Paid subscriptions at the start", "4"),
        // gale, and ember's conversion.
        ("Paid subscriptions started", "2"),
        // initech cancelled, umbrella lapsed.
        ("Paid subscriptions ended (cancelled or lapsed)", "2"),
        ("Churn (ended over active at the start)", "50.0%"),
        ("Net paid growth", "+0"),
        ("Keys created", "3"),
        ("Top-ups", "1 (25.50 credits)"),
        ("Keys that ran out of credits", "1"),
    ];
    for (label, value) in figures {
        assert_eq!(row(&md, label)[1], value, "{label}");
    }
    // Over: no forecast, the spend against the budget.
    assert!(!md.contains("Forecast at period end"));
    assert_eq!(
        row(&md, "Spend vs budget")[1],
        format!("{:.1}%", total as f64 / 150e9 * 100.0)
    );
    assert!(md.contains("All dates and times in this report are UTC"));
    assert!(
        !md.contains("Savings from routing"),
        "the ledger has no reference cost"
    );
}

#[test]
fn a_quarter_in_progress_is_forecast_at_its_average_rate() {
    let data = tempfile::tempdir().unwrap();
    let (_, october) = write_ledger(data.path());
    let out = tempfile::tempdir().unwrap();
    // Q4 2024 as of November 16: 46 of 92 days, exactly half.
    let output = report(
        data.path(),
        out.path(),
        &[
            "--period",
            "2024-Q4",
            "--monthly-budget",
            "50",
            "--at",
            "2024-11-16T00:00:00Z",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let md = std::fs::read_to_string(out.path().join("gatewayz-report-2024-Q4.md")).unwrap();
    let total: i64 = october.iter().map(|c| c.cost).sum();
    assert_eq!(row(&md, "Forecast at period end")[1], dollars(total * 2));
    // A quarter's budget is three months': $150.
    assert_eq!(
        row(&md, "Forecast vs budget")[1],
        format!("{:.1}%", (total * 2) as f64 / 150e9 * 100.0)
    );
    assert!(md.contains("(50.0% of it)"), "{md}");
    // Only the days that have begun.
    assert_eq!(md.lines().filter(|l| l.starts_with("| 2024-1")).count(), 46);
}

#[test]
fn bad_periods_budgets_and_directories_are_refused_with_a_reason() {
    let data = tempfile::tempdir().unwrap();
    write_ledger(data.path());
    let out = tempfile::tempdir().unwrap();
    for (args, says) in [
        (vec!["--period", "2024-13"], "YYYY-MM"),
        (vec!["--period", "2024-Q5"], "YYYY-Qn"),
        (
            vec!["--period", "2030-01", "--at", "2025-01-01T00:00:00Z"],
            "has not begun",
        ),
        (vec!["--monthly-budget", "-3"], "--monthly-budget"),
        (vec!["--at", "yesterday"], "RFC 3339"),
    ] {
        let output = report(data.path(), out.path(), &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let empty = tempfile::tempdir().unwrap();
    let output = report(&empty.path().join("nothing"), out.path(), &[]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("no gateway database"));
}

#[test]
fn the_html_report_is_self_contained_and_opens_in_a_browser() {
    let data = tempfile::tempdir().unwrap();
    write_ledger(data.path());
    let out = tempfile::tempdir().unwrap();
    let output = report(
        data.path(),
        out.path(),
        &[
            "--period",
            "2024-10",
            "--monthly-budget",
            "150",
            "--at",
            "2024-10-25T12:00:00Z",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = out.path().join("gatewayz-report-2024-10.html");
    let html = std::fs::read_to_string(&path).unwrap();
    // Nothing to fetch: no script, no external URL.
    for needle in ["<script", "src=", "href=", "@import", "url("] {
        assert!(!html.contains(needle), "the report contains `{needle}`");
    }

    let browser = Browser::start();
    browser.goto(&format!("file://{}", path.display()));
    let seen = browser.eval(
        "return [document.title,
                 document.querySelectorAll('svg.chart').length,
                 document.querySelectorAll('svg.chart rect.bar').length > 30,
                 document.querySelectorAll('.figure').length,
                 [...document.querySelectorAll('h2')].map((h) => h.textContent)]",
    );
    assert_eq!(
        seen,
        json!([
            "Gatewayz report: October 2024 (2024-10)",
            // Spend per day, spend so far, by provider, by model.
            4,
            true,
            7,
            [
                "Key figures",
                "Summary, against September 2024",
                "Forecast and budget",
                "Daily trend",
                "Spend by provider",
                "Spend and tokens by model",
                "Top customers",
                "Conversion and churn"
            ]
        ])
    );
    // The budget line and the dashed forecast are drawn.
    assert_eq!(
        browser.eval("return [document.querySelectorAll('line.budget').length, document.querySelectorAll('line.forecast').length]"),
        json!([1, 1])
    );
    let console = browser.console();
    assert!(
        console.iter().all(|l| !l.starts_with("SEVERE")),
        "console errors: {console:#?}"
    );
    let png = browser.screenshot_full_page();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    if std::env::var_os("GATEWAYZ_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        let docs = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/img");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join("report.png"), &png).unwrap();
        eprintln!("updated docs/img/report.png");
    }
}
