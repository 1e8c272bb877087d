//! The status page in a real browser: headless Chromium loads `/prometheus/dashboard` from the
//! running example gateway while traffic flows, and the test reads what the page drew. Provider
//! cards, charts and business tiles carry real values; a simulated provider taken down turns
//! its card red within a few refreshes; the page says so when the gateway goes away; and it asks
//! for a token when the summary needs one.
//!
//! The screenshots go to a temporary directory; with `GATEWAYZ_UPDATE_SCREENSHOTS=1` they are
//! also copied to `docs/img/` (the README shows them):
//!
//! ```text
//! GATEWAYZ_UPDATE_SCREENSHOTS=1 cargo test -p gatewayz-gateway --test status_page
//! ```
//!
//! Needs Debian's `chromium` and `chromium-driver` (`cargo xtask test` installs them); without
//! them the tests fail with the command to run.

mod support;

use std::{
    fs,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering::Relaxed},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use gatewayz_testkit::chromium::{Browser, Viewport};
use serde_json::{Value, json};
use support::{Setup, chat};

/// Three simulated providers like the built-in ones, faster, and judged quickly: health ticks
/// and business collection every half second. Each has a model of its own, so each gets
/// traffic whatever the failover order (best score first) prefers for the shared ones.
const CONFIG: &str = r#"
[server]
upstream_timeout_seconds = 10.0
health_tick_seconds = 0.5
business_collect_seconds = 0.5

[[providers]]
name = "anthropic"
simulated = { latency_median_ms = 400, latency_sigma = 0.3, time_to_first_token_ms = 150, tokens_per_second = 400, error_rate = 0.02 }
models = [
    { name = "claude-3.5-sonnet", input_price_per_million = 3.00, output_price_per_million = 15.00 },
    { name = "claude-3-haiku", input_price_per_million = 0.25, output_price_per_million = 1.25 },
]

[[providers]]
name = "cerebras"
simulated = { latency_median_ms = 120, latency_sigma = 0.3, time_to_first_token_ms = 40, tokens_per_second = 2000, error_rate = 0.01 }
models = [
    { name = "llama-3.1-70b", input_price_per_million = 0.60, output_price_per_million = 0.60 },
    { name = "llama-3.1-8b", input_price_per_million = 0.10, output_price_per_million = 0.10 },
]

[[providers]]
name = "openrouter"
simulated = { latency_median_ms = 250, latency_sigma = 0.3, time_to_first_token_ms = 80, tokens_per_second = 800, error_rate = 0.01 }
models = [
    { name = "gpt-4o-mini", input_price_per_million = 0.15, output_price_per_million = 0.60 },
    { name = "claude-3-haiku", input_price_per_million = 0.25, output_price_per_million = 1.25 },
    { name = "llama-3.1-70b", input_price_per_million = 0.40, output_price_per_million = 0.40 },
]
"#;

const PROVIDERS: [&str; 3] = ["anthropic", "cerebras", "openrouter"];
/// Sent round-robin: claude-3.5-sonnet only anthropic serves, llama-3.1-8b only cerebras,
/// gpt-4o-mini only openrouter; the other two go to whichever scores best.
const MODELS: [&str; 5] = [
    "claude-3.5-sonnet",
    "llama-3.1-70b",
    "gpt-4o-mini",
    "claude-3-haiku",
    "llama-3.1-8b",
];
/// The page polls every second here (5 s by default), so "a few refreshes" are a few seconds.
const PAGE: &str = "/prometheus/dashboard?refresh=1";
const SCREENSHOTS_VARIABLE: &str = "GATEWAYZ_UPDATE_SCREENSHOTS";

/// Two browsers and two gateways at once are too much for a small CI machine: one test at a
/// time, so that no refresh is late for want of a core.
static ONE_BROWSER_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Chat completions round [`MODELS`], 20 a second, from a thread of its own (the browser calls
/// block the test's thread); stops when dropped.
struct Traffic {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Traffic {
    fn start(gateway_url: &str, key: &str) -> Traffic {
        let (url, key) = (format!("{gateway_url}/v1/chat/completions"), key.to_owned());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let client = awc::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .finish();
                let mut sent = 0usize;
                while !flag.load(Relaxed) {
                    let body = chat(MODELS[sent % MODELS.len()], sent.is_multiple_of(4));
                    let request = client.post(&url).bearer_auth(&key).send_json(&body);
                    actix_web::rt::spawn(async move {
                        // Read every answer to its end, streams included, as a client does.
                        if let Ok(mut response) = request.await {
                            let _ = response.body().limit(1 << 22).await;
                        }
                    });
                    sent += 1;
                    actix_web::rt::time::sleep(Duration::from_millis(50)).await;
                }
            });
        });
        Traffic {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the page shows of each provider, read from the DOM: the card's data attributes (the
/// raw numbers behind the formatted text), the badge's words and colour.
const READ_CARDS: &str = r#"
return [...document.querySelectorAll('#cards .card')].map((card) => {
  const badge = card.querySelector('.badge');
  const fields = {};
  for (const dd of card.querySelectorAll('dd[data-field]')) fields[dd.dataset.field] = dd.dataset.value;
  return {
    provider: card.dataset.provider,
    status: card.dataset.status,
    badge: badge.textContent.trim(),
    colour: getComputedStyle(badge).backgroundColor,
    border: getComputedStyle(card).borderTopColor,
    fields,
  };
});
"#;

/// Every chart: its id, and per series its number of points and latest value.
const READ_CHARTS: &str = r#"
return [...document.querySelectorAll('#charts figure.chart')].map((figure) => ({
  chart: figure.dataset.chart,
  svg: figure.querySelectorAll('svg').length,
  series: [...figure.querySelectorAll('svg path.line')].map((path) => ({
    name: path.dataset.series,
    points: Number(path.dataset.points),
    length: path.getTotalLength(),
  })),
  latest: Object.fromEntries([...figure.querySelectorAll('.legend li')]
    .map((li) => [li.dataset.series, li.dataset.latest === '' ? null : Number(li.dataset.latest)])),
}));
"#;

const READ_TILES: &str = r#"
return Object.fromEntries([...document.querySelectorAll('.tile')]
  .map((tile) => [tile.dataset.tile, tile.dataset.value === '' ? null : Number(tile.dataset.value)]));
"#;

/// Successful polls since the page loaded, as the page counts them.
const POLLS: &str = "return Number(document.body.dataset.polls || 0)";

/// `rgb(r, g, b)` as numbers.
fn rgb(css: &Value) -> [u8; 3] {
    let text = css.as_str().unwrap_or_default();
    let numbers: Vec<u8> = text
        .trim_start_matches("rgb(")
        .trim_start_matches("rgba(")
        .trim_end_matches(')')
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    numbers
        .get(..3)
        .and_then(|n| n.try_into().ok())
        .unwrap_or_else(|| panic!("not an rgb() colour: {css}"))
}

fn is_red(css: &Value) -> bool {
    let [r, g, b] = rgb(css);
    r > 150 && g < 90 && b < 90
}

fn is_green(css: &Value) -> bool {
    let [r, g, b] = rgb(css);
    g > 100 && r < 90 && b < 90
}

fn number(value: &Value) -> f64 {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| value.as_f64())
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

/// The providers' statuses as the gateway's summary has them now.
async fn published_statuses(gateway: &support::Gateway) -> Value {
    let (status, body) = gateway.get("/prometheus/metrics/summary", None).await;
    assert_eq!(status, 200, "{body}");
    let summary: Value = serde_json::from_str(&body).unwrap();
    summary["metrics"]["providers"]["by_provider"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["provider"].as_str().unwrap().to_owned(),
                p["status"].clone(),
            )
        })
        .collect::<serde_json::Map<String, Value>>()
        .into()
}

/// Console errors, CSP or Trusted Types refusals included; none is expected.
fn assert_quiet_console(browser: &Browser) {
    let console = browser.console();
    let severe: Vec<&String> = console.iter().filter(|l| l.starts_with("SEVERE")).collect();
    assert!(severe.is_empty(), "console errors: {console:#?}");
}

fn updating_screenshots() -> bool {
    std::env::var_os(SCREENSHOTS_VARIABLE).is_some_and(|v| v == "1")
}

/// Checks a PNG's signature and size (from its header), saves it in `dir`, and, when
/// [`SCREENSHOTS_VARIABLE`] is set, in `docs/img/` too.
fn save_screenshot(png: &[u8], name: &str, dir: &Path, width: u32, min_height: u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is not a PNG");
    let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!(size(16), width, "{name}'s width");
    assert!(size(20) >= min_height, "{name} is {} px high", size(20));
    fs::write(dir.join(name), png).unwrap();
    if updating_screenshots() {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/img");
        fs::create_dir_all(&docs).unwrap();
        fs::write(docs.join(name), png).unwrap();
        eprintln!("updated docs/img/{name}");
    }
}

#[test]
fn the_status_page_draws_live_values_and_turns_a_provider_red_when_it_goes_down() {
    let _one = ONE_BROWSER_AT_A_TIME
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    actix_web::rt::System::new().block_on(live_values_and_outage());
}

async fn live_values_and_outage() {
    let setup = Setup::new(CONFIG);
    let key = setup.create_key("paid", 1000.0);
    setup.create_key("trial", 5.0);
    let gateway = setup.start(&[]);
    let traffic = Traffic::start(&gateway.url, &key);

    // The tracker needs a few calls per provider before it judges one: wait for all healthy.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let statuses = published_statuses(&gateway).await;
        if PROVIDERS.iter().all(|p| statuses[*p] == "healthy") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "providers not all healthy after 60 s: {statuses}\n{}",
            gateway.log()
        );
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }

    let browser = Browser::start();
    browser.goto(&format!("{}{PAGE}", gateway.url));
    assert_eq!(browser.eval("return document.title"), "Gatewayz status");

    // Cards: one per provider, healthy in green and in words, with numbers.
    let cards = browser.wait_until(
        "three healthy provider cards",
        &format!(
            "const cards = (() => {{ {READ_CARDS} }})();
             return cards.length === 3 && cards.every((c) => c.status === 'healthy') && cards"
        ),
        Duration::from_secs(30),
    );
    let cards = cards.as_array().unwrap();
    let names: Vec<&str> = cards
        .iter()
        .map(|c| c["provider"].as_str().unwrap())
        .collect();
    assert_eq!(names, PROVIDERS);
    for card in cards {
        assert_eq!(card["badge"], "\u{2713} Healthy", "{card}");
        assert!(is_green(&card["colour"]), "{card}");
        let fields = &card["fields"];
        let score = number(&fields["health_score"]);
        assert!((0.5..=1.0).contains(&score), "{card}");
        assert!(
            (0.0..0.5).contains(&number(&fields["error_rate"])),
            "{card}"
        );
        let p95 = number(&fields["latency_p95_seconds"]);
        assert!((0.01..10.0).contains(&p95), "{card}");
        assert_eq!(fields["circuit_state"], "closed", "{card}");
        assert_eq!(fields["active_anomalies"], "none", "{card}");
        assert!(number(&fields["requests_total"]) >= 10.0, "{card}");
        assert!(number(&fields["cost_usd_total"]) > 0.0, "{card}");
    }

    // Charts: five SVGs, each with a line of several polls per provider (or model).
    let charts = browser.wait_until(
        "every chart with lines of at least three points",
        &format!(
            "const charts = (() => {{ {READ_CHARTS} }})();
             return charts.length === 5
               && charts.every((c) => c.series.length >= 3 && c.series.every((s) => s.points >= 3))
               && charts"
        ),
        Duration::from_secs(30),
    );
    let by_id = |id: &str| -> Value {
        charts
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["chart"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no chart {id}: {charts}"))
    };
    for id in ["requests", "errors", "latency", "cost"] {
        let chart = by_id(id);
        assert_eq!(chart["svg"], 1, "{chart}");
        let series: Vec<&str> = chart["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(series, PROVIDERS, "{chart}");
        for s in chart["series"].as_array().unwrap() {
            assert!(
                s["length"].as_f64().unwrap() > 0.0,
                "an empty line: {chart}"
            );
        }
    }
    // About 20 requests a second in all, a share for each provider: a rate, not a total.
    let requests = by_id("requests");
    let total_rate: f64 = PROVIDERS
        .iter()
        .map(|p| requests["latest"][p].as_f64().unwrap_or(0.0))
        .sum();
    assert!((5.0..60.0).contains(&total_rate), "{requests}");
    for provider in PROVIDERS {
        assert!(
            by_id("latency")["latest"][provider].as_f64().unwrap() > 0.0,
            "{charts}"
        );
    }
    let tokens = by_id("tokens");
    let models: Vec<&str> = tokens["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let mut expected = MODELS.to_vec();
    expected.sort_unstable();
    assert_eq!(models, expected, "{tokens}");

    // Tiles: the business numbers as collected, and what the traffic used.
    let tiles = browser.wait_until(
        "business tiles with the keys counted",
        &format!(
            "const t = (() => {{ {READ_TILES} }})(); return t.active_api_keys >= 2 && t.active_trials >= 1 && t"
        ),
        Duration::from_secs(10),
    );
    assert!(
        tiles["active_subscriptions"].as_f64().unwrap() >= 1.0,
        "{tiles}"
    );
    for tile in ["total_tokens_used", "total_credits_used", "total_cost_usd"] {
        assert!(tiles[tile].as_f64().unwrap() > 0.0, "{tile}: {tiles}");
    }
    assert_eq!(tiles["providers"], 3, "{tiles}");
    // Routing: requests routed, and what routing saved against the reference cost (under the
    // default `spread`, about nothing, either way: a number, not a dash).
    assert!(
        tiles["routing_decisions_total"].as_f64().unwrap() > 0.0,
        "{tiles}"
    );
    assert!(tiles["routing_saved_usd"].as_f64().is_some(), "{tiles}");
    // No trial has ended: the conversion rate and the projection are unknown, not 0 %.
    for tile in ["trial_conversion_rate", "projected_subscriptions"] {
        assert!(
            tiles.get(tile).is_some_and(Value::is_null),
            "{tile}: {tiles}"
        );
    }
    assert_eq!(tiles["subscription_churn_rate"], 0, "{tiles}");
    assert_eq!(browser.eval("return document.body.dataset.state"), "ok");
    assert_eq!(
        browser.eval("return document.getElementById('banner').hidden"),
        true
    );

    // The README's picture deserves a chart axis full of history, not a few seconds of it.
    if updating_screenshots() {
        browser.wait_until(
            "a minute of history",
            "return Number(document.body.dataset.polls) >= 60",
            Duration::from_secs(120),
        );
    }

    // Down goes cerebras: its calls fail (llama-3.1-70b's over to openrouter), five in a row
    // open its circuit, the tracker publishes it unavailable at its next tick, and the page
    // shows it at one of its next polls.
    gateway.simulate("cerebras", json!({"outage": true})).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let statuses = published_statuses(&gateway).await;
        if statuses["cerebras"] == "unavailable" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway never published cerebras unavailable: {statuses}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let published_at = browser.eval(POLLS).as_u64().unwrap();
    let cards = browser.wait_until(
        "the cerebras card to turn unavailable",
        &format!(
            "const cards = (() => {{ {READ_CARDS} }})();
             return cards.find((c) => c.provider === 'cerebras').status === 'unavailable' && cards"
        ),
        Duration::from_secs(10),
    );
    let shown_at = browser.eval(POLLS).as_u64().unwrap();
    // One poll may have been on its way with the old answer; the next one has the news.
    assert!(
        shown_at - published_at <= 3,
        "shown {} polls after it was published",
        shown_at - published_at
    );
    let cerebras = &cards.as_array().unwrap()[1];
    assert_eq!(cerebras["badge"], "\u{2715} Unavailable", "{cerebras}");
    assert!(is_red(&cerebras["colour"]), "not red: {cerebras}");
    assert!(is_red(&cerebras["border"]), "not red: {cerebras}");
    assert_eq!(cerebras["fields"]["circuit_state"], "open", "{cerebras}");
    for other in [&cards[0], &cards[2]] {
        assert!(!is_red(&other["colour"]), "{other}");
    }
    let tiles = browser.eval(READ_TILES);
    assert!(tiles["open_circuits"].as_f64().unwrap() >= 1.0, "{tiles}");
    assert_quiet_console(&browser);

    // A few more polls, so the charts show traffic moving from cerebras to openrouter.
    browser.wait_until(
        "five more polls",
        &format!(
            "return Number(document.body.dataset.polls) >= {}",
            shown_at + 5
        ),
        Duration::from_secs(30),
    );
    let dir = setup.path();
    browser.set_viewport(Viewport::DESKTOP);
    let png = browser.screenshot_full_page();
    save_screenshot(&png, "status-page.png", dir, 1280, 900);

    // At phone width: one column, nothing wider than the screen.
    browser.set_viewport(Viewport::PHONE);
    let layout = browser.wait_until(
        "the phone layout",
        "const cards = [...document.querySelectorAll('.card')];
         return innerWidth === 390 && {
           overflow: document.documentElement.scrollWidth - innerWidth,
           narrowest: Math.min(...cards.map((c) => c.getBoundingClientRect().width)),
         }",
        Duration::from_secs(5),
    );
    assert_eq!(layout["overflow"], 0, "wider than the phone: {layout}");
    assert!(
        layout["narrowest"].as_f64().unwrap() > 300.0,
        "cards not one per row: {layout}"
    );
    let png = browser.screenshot_full_page();
    save_screenshot(&png, "status-page-phone.png", dir, 390, 844);
    browser.set_viewport(Viewport::DESKTOP);
    assert_quiet_console(&browser);

    // The gateway goes away (killed, as in a crash): the page says so, and keeps the last
    // numbers.
    drop(traffic);
    drop(gateway);
    browser.wait_until(
        "the unreachable banner",
        "return document.body.dataset.state === 'unreachable'
           && !document.getElementById('banner').hidden",
        Duration::from_secs(15),
    );
    let banner = browser.eval("return document.getElementById('banner').textContent");
    assert!(
        banner.as_str().unwrap().starts_with("Gateway unreachable"),
        "{banner}"
    );
    let freshness = browser.eval("return document.getElementById('freshness').textContent");
    assert!(
        freshness
            .as_str()
            .unwrap()
            .starts_with("Stale: last update"),
        "{freshness}"
    );
    assert_eq!(
        browser.eval("return document.querySelectorAll('.card').length"),
        3
    );
}

/// Types `token` into the page's token form and submits it.
fn submit_token(browser: &Browser, token: &str) {
    browser.eval(&format!(
        "document.getElementById('login-token').value = {};
         document.getElementById('login-bearer').requestSubmit();",
        json!(token)
    ));
}

#[test]
fn the_page_asks_for_a_token_when_the_summary_needs_one_and_keeps_it_for_the_tab() {
    let _one = ONE_BROWSER_AT_A_TIME
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    const TOKEN: &str = "status-page-token-0123456789";
    let setup = Setup::new(CONFIG);
    // The token is set for this gateway alone: setting it in this process would leak into the
    // other test's gateway.
    let gateway = setup.start_with_env(&[], &[("GATEWAYZ_METRICS_TOKEN", TOKEN)]);
    let browser = Browser::start();
    browser.goto(&format!("{}{PAGE}", gateway.url));

    let login = "return document.body.dataset.state === 'login'
        && !document.getElementById('login').hidden
        && [document.getElementById('login-bearer').hidden,
            document.getElementById('login-basic').hidden,
            document.getElementById('login-reason').textContent]";
    let form = browser.wait_until("the token form", login, Duration::from_secs(15));
    // The gateway challenges for a bearer token only: no user and password fields.
    assert_eq!(
        form,
        json!([false, true, "The summary endpoint asks for credentials."])
    );

    submit_token(&browser, "not-the-token");
    browser.wait_until(
        "the wrong token to be refused",
        "return document.getElementById('login-reason').textContent.includes('refused')
           && !document.getElementById('login').hidden",
        Duration::from_secs(15),
    );
    assert_eq!(
        browser.eval("return sessionStorage.length"),
        0,
        "a refused token is forgotten"
    );

    submit_token(&browser, TOKEN);
    let ready = "return document.body.dataset.state === 'ok'
        && document.getElementById('login').hidden
        && document.querySelectorAll('.card').length";
    // No traffic yet: every provider is there, status unknown.
    let cards = browser.wait_until("the cards", ready, Duration::from_secs(15));
    assert_eq!(cards, 3);
    assert_eq!(
        browser.eval("return [...document.querySelectorAll('.card')].map((c) => c.dataset.status)"),
        json!(["unknown", "unknown", "unknown"])
    );
    assert_eq!(
        browser.eval("return Object.values(sessionStorage)"),
        json!([format!("Bearer {TOKEN}")])
    );

    // A reload in the same tab goes straight to the status.
    browser.goto(&format!("{}{PAGE}", gateway.url));
    let cards = browser.wait_until("the cards after a reload", ready, Duration::from_secs(15));
    assert_eq!(cards, 3);
    // Only the 401s of the summary are logged as errors: nothing failed in the page.
    let console = browser.console();
    let unexpected: Vec<&String> = console
        .iter()
        .filter(|l| l.starts_with("SEVERE") && !l.contains("401"))
        .collect();
    assert!(unexpected.is_empty(), "console errors: {console:#?}");
}
