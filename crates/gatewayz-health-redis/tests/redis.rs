//! The Redis store against a real `redis-server` started by the test: three trackers, each
//! with its own store as three replicas would have, on the system clock.

use std::{
    thread,
    time::{Duration, Instant},
};

use gatewayz_health::{
    CallOutcome, CircuitStore, ErrorKind, HealthConfig, HealthTracker, ProviderConfig, Rejected,
};
use gatewayz_health_redis::{Error, RedisCircuitStore, RedisStoreConfig};
use gatewayz_testkit::redis::Redis;

const P: &str = "groq";

/// A cool-down short enough to wait for in a test.
const COOL_DOWN: Duration = Duration::from_millis(1500);

fn config(cool_down: Duration) -> HealthConfig {
    let mut config = HealthConfig::default();
    config.circuit.cool_down = cool_down;
    config.circuit.max_cool_down = cool_down * 8;
    config
}

struct Replica {
    tracker: HealthTracker,
}

fn replica(url: &str, cool_down: Duration) -> Replica {
    let store = RedisCircuitStore::open(url).expect("a Redis URL");
    assert!(
        store.wait_in_use(Duration::from_secs(5)),
        "store never connected"
    );
    let tracker = HealthTracker::builder(config(cool_down))
        .circuit_store(store)
        .build()
        .expect("valid configuration");
    tracker.register(P, ProviderConfig::default()).unwrap();
    Replica { tracker }
}

fn fleet(url: &str, cool_down: Duration) -> [Replica; 3] {
    [0; 3].map(|_| replica(url, cool_down))
}

impl Replica {
    fn fail(&self, n: usize) {
        for _ in 0..n {
            let permit = self.tracker.try_acquire(P).expect("admitted");
            permit.finish_call(CallOutcome::failure(
                ErrorKind::Timeout,
                Duration::from_secs(1),
            ));
        }
    }

    fn in_use(&self) -> bool {
        self.tracker.shared_status().expect("a store").in_use
    }
}

/// Polls `f` every 10 ms for up to `limit`; returns the time it took to hold.
fn within(limit: Duration, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

fn refuses(replica: &Replica) -> bool {
    matches!(replica.tracker.try_acquire(P), Err(Rejected::Open { .. }))
}

#[test]
fn a_circuit_opened_by_one_replica_is_followed_and_probed_once_per_fleet() {
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start(dir.path());
    let [a, b, c] = fleet(&redis.url, COOL_DOWN);
    a.fail(5);
    within(Duration::from_secs(1), "b follows", || refuses(&b));
    within(Duration::from_secs(1), "c follows", || refuses(&c));

    // After the cool-down, the three replicas ask over and over: three probes in all.
    thread::sleep(COOL_DOWN + Duration::from_millis(100));
    let mut probes = Vec::new();
    for _ in 0..5 {
        for replica in [&a, &b, &c] {
            if let Ok(permit) = replica.tracker.try_acquire(P) {
                assert!(permit.is_probe());
                probes.push(permit);
            }
        }
    }
    assert_eq!(probes.len(), 3, "probes sent by the fleet in one cool-down");
    for permit in probes {
        permit.finish_call(CallOutcome::success(Duration::from_millis(100)));
    }
    for replica in [&a, &b, &c] {
        within(Duration::from_secs(1), "closed everywhere", || {
            replica
                .tracker
                .try_acquire(P)
                .is_ok_and(|permit| !permit.is_probe())
        });
    }
}

#[test]
fn admin_actions_reach_every_replica() {
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start(dir.path());
    let [a, b, c] = fleet(&redis.url, COOL_DOWN);
    a.tracker.force_open(P).unwrap();
    within(Duration::from_secs(1), "forced open on b", || {
        matches!(
            b.tracker.try_acquire(P),
            Err(Rejected::Open { retry_after: None })
        )
    });
    c.tracker.force_close(P).unwrap();
    within(Duration::from_secs(1), "closed on a", || {
        a.tracker.try_acquire(P).is_ok()
    });
}

#[test]
fn redis_going_away_costs_no_call_and_sharing_resumes_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = Redis::start(dir.path());
    // A long cool-down: the circuit must still be open when Redis returns.
    let [a, b, _c] = fleet(&redis.url, Duration::from_secs(60));
    redis.kill();
    within(Duration::from_secs(2), "the fallback shows", || !a.in_use());
    let status = a.tracker.shared_status().unwrap();
    assert_eq!(status.fallbacks, 1);
    // Local breakers: a's opens, b keeps admitting; no call is refused because of Redis.
    a.fail(5);
    assert!(refuses(&a));
    for _ in 0..20 {
        let permit = b.tracker.try_acquire(P).expect("b's breaker is closed");
        permit.finish_call(CallOutcome::success(Duration::from_millis(50)));
    }

    // Redis returns empty: a's open circuit is the stricter, so b follows it.
    redis.restart();
    within(Duration::from_secs(3), "in use again", || {
        a.in_use() && b.in_use()
    });
    within(Duration::from_secs(1), "a reconciles", || {
        a.tracker.tick();
        refuses(&b)
    });
}

#[test]
fn a_store_that_cannot_reach_redis_at_start_falls_back_and_joins_later() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = Redis::start(dir.path());
    let url = redis.url.clone();
    redis.kill();
    let store = RedisCircuitStore::open(&url).unwrap();
    assert!(!store.wait_in_use(Duration::from_millis(500)));
    let status = store.status();
    assert_eq!((status.in_use, status.fallbacks), (false, 1));
    redis.restart();
    assert!(store.wait_in_use(Duration::from_secs(3)));
}

#[test]
fn a_bad_url_is_an_error_that_does_not_show_the_password() {
    let error = RedisCircuitStore::open("http://:s3cret@127.0.0.1:6379").unwrap_err();
    assert!(matches!(error, Error::Url(_)), "{error}");
    assert!(!error.to_string().contains("s3cret"), "{error}");
    let zero = RedisStoreConfig {
        timeout: Duration::ZERO,
        ..RedisStoreConfig::default()
    };
    let error = RedisCircuitStore::open_with("redis://127.0.0.1:1", zero).unwrap_err();
    assert!(error.to_string().contains("timeout"), "{error}");
}

#[test]
fn a_missed_message_is_made_up_for_by_the_periodic_read() {
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start(dir.path());
    let [b, ..] = fleet(&redis.url, Duration::from_secs(60));
    // Another replica's record, written as the store writes it but never announced: only the
    // read every `refresh` (500 ms) can bring it.
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut con = client.get_connection().unwrap();
    let until_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 60_000;
    let _: () = redis::cmd("HSET")
        .arg("gatewayz:circuits:records")
        .arg(P)
        .arg(format!("1000 7 open {until_ms} 1"))
        .query(&mut con)
        .unwrap();
    let took = within(
        Duration::from_secs(1),
        "b follows an unannounced record",
        || refuses(&b),
    );
    assert!(took <= Duration::from_millis(700), "{took:?}");
}
