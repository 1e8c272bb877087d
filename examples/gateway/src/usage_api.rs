//! Each customer's own usage, and every customer's for an admin, from the ledger.
//!
//! - `GET /v1/key`: the caller's key, in the shape of OpenRouter's `GET /api/v1/key`:
//!   `{"data": {"label", "usage", "usage_daily", "usage_weekly", "usage_monthly", "limit",
//!   "limit_remaining", "is_free_tier", "expires_at", ...}}`, in credits (what the key is
//!   charged; 1 credit = 1 US dollar of upstream cost by default, `server.credits_per_dollar`).
//! - `GET /v1/usage?start=YYYY-MM-DD&end=YYYY-MM-DD&group_by=day|model`: the caller's requests,
//!   tokens and credits over a range of UTC days (both ends included), by day (every day of the
//!   range, zeros included, as OpenAI's usage buckets) or by model, with the credits left.
//! - `GET /admin/usage?start=&end=&group_by=key|day|model|provider&key=ID_OR_PREFIX&format=json|csv`:
//!   the same across keys, with the upstream cost, for whoever holds the admin key.
//!
//! The customer endpoints know the key from its `Authorization` header alone: no parameter
//! names a key, and an unknown parameter is refused rather than ignored, so no request can
//! reach another key's rows. A revoked or expired key is refused (401), as on every `/v1`
//! route. Dates are UTC; a malformed date, an end before the start, or a range over
//! [`MAX_DAYS`] days is a 400 naming the parameter; a range with no usage answers zeros.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use chrono::NaiveDate;
use gatewayz_actix::Admin;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    ledger::{DAY, Group, GroupBy, Ledger, Usage, UsageFilter, UsageRow, date_of, day_start},
    openai::ApiError,
    proxy::Gateway,
    store::{NANO, Plan, StoreError, unix_now},
};

/// Longest range one request may ask for, in days: a year, leap day included.
pub const MAX_DAYS: i64 = 366;

/// Days a range covers when `start` is not given.
const DEFAULT_DAYS: u64 = 30;

/// A range of UTC days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
}

impl DateRange {
    /// Reads `start` and `end` (`YYYY-MM-DD`, UTC); `end` defaults to `today`, `start` to 30
    /// days ending at `end`. The error is the message and the parameter at fault.
    pub fn parse(
        start: Option<&str>,
        end: Option<&str>,
        today: NaiveDate,
    ) -> Result<DateRange, (String, &'static str)> {
        let date = |value: &str, name: &'static str| {
            NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|_| {
                let shown: String = value.chars().take(32).collect();
                (
                    format!("`{name}` must be a UTC date as YYYY-MM-DD, such as 2026-11-01, not `{shown}`"),
                    name,
                )
            })
        };
        let end = match end {
            Some(value) => date(value, "end")?,
            None => today,
        };
        let start = match start {
            Some(value) => date(value, "start")?,
            None => end - chrono::Days::new(DEFAULT_DAYS - 1),
        };
        if end < start {
            return Err((format!("`end` ({end}) is before `start` ({start})"), "end"));
        }
        let days = (end - start).num_days() + 1;
        if days > MAX_DAYS {
            return Err((
                format!(
                    "the range from `start` ({start}) to `end` ({end}) covers {days} days; ask \
                     for at most {MAX_DAYS} at a time"
                ),
                "end",
            ));
        }
        Ok(DateRange { start, end })
    }

    /// The Unix seconds it covers: `[start 00:00, the day after end 00:00)`.
    pub fn seconds(&self) -> (i64, i64) {
        (day_start(self.start), day_start(self.end) + DAY)
    }

    /// Every day, in order.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> {
        self.start.iter_days().take_while(|d| *d <= self.end)
    }
}

/// Credits (or dollars) from nano-units, for JSON.
fn units(nano: i64) -> f64 {
    nano as f64 / NANO
}

/// `2026-11-30T12:00:00Z`.
fn rfc3339(at: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn authorization(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// Usage is private: never kept by a cache on the way.
fn private_json(body: &Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

fn ledger_failed(error: StoreError) -> ApiError {
    tracing::error!(%error, "reading the ledger failed");
    ApiError::internal()
}

/// `GET /v1/key`.
pub async fn key(
    req: HttpRequest,
    gateway: web::Data<Gateway>,
    ledger: web::Data<Ledger>,
) -> Result<HttpResponse, ApiError> {
    let account = gateway
        .keys
        .authenticate(authorization(&req))
        .await
        .map_err(|error| gateway.refused(error))?;
    let id = account.id;
    let overview = ledger
        .read(move |db| db.key_overview(id, unix_now()))
        .await
        .map_err(ledger_failed)?;
    let record = &overview.record;
    // Everything the key was given: what is left plus what it spent, from one snapshot.
    let limit = record.credits_nano + overview.lifetime_nano;
    Ok(private_json(&json!({"data": {
        "label": record.prefix,
        "name": record.name,
        "plan": record.plan.as_str(),
        "is_free_tier": record.plan == Plan::Trial,
        "unit": "credits",
        "usage": units(overview.lifetime_nano),
        "usage_daily": units(overview.daily_nano),
        "usage_weekly": units(overview.weekly_nano),
        "usage_monthly": units(overview.monthly_nano),
        "limit": units(limit),
        "limit_remaining": units(record.credits_nano),
        "limit_reset": null,
        "created_at": rfc3339(record.created_at),
        "expires_at": record.expires_at.and_then(rfc3339),
        "timezone": "UTC",
    }})))
}

/// The customer's parameters: nothing else is accepted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerParams {
    start: Option<String>,
    end: Option<String>,
    group_by: Option<String>,
}

/// The admin's parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminParams {
    start: Option<String>,
    end: Option<String>,
    group_by: Option<String>,
    key: Option<String>,
    format: Option<String>,
}

/// Parses a query string strictly: unknown and repeated parameters are refused.
fn query_params<T: for<'de> Deserialize<'de>>(req: &HttpRequest) -> Result<T, String> {
    serde_urlencoded::from_str(req.query_string()).map_err(|e| {
        let reason: String = e.to_string().chars().take(200).collect();
        format!("invalid query parameters: {reason}")
    })
}

/// `GET /v1/usage`.
pub async fn usage(
    req: HttpRequest,
    gateway: web::Data<Gateway>,
    ledger: web::Data<Ledger>,
) -> Result<HttpResponse, ApiError> {
    let account = gateway
        .keys
        .authenticate(authorization(&req))
        .await
        .map_err(|error| gateway.refused(error))?;
    let params: CustomerParams =
        query_params(&req).map_err(|reason| ApiError::invalid(reason, None))?;
    let range = DateRange::parse(
        params.start.as_deref(),
        params.end.as_deref(),
        date_of(unix_now()),
    )
    .map_err(|(message, param)| ApiError::invalid(message, Some(param)))?;
    let by = match params.group_by.as_deref().map(str::trim) {
        None | Some("day") => GroupBy::Day,
        Some("model") => GroupBy::Model,
        Some(other) => {
            let shown: String = other.chars().take(32).collect();
            return Err(ApiError::invalid(
                format!("`group_by` must be `day` or `model`, not `{shown}`"),
                Some("group_by"),
            ));
        }
    };
    let (start, end) = range.seconds();
    let filter = UsageFilter {
        key_id: Some(account.id),
        start,
        end,
    };
    let id = account.id;
    let (rows, balance) = ledger
        .read(move |db| {
            let rows = db.usage(&filter, by)?;
            let balance = db.find_key(&id.to_string())?;
            Ok((rows, balance.credits_nano))
        })
        .await
        .map_err(ledger_failed)?;
    let totals = total(&rows);
    let data: Vec<Value> = match by {
        GroupBy::Day => every_day(&range, &rows)
            .map(|(day, usage)| {
                let start = day_start(day);
                let mut bucket = usage_json(&usage, false);
                bucket["object"] = json!("bucket");
                bucket["date"] = json!(day.to_string());
                bucket["start_time"] = json!(start);
                bucket["end_time"] = json!(start + DAY);
                bucket
            })
            .collect(),
        _ => rows
            .iter()
            .map(|row| {
                let mut entry = usage_json(&row.usage, false);
                entry["object"] = json!("model_usage");
                if let Group::Model(model) = &row.group {
                    entry["model"] = json!(model);
                }
                entry
            })
            .collect(),
    };
    Ok(private_json(&json!({
        "object": "usage",
        "label": account.prefix,
        "start": range.start.to_string(),
        "end": range.end.to_string(),
        "timezone": "UTC",
        "group_by": if by == GroupBy::Day { "day" } else { "model" },
        "unit": "credits",
        "credits_remaining": units(balance),
        "totals": usage_json(&totals, false),
        "data": data,
    })))
}

/// Every day of the range with its usage, zeros where there is none.
fn every_day<'a>(
    range: &'a DateRange,
    rows: &'a [UsageRow],
) -> impl Iterator<Item = (NaiveDate, Usage)> + 'a {
    range.days().map(move |day| {
        let usage = rows
            .iter()
            .find(|row| row.group == Group::Day(day))
            .map_or_else(Usage::default, |row| row.usage);
        (day, usage)
    })
}

fn total(rows: &[UsageRow]) -> Usage {
    rows.iter().fold(Usage::default(), |mut sum, row| {
        sum.requests += row.usage.requests;
        sum.input_tokens += row.usage.input_tokens;
        sum.output_tokens += row.usage.output_tokens;
        sum.credits_nano += row.usage.credits_nano;
        sum.cost_nano += row.usage.cost_nano;
        sum
    })
}

/// Requests, tokens and credits; the upstream cost too for an admin (never for a customer).
fn usage_json(usage: &Usage, with_cost: bool) -> Value {
    let mut value = json!({
        "requests": usage.requests,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "credits": units(usage.credits_nano),
    });
    if with_cost {
        value["cost_usd"] = json!(units(usage.cost_nano));
    }
    value
}

/// `GET /admin/usage`.
pub async fn admin_usage(
    req: HttpRequest,
    admin: web::Data<Option<Admin>>,
    ledger: web::Data<Ledger>,
) -> Result<HttpResponse, gatewayz_actix::Error> {
    admin
        .as_ref()
        .as_ref()
        .ok_or(gatewayz_actix::Error::AdminDisabled)?
        .authorize(&req)?;
    let invalid = |reason: String| gatewayz_actix::Error::InvalidRequest { reason };
    let params: AdminParams = query_params(&req).map_err(invalid)?;
    let range = DateRange::parse(
        params.start.as_deref(),
        params.end.as_deref(),
        date_of(unix_now()),
    )
    .map_err(|(message, _)| invalid(message))?;
    let by = match params.group_by.as_deref().map(str::trim) {
        None | Some("key") => GroupBy::Key,
        Some("day") => GroupBy::Day,
        Some("model") => GroupBy::Model,
        Some("provider") => GroupBy::Provider,
        Some(other) => {
            let shown: String = other.chars().take(32).collect();
            return Err(invalid(format!(
                "`group_by` must be `key`, `day`, `model` or `provider`, not `{shown}`"
            )));
        }
    };
    let csv = match params.format.as_deref().map(str::trim) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            let shown: String = other.chars().take(32).collect();
            return Err(invalid(format!(
                "`format` must be `json` or `csv`, not `{shown}`"
            )));
        }
    };
    let (start, end) = range.seconds();
    let which = params.key.clone();
    let rows = ledger
        .read(move |db| {
            let key_id = match which.as_deref().map(str::trim) {
                Some(which) => Some(db.find_key(which)?.id),
                None => None,
            };
            db.usage(&UsageFilter { key_id, start, end }, by)
        })
        .await
        .map_err(|error| match error {
            StoreError::NoSuchKey(_) | StoreError::Ambiguous(_) => {
                invalid(format!("`key`: {error}"))
            }
            error => {
                tracing::error!(%error, "reading the ledger failed");
                gatewayz_actix::Error::AdminAction {
                    reason: "the ledger could not be read".into(),
                }
            }
        })?;
    let rows: Vec<(Vec<(&'static str, Value)>, Usage)> = match by {
        GroupBy::Day => every_day(&range, &rows)
            .map(|(day, usage)| (vec![("date", json!(day.to_string()))], usage))
            .collect(),
        _ => rows
            .iter()
            .map(|row| (group_columns(&row.group), row.usage))
            .collect(),
    };
    let group_by = match by {
        GroupBy::Day => "day",
        GroupBy::Model => "model",
        GroupBy::Provider => "provider",
        GroupBy::Key => "key",
    };
    if csv {
        let mut text = String::new();
        let header: Vec<&str> = group_header(by)
            .iter()
            .copied()
            .chain([
                "requests",
                "input_tokens",
                "output_tokens",
                "credits",
                "cost_usd",
            ])
            .collect();
        text.push_str(&header.join(","));
        text.push_str("\r\n");
        for (columns, usage) in &rows {
            let mut cells: Vec<String> = columns
                .iter()
                .map(|(_, value)| match value {
                    Value::String(s) => csv_cell(s),
                    other => other.to_string(),
                })
                .collect();
            cells.extend([
                usage.requests.to_string(),
                usage.input_tokens.to_string(),
                usage.output_tokens.to_string(),
                decimal(usage.credits_nano),
                decimal(usage.cost_nano),
            ]);
            text.push_str(&cells.join(","));
            text.push_str("\r\n");
        }
        let file = format!("usage-{}-{}-by-{group_by}.csv", range.start, range.end);
        return Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ))
            .content_type("text/csv; charset=utf-8")
            .body(text));
    }
    let totals = rows.iter().fold(Usage::default(), |mut sum, (_, usage)| {
        sum.requests += usage.requests;
        sum.input_tokens += usage.input_tokens;
        sum.output_tokens += usage.output_tokens;
        sum.credits_nano += usage.credits_nano;
        sum.cost_nano += usage.cost_nano;
        sum
    });
    let data: Vec<Value> = rows
        .iter()
        .map(|(columns, usage)| {
            let mut entry = usage_json(usage, true);
            for (name, value) in columns {
                entry[*name] = value.clone();
            }
            entry
        })
        .collect();
    Ok(private_json(&json!({
        "object": "usage",
        "start": range.start.to_string(),
        "end": range.end.to_string(),
        "timezone": "UTC",
        "group_by": group_by,
        "key": params.key,
        "totals": usage_json(&totals, true),
        "data": data,
    })))
}

fn group_header(by: GroupBy) -> &'static [&'static str] {
    match by {
        GroupBy::Day => &["date"],
        GroupBy::Model => &["model"],
        GroupBy::Provider => &["provider"],
        GroupBy::Key => &["key_id", "key_prefix", "key_name"],
    }
}

fn group_columns(group: &Group) -> Vec<(&'static str, Value)> {
    match group {
        Group::Day(day) => vec![("date", json!(day.to_string()))],
        Group::Model(model) => vec![("model", json!(model))],
        Group::Provider(provider) => vec![("provider", json!(provider))],
        Group::Key { id, prefix, name } => vec![
            ("key_id", json!(id)),
            ("key_prefix", json!(prefix)),
            ("key_name", json!(name)),
        ],
    }
}

/// An exact decimal of nano-units, `12.000000345`: what a spreadsheet sums without drift.
fn decimal(nano: i64) -> String {
    let sign = if nano < 0 { "-" } else { "" };
    let abs = nano.unsigned_abs();
    format!("{sign}{}.{:09}", abs / 1_000_000_000, abs % 1_000_000_000)
}

/// A CSV cell: quoted when it holds a separator, a quote or a line break, and defused when a
/// spreadsheet would take it for a formula (`=`, `+`, `-`, `@` first).
fn csv_cell(text: &str) -> String {
    let defused = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn ranges_default_to_thirty_days_and_name_the_parameter_at_fault() {
        let today = date("2026-11-30");
        let range = DateRange::parse(None, None, today).unwrap();
        assert_eq!((range.start, range.end), (date("2026-11-01"), today));
        assert_eq!(range.days().count(), 30);
        let one = DateRange::parse(Some("2026-02-28"), Some("2026-02-28"), today).unwrap();
        assert_eq!(one.seconds().1 - one.seconds().0, DAY);
        let full_year = DateRange::parse(Some("2024-01-01"), Some("2024-12-31"), today).unwrap();
        assert_eq!(full_year.days().count(), 366);
        for (start, end, param, says) in [
            (Some("2026-13-01"), None, "start", "YYYY-MM-DD"),
            (Some("yesterday"), None, "start", "yesterday"),
            (None, Some("2026-02-30"), "end", "YYYY-MM-DD"),
            (Some("2026-11-02"), Some("2026-11-01"), "end", "before"),
            (Some("2024-01-01"), Some("2025-01-01"), "end", "367 days"),
        ] {
            let (message, at_fault) = DateRange::parse(start, end, today).unwrap_err();
            assert_eq!(at_fault, param, "{message}");
            assert!(message.contains(says), "{message}");
        }
    }

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("alice"), "alice");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_cell("-1+2,3"), "\"'-1+2,3\"");
        assert_eq!(decimal(12_000_000_345), "12.000000345");
        assert_eq!(decimal(-5), "-0.000000005");
    }
}
