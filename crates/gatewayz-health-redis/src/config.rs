//! The store's settings: where its keys live in Redis and how long it waits.

use std::time::Duration;

/// How a [`RedisCircuitStore`](crate::RedisCircuitStore) uses Redis. The defaults suit a fleet
/// on one network: each replica follows a change within `refresh` even if it missed the
/// message, and no call waits on Redis longer than `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisStoreConfig {
    /// Prefix of every key and of the channel: fleets (or gateways) sharing one Redis use
    /// different prefixes. Default `gatewayz:circuits`.
    pub key_prefix: String,
    /// Period of the full read of the records that makes up for a missed message, and of the
    /// check that Redis still answers. Default 500 ms.
    pub refresh: Duration,
    /// Longest wait of any call to Redis (connecting, reading, writing): a half-open probe's
    /// claim waits at most this, then counts locally. Default 100 ms.
    pub timeout: Duration,
    /// Wait between attempts to reach Redis while it is unreachable. Default 250 ms.
    pub retry: Duration,
    /// Life of a half-open period's probe counters: a replica that dies holding a probe slot
    /// frees it after this. Longer than a probe call lasts. Default 60 s.
    pub probe_slot_ttl: Duration,
}

impl Default for RedisStoreConfig {
    fn default() -> Self {
        RedisStoreConfig {
            key_prefix: "gatewayz:circuits".to_owned(),
            refresh: Duration::from_millis(500),
            timeout: Duration::from_millis(100),
            retry: Duration::from_millis(250),
            probe_slot_ttl: Duration::from_secs(60),
        }
    }
}

/// The store's keys and channel, from the prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    /// The counter that versions every record.
    pub(crate) version: String,
    /// The hash of records, by provider.
    pub(crate) records: String,
    /// The channel every change is published on.
    pub(crate) changes: String,
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Keys {
        Keys {
            version: format!("{prefix}:version"),
            records: format!("{prefix}:records"),
            changes: format!("{prefix}:changes"),
            prefix: prefix.to_owned(),
        }
    }

    /// The probe slots claimed in a half-open period.
    pub(crate) fn probes(&self, provider: &str, period: u64) -> String {
        format!("{}:probes:{period}:{provider}", self.prefix)
    }

    /// The successful probes of a half-open period.
    pub(crate) fn successes(&self, provider: &str, period: u64) -> String {
        format!("{}:successes:{period}:{provider}", self.prefix)
    }
}
