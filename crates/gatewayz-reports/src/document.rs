//! What a report says, as a list of blocks (headings, paragraphs, figures, tables, charts) that
//! the Markdown and HTML renderers each write out: the wording and the numbers exist once.

use chrono::{DateTime, NaiveDate, Utc};

use crate::{
    Nanos, Report, Source,
    money::thousands,
    report::{Line, Totals, change},
};

/// How many customers the report lists.
pub(crate) const TOP_CUSTOMERS: usize = 10;

/// One part of the document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    /// A heading, level 1 or 2.
    Heading(u8, String),
    /// Plain text.
    Paragraph(String),
    /// The headline numbers: label, value, note.
    Figures(Vec<Figure>),
    /// A table; columns of numbers are right-aligned (see [`numeric`]).
    Table {
        columns: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A chart (HTML only: the tables beside it hold the same numbers).
    Chart(Chart),
}

/// A headline number.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Figure {
    pub(crate) label: String,
    pub(crate) value: String,
    pub(crate) note: String,
}

/// A chart's data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Chart {
    /// Horizontal bars: name, value (for the scale), value as shown.
    Bars {
        title: String,
        bars: Vec<(String, f64, String)>,
    },
    /// Spend per day, and spend so far against the budget and the forecast.
    Daily {
        title: String,
        days: Vec<(NaiveDate, f64)>,
        /// Days in the whole period (the axis spans it, days to come included).
        period_days: usize,
        budget: Option<f64>,
        forecast: Option<f64>,
    },
}

fn minute(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn count(n: u64) -> String {
    thousands(n)
}

fn percent(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

fn signed_percent(ratio: Option<f64>) -> String {
    match ratio {
        Some(r) if r >= 0.0 => format!("+{:.1}%", r * 100.0),
        Some(r) => format!("{:.1}%", r * 100.0),
        None => "n/a".into(),
    }
}

/// Share of `part` in `whole`, or a dash.
fn share(part: Nanos, whole: Nanos) -> String {
    if whole.0 > 0 {
        percent(part.0 as f64 / whole.0 as f64)
    } else {
        "-".into()
    }
}

/// Whether a column holds numbers (money, counts, shares, changes), judged by its cells: they
/// are right-aligned, text left-aligned.
pub(crate) fn numeric(rows: &[Vec<String>], column: usize) -> bool {
    column > 0
        && rows.iter().all(|row| {
            row.get(column).is_none_or(|cell| {
                cell == "n/a"
                    || cell == "-"
                    || cell
                        .trim_start_matches(['-', '+', '<', '$'])
                        .starts_with(|c: char| c.is_ascii_digit())
            })
        })
}

/// The blocks of `report`, in reading order.
pub(crate) fn blocks(report: &Report) -> Vec<Block> {
    let mut out = Vec::new();
    let period = report.period;
    let previous = period.previous();
    out.push(Block::Heading(
        1,
        format!("Gatewayz report: {} ({period})", period.title()),
    ));
    let progress = if report.in_progress() {
        let elapsed = report
            .forecast()
            .map_or(0.0, |f| f.elapsed_millionths as f64 / 10_000.0);
        format!(
            "The period is in progress: the figures run to {} ({elapsed:.1}% of it).",
            minute(report.as_of)
        )
    } else {
        "The period is over: the figures are final for this source.".into()
    };
    out.push(Block::Paragraph(format!(
        "Period: {} 00:00 UTC to {} 00:00 UTC ({} days). All dates and times in this report are \
         UTC. {progress}",
        period.start(),
        period.end(),
        period.days()
    )));
    out.push(Block::Paragraph(match &report.source {
        Source::Ledger { database } => format!(
            "Source: the gateway's ledger ({database}): every charge as written, exact to the \
             nano-dollar and rounded to the cent here. It covers the gateway (or the replicas) \
             using this database only."
        ),
        Source::Prometheus { url, selector } => format!(
            "Source: Prometheus at {url}, series matching {{{selector}}}: every instance, from \
             the counters' increase over the period (counter resets handled; extrapolation at \
             the edges adds or misses at most a scrape interval's worth). Customers are not in \
             Prometheus."
        ),
    }));

    out.push(Block::Heading(2, "Key figures".into()));
    let totals = &report.totals;
    let mut figures = vec![
        Figure {
            label: "Upstream cost".into(),
            value: totals.cost.dollars(),
            note: format!(
                "{} vs {}",
                signed_percent(change(totals.cost.0, report.previous.map(|p| p.cost.0))),
                previous.title()
            ),
        },
        Figure {
            label: "Credits charged".into(),
            value: totals.credits.credits(),
            note: "to customers' keys".into(),
        },
        Figure {
            label: "Requests".into(),
            value: count(totals.requests),
            note: format!("{} tokens", count(totals.tokens())),
        },
    ];
    if let Some(forecast) = report.forecast() {
        figures.push(Figure {
            label: "Forecast at period end".into(),
            value: forecast.spend.dollars(),
            note: "at the average rate so far".into(),
        });
    }
    if let Some(budget) = report.budget() {
        figures.push(Figure {
            label: if report.in_progress() {
                "Forecast vs budget".into()
            } else {
                "Spend vs budget".into()
            },
            value: share(report.expected_spend(), budget),
            note: format!("of {}", budget.dollars()),
        });
    }
    if let Some(accounts) = &report.accounts {
        figures.push(Figure {
            label: "Trial conversion".into(),
            value: accounts.conversion_rate().map_or("n/a".into(), percent),
            note: format!(
                "{} of {} trials ended",
                accounts.trials_converted, accounts.trials_ended
            ),
        });
        figures.push(Figure {
            label: "Churn".into(),
            value: accounts.churn_rate().map_or("n/a".into(), percent),
            note: format!("{} paid subscriptions ended", accounts.subscriptions_ended),
        });
    }
    out.push(Block::Figures(figures));

    out.push(Block::Heading(
        2,
        format!("Summary, against {}", previous.title()),
    ));
    let before = report.previous.as_ref();
    let row = |label: &str, now: String, then: Option<String>, delta: Option<f64>| {
        vec![
            label.to_owned(),
            now,
            then.unwrap_or_else(|| "n/a".into()),
            signed_percent(delta),
        ]
    };
    let totals_rows: Vec<Vec<String>> = vec![
        row(
            "Upstream cost",
            totals.cost.dollars(),
            before.map(|p| p.cost.dollars()),
            change(totals.cost.0, before.map(|p| p.cost.0)),
        ),
        row(
            "Credits charged",
            totals.credits.credits(),
            before.map(|p| p.credits.credits()),
            change(totals.credits.0, before.map(|p| p.credits.0)),
        ),
        row(
            "Requests",
            count(totals.requests),
            before.map(|p| count(p.requests)),
            change(totals.requests as i64, before.map(|p| p.requests as i64)),
        ),
        row(
            "Input tokens",
            count(totals.input_tokens),
            before.map(|p| count(p.input_tokens)),
            change(
                totals.input_tokens as i64,
                before.map(|p| p.input_tokens as i64),
            ),
        ),
        row(
            "Output tokens",
            count(totals.output_tokens),
            before.map(|p| count(p.output_tokens)),
            change(
                totals.output_tokens as i64,
                before.map(|p| p.output_tokens as i64),
            ),
        ),
    ];
    out.push(Block::Table {
        columns: vec![
            String::new(),
            period.title(),
            previous.title(),
            "Change".into(),
        ],
        rows: totals_rows,
    });
    if report.in_progress() {
        out.push(Block::Paragraph(format!(
            "{} is compared whole with {} so far: expect this period's figures to grow until it \
             ends.",
            previous.title(),
            period.title()
        )));
    }

    out.push(Block::Heading(2, "Forecast and budget".into()));
    let mut words = Vec::new();
    match report.forecast() {
        Some(forecast) => words.push(format!(
            "At the average rate so far, spend at the end of {} would be {} ({} so far).",
            period.title(),
            forecast.spend.dollars(),
            totals.cost.dollars()
        )),
        None => words.push(format!(
            "{} is over: it cost {}.",
            period.title(),
            totals.cost.dollars()
        )),
    }
    match report.budget() {
        Some(budget) => {
            let expected = report.expected_spend();
            let verdict = if expected > budget {
                format!("over it by {}", (expected - budget).dollars())
            } else {
                format!("within it, {} to spare", (budget - expected).dollars())
            };
            words.push(format!(
                "The budget for the period is {} ({} a month): {} of it is spent, and the {} is \
                 {verdict}.",
                budget.dollars(),
                report.monthly_budget.unwrap_or_default().dollars(),
                share(totals.cost, budget),
                if report.in_progress() {
                    "forecast"
                } else {
                    "spend"
                },
            ));
        }
        None => words.push("No monthly budget was given (`--monthly-budget`).".into()),
    }
    out.push(Block::Paragraph(words.join(" ")));
    out.push(Block::Chart(Chart::Daily {
        title: format!("Spend per day and so far, {}", period.title()),
        days: report
            .daily
            .iter()
            .map(|d| (d.date, d.cost.units()))
            .collect(),
        period_days: period.days() as usize,
        budget: report.budget().map(Nanos::units),
        forecast: report.forecast().map(|f| f.spend.units()),
    }));

    out.push(Block::Heading(2, "Daily trend".into()));
    out.push(Block::Table {
        columns: vec![
            "Day (UTC)".into(),
            "Upstream cost".into(),
            "Credits charged".into(),
        ],
        rows: report
            .daily
            .iter()
            .map(|d| vec![d.date.to_string(), d.cost.dollars(), d.credits.credits()])
            .collect(),
    });

    out.push(Block::Heading(2, "Spend by provider".into()));
    lines(&mut out, &report.by_provider, totals, "Provider", false);
    out.push(Block::Heading(2, "Spend and tokens by model".into()));
    lines(&mut out, &report.by_model, totals, "Model", true);
    out.push(Block::Paragraph(format!(
        "Tokens: {} input (prompt) and {} output (completion), {} in all.",
        count(totals.input_tokens),
        count(totals.output_tokens),
        count(totals.tokens())
    )));

    out.push(Block::Heading(2, "Top customers".into()));
    match &report.customers {
        Some(customers) if customers.is_empty() => {
            out.push(Block::Paragraph(
                "No customer was charged in the period.".into(),
            ));
        }
        Some(customers) => {
            out.push(Block::Paragraph(match customers.len() {
                1 => "One customer was charged:".to_owned(),
                n if n <= TOP_CUSTOMERS => format!("{n} customers were charged:"),
                n => format!("{n} customers were charged; the {TOP_CUSTOMERS} charged the most:"),
            }));
            out.push(Block::Table {
                columns: [
                    "Customer",
                    "Key",
                    "Plan",
                    "Credits charged",
                    "Share",
                    "Upstream cost",
                    "Requests",
                    "Tokens",
                    "Change",
                ]
                .map(String::from)
                .to_vec(),
                rows: customers
                    .iter()
                    .take(TOP_CUSTOMERS)
                    .map(|c| {
                        vec![
                            c.name.clone(),
                            c.key.clone(),
                            c.plan.clone(),
                            c.totals.credits.credits(),
                            share(c.totals.credits, totals.credits),
                            c.totals.cost.dollars(),
                            count(c.totals.requests),
                            count(c.totals.tokens()),
                            signed_percent(change(
                                c.totals.credits.0,
                                c.previous.map(|p| p.credits.0),
                            )),
                        ]
                    })
                    .collect(),
            });
        }
        None => out.push(Block::Paragraph(
            "Customers are not in Prometheus (an API key is never a label: it would be a \
             series per customer), so this report cannot name them. The gateway's ledger \
             report (`gatewayz-gateway report`) lists them."
                .into(),
        )),
    }

    out.push(Block::Heading(2, "Conversion and churn".into()));
    match &report.accounts {
        Some(a) => {
            out.push(Block::Table {
                columns: vec!["".into(), period.title()],
                rows: vec![
                    vec!["Trials started".into(), count(a.trials_started)],
                    vec!["Trials converted to paid".into(), count(a.trials_converted)],
                    vec![
                        "Trials ended (converted, lapsed or revoked)".into(),
                        count(a.trials_ended),
                    ],
                    vec![
                        "Trial conversion rate".into(),
                        a.conversion_rate().map_or("n/a".into(), percent),
                    ],
                    vec![
                        "Paid subscriptions at the start".into(),
                        a.paid_at_start.map_or("n/a".into(), count),
                    ],
                    vec![
                        "Paid subscriptions started".into(),
                        count(a.subscriptions_started),
                    ],
                    vec![
                        "Paid subscriptions ended (cancelled or lapsed)".into(),
                        count(a.subscriptions_ended),
                    ],
                    vec![
                        "Churn (ended over active at the start)".into(),
                        a.churn_rate().map_or("n/a".into(), percent),
                    ],
                    vec!["Net paid growth".into(), format!("{:+}", a.net_growth())],
                    vec!["Keys created".into(), count(a.keys_created)],
                    vec!["Keys revoked".into(), count(a.keys_revoked)],
                    vec![
                        "Top-ups".into(),
                        format!(
                            "{} ({} credits)",
                            count(a.top_ups),
                            a.credits_topped_up.credits()
                        ),
                    ],
                    vec![
                        "Keys that ran out of credits".into(),
                        count(a.credits_exhausted),
                    ],
                ],
            });
            out.push(Block::Paragraph(
                "A trial ends when it converts, lapses at its expiry or is revoked; the \
                 conversion rate is converted over ended. Churn is paid subscriptions ended in \
                 the period over those active at its start."
                    .into(),
            ));
        }
        None => out.push(Block::Paragraph(
            "No customer events from this source (the service exports none).".into(),
        )),
    }

    if let Some(saved) = report.routing_savings {
        out.push(Block::Heading(2, "Savings from routing".into()));
        out.push(Block::Paragraph(format!(
            "Routing saved {} over the period: what the requests would have cost at the \
             reference prices, minus what they cost ({} of the cost).",
            saved.dollars(),
            share(saved, totals.cost + saved)
        )));
    }

    out.push(Block::Paragraph(format!(
        "Generated {} by gatewayz-reports {}. Money is kept in nano-dollars until shown, rounded \
         to the cent; credits are what keys are charged (1 credit = 1 US dollar of upstream cost \
         unless the gateway says otherwise).",
        minute(report.generated_at),
        env!("CARGO_PKG_VERSION")
    )));
    out
}

/// A chart and a table of providers or models.
fn lines(out: &mut Vec<Block>, lines: &[Line], totals: &Totals, what: &str, tokens: bool) {
    if lines.is_empty() {
        out.push(Block::Paragraph("Nothing was spent in the period.".into()));
        return;
    }
    out.push(Block::Chart(Chart::Bars {
        title: format!("Upstream cost by {}", what.to_lowercase()),
        bars: lines
            .iter()
            .map(|l| {
                (
                    l.name.clone(),
                    l.totals.cost.units(),
                    l.totals.cost.dollars(),
                )
            })
            .collect(),
    }));
    let mut columns = vec![
        what.to_owned(),
        "Upstream cost".into(),
        "Share".into(),
        "Requests".into(),
    ];
    if tokens {
        columns.extend(["Input tokens".into(), "Output tokens".into()]);
    } else {
        columns.push("Tokens".into());
    }
    columns.extend(["Previous".into(), "Change".into()]);
    let rows = lines
        .iter()
        .map(|l| {
            let mut row = vec![
                l.name.clone(),
                l.totals.cost.dollars(),
                share(l.totals.cost, totals.cost),
                count(l.totals.requests),
            ];
            if tokens {
                row.extend([count(l.totals.input_tokens), count(l.totals.output_tokens)]);
            } else {
                row.push(count(l.totals.tokens()));
            }
            row.extend([
                l.previous.map_or("n/a".into(), |p| p.cost.dollars()),
                signed_percent(change(l.totals.cost.0, l.previous.map(|p| p.cost.0))),
            ]);
            row
        })
        .collect();
    out.push(Block::Table { columns, rows });
}
