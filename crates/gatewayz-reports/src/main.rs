//! `gatewayz-reports`: a monthly or quarterly finance report of a fleet, from its Prometheus,
//! as Markdown and self-contained HTML. A thin command over the library; see its docs.

use std::{env, path::PathBuf, process::ExitCode};

use chrono::{DateTime, Utc};
use gatewayz_reports::{Nanos, Period, PrometheusSource, write};

const USAGE: &str = "\
usage: gatewayz-reports --prometheus URL [options]

Writes DIR/gatewayz-report-<period>.md and .html: spend by provider and model, the daily trend,
the change from the previous period, the forecast against the budget, tokens, conversion and
churn, from the increase of the gatewayz counters over the period. All periods are UTC.

options:
  --prometheus URL              the Prometheus server, e.g. http://127.0.0.1:9090 (required)
  --period PERIOD               a month (2026-11) or a quarter (2026-Q4); default: this month
  --out DIR                     where to write the two files; default: the current directory
  --selector MATCHERS           the deployment's series, e.g. 'job=\"gatewayz\"'; default: all
  --monthly-budget DOLLARS      the monthly budget of upstream cost, for the forecast
  --reference-cost-metric NAME  the routing reference-cost counter, for savings from routing
                                (default: the one gatewayz-health records)
  --at RFC3339                  report as of this time rather than now (e.g. 2026-11-15T00:00:00Z)

environment:
  GATEWAYZ_PROMETHEUS_TOKEN     a bearer token, for a Prometheus behind an authenticating proxy
";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let (mut url, mut period, mut out, mut selector, mut budget, mut reference, mut at) =
        (None, None, PathBuf::from("."), None, None, None, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value\n\n{USAGE}"))
        };
        match arg.as_str() {
            "--prometheus" => url = Some(value()?),
            "--period" => period = Some(value()?.parse::<Period>().map_err(|e| e.to_string())?),
            "--out" => out = PathBuf::from(value()?),
            "--selector" => selector = Some(value()?),
            "--monthly-budget" => {
                let text = value()?;
                let dollars: f64 = text
                    .parse()
                    .ok()
                    .filter(|d: &f64| d.is_finite() && *d >= 0.0 && *d < 1e12)
                    .ok_or_else(|| {
                        format!("--monthly-budget must be a number of dollars, not `{text}`")
                    })?;
                budget = Some(Nanos::from_units(dollars));
            }
            "--reference-cost-metric" => reference = Some(value()?),
            "--at" => {
                let text = value()?;
                at = Some(
                    DateTime::parse_from_rfc3339(&text)
                        .map_err(|_| format!("--at must be an RFC 3339 time, not `{text}`"))?
                        .with_timezone(&Utc),
                );
            }
            "--help" | "-h" | "help" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
        }
    }
    let url = url.ok_or_else(|| format!("--prometheus URL is required\n\n{USAGE}"))?;
    let now = at.unwrap_or_else(Utc::now);
    let period = period.unwrap_or_else(|| Period::month_of(now));
    let mut source = PrometheusSource::new(&url);
    if let Some(selector) = &selector {
        source = source.selector(selector);
    }
    if let Some(reference) = &reference {
        source = source.reference_cost_metric(reference);
    }
    if let Ok(token) = env::var("GATEWAYZ_PROMETHEUS_TOKEN") {
        source = source.bearer_token(&token);
    }
    let report = source
        .report(period, now, budget)
        .map_err(|e| e.to_string())?;
    for path in write(&report, &out).map_err(|e| e.to_string())? {
        println!("{}", path.display());
    }
    Ok(())
}
