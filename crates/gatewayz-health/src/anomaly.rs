//! Anomaly detection against each provider's own baseline.
//!
//! The observed window is the latest completed buckets spanning `anomaly.window`. The baseline
//! learns from buckets older than that, once each, as exponentially weighted moving averages
//! (EWMA, weight `alpha` per bucket) of requests per bucket, of failed requests per bucket and
//! of the latency histogram; so the baseline never contains the window it is compared with.

use std::time::Duration;

use gatewayz_catalogue::{AnomalyKind, ClosedValue};
use serde::{Serialize, Serializer};

use crate::{
    config::AnomalyConfig,
    window::{LATENCY_BUCKETS, Totals, Window, quantile},
};

fn display<S: Serializer>(kind: &AnomalyKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.as_str())
}

fn seconds<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(value.as_secs_f64())
}

/// Whether an anomaly began or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyPhase {
    /// The signal left its baseline.
    Started,
    /// The signal is back to normal, or there is too little traffic left to tell.
    Ended,
}

/// An anomaly starting or ending.
///
/// Units of `observed` and `baseline`: seconds of p95 latency for a latency spike; a share
/// of failed requests (failures counted against the provider, plus calls refused by its
/// circuit) for an error surge; requests per observed window for a traffic drop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnomalyEvent {
    /// The provider.
    pub provider: String,
    /// What is anomalous.
    #[serde(serialize_with = "display")]
    pub kind: AnomalyKind,
    /// Began or ended.
    pub phase: AnomalyPhase,
    /// The signal over the observed window.
    pub observed: f64,
    /// The baseline it was compared with.
    pub baseline: f64,
    /// Clock time of the tick that saw it.
    #[serde(rename = "at_seconds", serialize_with = "seconds")]
    pub at: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Active {
    since: Duration,
}

/// Baselines and active anomalies of one provider.
#[derive(Debug, Clone)]
pub(crate) struct Detector {
    /// Next bucket epoch to fold into the baseline.
    next: u64,
    folded: u64,
    traffic: Option<f64>,
    demand: Option<f64>,
    failed: f64,
    latency: Box<[f64; LATENCY_BUCKETS]>,
    active: [Option<Active>; AnomalyKind::ALL.len()],
}

/// What the detector needs to know about the window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    /// Buckets in the observed window.
    pub(crate) observed: u64,
    /// Buckets of history before anything is detected.
    pub(crate) warmup: u64,
}

fn ewma(average: &mut Option<f64>, value: f64, alpha: f64) {
    *average = Some(match *average {
        Some(previous) => previous + alpha * (value - previous),
        None => value,
    });
}

impl Detector {
    /// A detector whose history starts at bucket `first_epoch`.
    pub(crate) fn new(first_epoch: u64) -> Self {
        Detector {
            next: first_epoch,
            folded: 0,
            traffic: None,
            demand: None,
            failed: 0.0,
            latency: Box::new([0.0; LATENCY_BUCKETS]),
            active: [None; AnomalyKind::ALL.len()],
        }
    }

    pub(crate) fn active(&self) -> impl Iterator<Item = AnomalyKind> + '_ {
        AnomalyKind::ALL
            .iter()
            .copied()
            .filter(|kind| self.active[kind.index()].is_some())
    }

    fn learning(&self, kind: AnomalyKind, now: Duration, config: &AnomalyConfig) -> bool {
        self.active[kind.index()]
            .is_none_or(|active| now.saturating_sub(active.since) >= config.adapt_after)
    }

    fn fold(&mut self, bucket: &Totals, now: Duration, config: &AnomalyConfig) {
        let alpha = config.alpha;
        let demand = bucket.demand() as f64;
        if self.learning(AnomalyKind::TrafficDrop, now, config) {
            ewma(&mut self.traffic, demand, alpha);
        }
        if self.learning(AnomalyKind::ErrorSurge, now, config) {
            let failed = (bucket.failures + bucket.rejected) as f64;
            match self.demand {
                Some(_) => self.failed += alpha * (failed - self.failed),
                None => self.failed = failed,
            }
            ewma(&mut self.demand, demand, alpha);
        }
        if self.learning(AnomalyKind::LatencySpike, now, config) {
            for (average, count) in self.latency.iter_mut().zip(&bucket.latency) {
                *average += alpha * (count - *average);
            }
        }
        self.folded += 1;
    }

    /// Learns from the buckets that left the observed window since the last call, then
    /// compares the observed window with the baseline. Returns the anomalies that started or
    /// ended, oldest kind first.
    pub(crate) fn detect(
        &mut self,
        provider: &str,
        window: &Window,
        now: Duration,
        geometry: Geometry,
        config: &AnomalyConfig,
    ) -> Vec<AnomalyEvent> {
        let current = window.epoch(now);
        let Some(observed_from) = current.checked_sub(geometry.observed) else {
            return Vec::new();
        };
        // Buckets that fell out of the ring before a tick saw them are lost, not zero: skip
        // them rather than teach the baseline a silence that did not happen.
        let oldest_kept = current.saturating_sub(window.len() - 1);
        for epoch in self.next.max(oldest_kept)..observed_from {
            self.fold(&window.totals(epoch, epoch), now, config);
        }
        self.next = self.next.max(observed_from);

        let observed = window.totals(observed_from, current - 1);
        let ready = self.folded >= geometry.warmup.max(1);
        let mut events = Vec::new();
        for &kind in AnomalyKind::ALL {
            let (anomalous, value, baseline) = match kind {
                AnomalyKind::LatencySpike => self.latency_spike(&observed, config),
                AnomalyKind::ErrorSurge => self.error_surge(&observed, config),
                AnomalyKind::TrafficDrop => self.traffic_drop(&observed, geometry, config),
            };
            let anomalous = ready && anomalous;
            let slot = &mut self.active[kind.index()];
            let phase = match (slot.is_some(), anomalous) {
                (false, true) => {
                    *slot = Some(Active { since: now });
                    AnomalyPhase::Started
                }
                (true, false) => {
                    *slot = None;
                    AnomalyPhase::Ended
                }
                _ => continue,
            };
            events.push(AnomalyEvent {
                provider: provider.to_owned(),
                kind,
                phase,
                observed: value,
                baseline,
                at: now,
            });
        }
        events
    }

    fn latency_spike(&self, observed: &Totals, config: &AnomalyConfig) -> (bool, f64, f64) {
        let secs = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64());
        let p95 = secs(observed.p95());
        let baseline = secs(quantile(&self.latency, 0.95));
        let anomalous = observed.good() >= config.min_calls
            && p95 > config.latency_factor * baseline
            && p95 > config.latency_floor.as_secs_f64();
        (anomalous, p95, baseline)
    }

    fn error_surge(&self, observed: &Totals, config: &AnomalyConfig) -> (bool, f64, f64) {
        let demand = observed.demand();
        let rate = if demand == 0 {
            f64::NAN
        } else {
            (observed.failures + observed.rejected) as f64 / demand as f64
        };
        let baseline = match self.demand {
            Some(demand) if demand > 0.0 => (self.failed / demand).clamp(0.0, 1.0),
            _ => 0.0,
        };
        let anomalous = demand >= config.min_calls
            && rate > baseline + config.error_rate_increase
            && rate > config.error_rate_factor * baseline;
        (anomalous, rate, baseline)
    }

    fn traffic_drop(
        &self,
        observed: &Totals,
        geometry: Geometry,
        config: &AnomalyConfig,
    ) -> (bool, f64, f64) {
        let demand = observed.demand() as f64;
        let baseline = self.traffic.unwrap_or(0.0) * geometry.observed as f64;
        let anomalous = baseline >= config.traffic_min_baseline
            && demand < config.traffic_drop_ratio * baseline;
        (anomalous, demand, baseline)
    }

    /// Ends every active anomaly (for a reset); returns their kinds.
    pub(crate) fn clear(&mut self, first_epoch: u64) -> Vec<AnomalyKind> {
        let active = self.active().collect();
        *self = Detector::new(first_epoch);
        active
    }
}
