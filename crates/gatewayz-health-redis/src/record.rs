//! How a circuit is written in Redis: one line per provider in the records hash, the same line
//! (with the provider's name after it) on the changes channel. Deadlines are wall-clock Unix
//! milliseconds, the one time the replicas share: each replica turns them back into the
//! cool-down left on its own clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gatewayz_health::{SharedCircuit, SharedPhase};

/// A record as stored: `version origin state until_ms trips`, where `state` is `closed`,
/// `open` (until `until_ms`) or `forced` (open until an operator closes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) version: u64,
    /// The store instance that published it.
    pub(crate) origin: u64,
    pub(crate) state: State,
    pub(crate) trips: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Closed,
    Open { until_ms: u64 },
    Forced,
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl State {
    /// The state of `circuit`, its deadline taken from `now_ms`.
    pub(crate) fn of(circuit: SharedCircuit, now_ms: u64) -> State {
        match circuit.phase {
            SharedPhase::Closed => State::Closed,
            SharedPhase::Open {
                cool_down_left: None,
            } => State::Forced,
            SharedPhase::Open {
                cool_down_left: Some(left),
            } => State::Open {
                until_ms: now_ms
                    .saturating_add(u64::try_from(left.as_millis()).unwrap_or(u64::MAX)),
            },
        }
    }

    /// The state as the tracker takes it, the cool-down left counted from `now_ms`.
    pub(crate) fn phase(self, now_ms: u64) -> SharedPhase {
        match self {
            State::Closed => SharedPhase::Closed,
            State::Forced => SharedPhase::Open {
                cool_down_left: None,
            },
            State::Open { until_ms } => SharedPhase::Open {
                cool_down_left: Some(Duration::from_millis(until_ms.saturating_sub(now_ms))),
            },
        }
    }

    /// `state until_ms`, as written after the origin.
    pub(crate) fn encode(self) -> String {
        match self {
            State::Closed => "closed 0".to_owned(),
            State::Forced => "forced 0".to_owned(),
            State::Open { until_ms } => format!("open {until_ms}"),
        }
    }
}

impl Record {
    /// Parses a stored line; `None` if it is not one of ours.
    pub(crate) fn parse(line: &str) -> Option<Record> {
        let mut words = line.split(' ');
        let version = words.next()?.parse().ok()?;
        let origin = words.next()?.parse().ok()?;
        let state = words.next()?;
        let until_ms = words.next()?.parse().ok()?;
        let trips = words.next()?.parse().ok()?;
        let state = match state {
            "closed" => State::Closed,
            "forced" => State::Forced,
            "open" => State::Open { until_ms },
            _ => return None,
        };
        Some(Record {
            version,
            origin,
            state,
            trips,
        })
    }

    /// Parses a message of the changes channel: a record line, then the provider.
    pub(crate) fn parse_message(message: &str) -> Option<(&str, Record)> {
        let mut split = message.splitn(6, ' ');
        let fields: Vec<&str> = split.by_ref().take(5).collect();
        let provider = split.next()?;
        Some((provider, Record::parse(&fields.join(" "))?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_with_the_cool_down_left() {
        let circuit = SharedCircuit {
            phase: SharedPhase::Open {
                cool_down_left: Some(Duration::from_secs(30)),
            },
            trips: 2,
        };
        let state = State::of(circuit, 1_000_000);
        let line = format!("7 42 {} 2", state.encode());
        let record = Record::parse(&line).unwrap();
        assert_eq!((record.version, record.origin, record.trips), (7, 42, 2));
        assert_eq!(
            record.state.phase(1_010_000),
            SharedPhase::Open {
                cool_down_left: Some(Duration::from_secs(20))
            }
        );
        let message = format!("{line} open router");
        let (provider, again) = Record::parse_message(&message).unwrap();
        assert_eq!((provider, again), ("open router", record));
        assert_eq!(Record::parse("7 42 ajar 0 1"), None);
    }
}
