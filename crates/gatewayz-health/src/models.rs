//! What the tracker learns per model from the attempts reported on permits: the ratio of output
//! to input tokens, which turns a provider's two prices into one expected price per request.
//!
//! Model names come from requests, so the table is bounded: past [`MAX_MODELS`] models, new
//! ones are not learnt and routing assumes [`DEFAULT_OUTPUT_RATIO`] for them.

use std::sync::{
    Arc, Mutex, PoisonError, RwLock,
    atomic::{AtomicU64, Ordering::Relaxed},
};

use hashbrown::HashMap;

/// Most models whose token ratio is learnt.
pub(crate) const MAX_MODELS: usize = 1024;

/// Output tokens per input token assumed for a model before any successful call reported
/// tokens: input and output prices then weigh the same.
pub(crate) const DEFAULT_OUTPUT_RATIO: f64 = 1.0;

/// Weight of each new call in the exponentially weighted token sums: the ratio follows about
/// the last 64 calls, so a change of workload shows within minutes, one odd call does not.
const ALPHA: f64 = 1.0 / 64.0;

/// The per-model table.
#[derive(Debug, Default)]
pub(crate) struct Models {
    map: RwLock<HashMap<Box<str>, Arc<Model>>>,
}

/// One model's exponentially weighted token sums and their ratio.
#[derive(Debug)]
struct Model {
    /// (input, output) tokens, exponentially weighted.
    sums: Mutex<(f64, f64)>,
    /// `f64` bits of output / input, read without the lock.
    ratio: AtomicU64,
}

impl Models {
    /// The learnt output/input ratio of `model`, or [`DEFAULT_OUTPUT_RATIO`].
    pub(crate) fn output_ratio(&self, model: &str) -> f64 {
        self.read().get(model).map_or(DEFAULT_OUTPUT_RATIO, |m| {
            f64::from_bits(m.ratio.load(Relaxed))
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Box<str>, Arc<Model>>> {
        self.map.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// A successful call of `model` used `input` and `output` tokens.
    pub(crate) fn learn(&self, model: &str, input: u64, output: u64) {
        if input == 0 || model.is_empty() {
            return;
        }
        let found = self.read().get(model).cloned();
        let entry = match found {
            Some(entry) => entry,
            None => {
                let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
                if map.len() >= MAX_MODELS && !map.contains_key(model) {
                    return;
                }
                let entry = map.entry(model.into()).or_insert_with(|| {
                    Arc::new(Model {
                        sums: Mutex::new((0.0, 0.0)),
                        ratio: AtomicU64::new(DEFAULT_OUTPUT_RATIO.to_bits()),
                    })
                });
                Arc::clone(entry)
            }
        };
        let mut sums = entry.sums.lock().unwrap_or_else(PoisonError::into_inner);
        // The first call sets the sums outright, so the ratio does not start from a prior.
        let keep = if sums.0 > 0.0 { 1.0 - ALPHA } else { 0.0 };
        sums.0 = sums.0 * keep + input as f64;
        sums.1 = sums.1 * keep + output as f64;
        entry.ratio.store((sums.1 / sums.0).to_bits(), Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_follows_recent_calls() {
        let models = Models::default();
        assert_eq!(models.output_ratio("m"), DEFAULT_OUTPUT_RATIO);
        models.learn("m", 1000, 250);
        assert_eq!(models.output_ratio("m"), 0.25);
        for _ in 0..1000 {
            models.learn("m", 100, 300);
        }
        assert!((models.output_ratio("m") - 3.0).abs() < 1e-3);
        // Calls without input tokens say nothing about the ratio.
        models.learn("m", 0, 500);
        assert!((models.output_ratio("m") - 3.0).abs() < 1e-3);
        assert_eq!(models.output_ratio("other"), DEFAULT_OUTPUT_RATIO);
    }

    #[test]
    fn the_table_is_bounded() {
        let models = Models::default();
        for i in 0..MAX_MODELS + 10 {
            models.learn(&format!("model-{i}"), 10, 20);
        }
        assert_eq!(models.read().len(), MAX_MODELS);
        assert_eq!(
            models.output_ratio(&format!("model-{}", MAX_MODELS + 5)),
            1.0
        );
        assert_eq!(models.output_ratio("model-0"), 2.0);
    }
}
