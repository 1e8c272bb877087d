//! The key store on a real PostgreSQL (started by the test) against SQLite: every operation of
//! the store, the ledger and the report, run the same on both, gives the same answers. The SQL
//! is written once for both engines (`src/sql.rs`); this is what keeps it so.
//!
//! Also: migrations run once when replicas start together, and again as a no-op; reservations
//! made concurrently from many threads (as replicas make them) never hold more than the
//! balance; a charge whose write is retried is counted once.
//!
//! It needs Debian's `postgresql`; `cargo xtask test` installs it. Without it, it fails, saying
//! so.

use std::{path::Path, sync::Arc, thread};

use chrono::{TimeZone, Utc};
use gatewayz_gateway::{
    ledger::{GroupBy, UsageFilter},
    report::ledger_report,
    store::{Charge, Database, Plan, charge_id},
};
use gatewayz_metrics::Metrics;
use gatewayz_reports::Period;
use gatewayz_testkit::postgres::Postgres;

/// 2026-11-10T00:00:00Z, a UTC midnight.
const T0: i64 = 1_794_268_800;

fn charge(key_id: i64, at: i64, provider: &str, model: &str, credits_nano: i64) -> Charge {
    Charge {
        id: charge_id(),
        reservation: None,
        key_id,
        provider: provider.into(),
        model: model.into(),
        input_tokens: 10,
        output_tokens: 20,
        cost_nano: credits_nano / 2,
        credits_nano,
        at,
    }
}

/// Everything the store can be asked, after the same history, as text to compare.
fn history(db: &mut Database) -> String {
    let mut out = String::new();
    let (_, alice) = db.create_key("alice", Plan::Paid, 10.0, None).unwrap();
    let (_, trial) = db
        .create_key("trial", Plan::Trial, 1.0, Some(T0 + 3 * 86_400))
        .unwrap();
    let (_, bob) = db.create_key("bob", Plan::Paid, 2.0, None).unwrap();
    let charges = [
        charge(alice.id, T0 + 10, "openrouter", "gpt-4o", 1_000_000),
        charge(
            alice.id,
            T0 + 86_400 + 5,
            "anthropic",
            "claude-3-haiku",
            2_500_000,
        ),
        charge(trial.id, T0 + 20, "openrouter", "gpt-4o", 300_000),
        charge(
            bob.id,
            T0 + 2 * 86_400,
            "cerebras",
            "llama-3.1-8b",
            7_000_000,
        ),
    ];
    db.apply_charges(&charges).unwrap();
    // A retried group: the charges already written are skipped whole.
    db.apply_charges(&charges[..2]).unwrap();
    db.top_up(&bob.id.to_string(), 3.0, T0 + 100).unwrap();
    db.record_exhausted(bob.id, T0 + 101).unwrap();
    db.record_exhausted(bob.id, T0 + 102).unwrap();
    db.convert_key(&trial.id.to_string(), T0 + 200).unwrap();
    db.revoke_key(&bob.id.to_string()).unwrap();
    let (_, lapsing) = db
        .create_key("lapsing", Plan::Trial, 1.0, Some(T0 + 50))
        .unwrap();
    db.sweep_lapses(0, T0 + 1_000).unwrap();
    db.sweep_lapses(0, T0 + 1_000).unwrap();
    let held = db.reserve(alice.id, 4_000_000_000, i64::MAX).unwrap();
    let refused = db.reserve(alice.id, 9_000_000_000, i64::MAX).unwrap();
    out += &format!("reserve: {:?} then {:?}\n", held.is_ok(), refused);
    db.reserve(lapsing.id, 100, T0).unwrap().unwrap();
    out += &format!("swept: {}\n", db.sweep_reservations(T0 + 1).unwrap());

    for record in db.list_keys().unwrap() {
        // Creation times are the wall clock's: left out.
        out += &format!(
            "key {} {} {} {} {:?} revoked={}\n",
            record.id,
            record.name,
            record.plan,
            record.credits_nano,
            record.expires_at,
            record.revoked_at.is_some()
        );
        out += &format!("  usage {:?}\n", db.usage_totals(record.id).unwrap());
        out += &format!("  reserved {}\n", db.reserved(record.id).unwrap());
        out += &format!("  events {:?}\n", db.key_events(record.id).unwrap().len());
    }
    for by in [
        GroupBy::Day,
        GroupBy::Model,
        GroupBy::Provider,
        GroupBy::Key,
    ] {
        for key_id in [None, Some(alice.id)] {
            let filter = UsageFilter {
                key_id,
                start: T0,
                end: T0 + 7 * 86_400,
            };
            out += &format!(
                "usage {by:?} {key_id:?}: {:?}\n",
                db.usage(&filter, by).unwrap()
            );
        }
    }
    let overview = db.key_overview(alice.id, T0 + 86_400 + 60).unwrap();
    out += &format!(
        "overview {} {} {} {}\n",
        overview.lifetime_nano, overview.daily_nano, overview.weekly_nano, overview.monthly_nano
    );
    out += &format!("events {:?}\n", db.event_counts(0, i64::MAX).unwrap());
    out += &format!("paid at T0+150 {}\n", db.paid_active_at(T0 + 150).unwrap());
    out += &format!("business {:?}\n", db.business_counts(T0 + 1_000).unwrap());
    out += &format!("customers {:?}\n", db.customer_totals().unwrap());
    let report = ledger_report(
        db,
        "ledger",
        "2026-11".parse::<Period>().unwrap(),
        Utc.timestamp_opt(T0 + 20 * 86_400, 0).unwrap(),
        None,
    )
    .unwrap();
    out += &format!("report {:?}\n", report.totals);
    out += &format!("report accounts {:?}\n", report.accounts);
    // Keys are random, and so their prefixes.
    for record in db.list_keys().unwrap() {
        out = out.replace(&record.prefix, &format!("<prefix of {}>", record.id));
    }
    out
}

fn start_postgres(dir: &Path) -> Postgres {
    Postgres::start(&dir.join("postgres"))
}

#[test]
fn the_store_answers_the_same_on_postgres_as_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let postgres = start_postgres(dir.path());

    let mut sqlite = Database::open(&dir.path().join("sqlite"), Metrics::new()).unwrap();
    let expected = history(&mut sqlite);

    // Three replicas starting together migrate once; a fourth finds nothing to do.
    let url = Arc::new(postgres.url.clone());
    let opened: Vec<_> = (0..3)
        .map(|_| {
            let url = Arc::clone(&url);
            thread::spawn(move || Database::open_postgres(&url, Metrics::new()).map(|_| ()))
        })
        .collect();
    for replica in opened {
        replica
            .join()
            .unwrap()
            .expect("a replica migrates or waits");
    }
    let mut shared = Database::open_postgres(&postgres.url, Metrics::new()).unwrap();
    let got = history(&mut shared);
    assert_eq!(got, expected, "PostgreSQL and SQLite disagree");
    // The history is not trivially equal: it holds what it did.
    assert!(expected.contains("reserve: true then Err"), "{expected}");
    assert!(expected.contains("swept: 1"), "{expected}");
}

#[test]
fn reservations_from_many_replicas_never_hold_more_than_the_balance() {
    let dir = tempfile::tempdir().unwrap();
    let postgres = start_postgres(dir.path());
    let mut db = Database::open_postgres(&postgres.url, Metrics::new()).unwrap();
    // 1,000 nano-credits; 24 threads (3 replicas x 8 clients) try 20 reservations of 7 each.
    let (_, key) = db.create_key("drain", Plan::Paid, 1e-6, None).unwrap();
    let url = Arc::new(postgres.url.clone());
    let threads: Vec<_> = (0..24)
        .map(|_| {
            let url = Arc::clone(&url);
            thread::spawn(move || {
                let mut db = Database::open_postgres(&url, Metrics::new()).unwrap();
                (0..20)
                    .filter(|_| db.reserve(key.id, 7, i64::MAX).unwrap().is_ok())
                    .count()
            })
        })
        .collect();
    let held: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(held, 1_000 / 7, "every reservation that fit, and no more");
    assert_eq!(db.reserved(key.id).unwrap(), 7 * (1_000 / 7));
}
