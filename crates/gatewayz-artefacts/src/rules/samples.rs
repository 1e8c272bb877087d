//! Input series for promtool, one sample a minute, kept as numbers (so that the incident
//! suite can compute what the rules will see) and written in promtool's expanding notation.
//!
//! promtool expands `a+bxn` by adding `b` to `a` n times, in floating point: a counter built
//! here by adding its per-minute increments the same way holds, sample for sample, exactly
//! the values promtool will feed the rules.

/// One series' samples, one a minute from 0: a value, or none (not scraped that minute).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Samples {
    values: Vec<Option<f64>>,
    /// What was added to the previous sample to make each one (NaN where nothing was).
    steps: Vec<f64>,
}

impl Samples {
    /// A counter from 0 at minute 0, growing by `increment(minute)` at each later minute, for
    /// `minutes` minutes (so `minutes + 1` samples).
    pub(crate) fn counter(minutes: usize, increment: impl Fn(usize) -> f64) -> Samples {
        let mut values = Vec::with_capacity(minutes + 1);
        let mut steps = Vec::with_capacity(minutes + 1);
        let mut value = 0.0;
        values.push(Some(value));
        steps.push(f64::NAN);
        for minute in 1..=minutes {
            let step = increment(minute);
            value += step;
            values.push(Some(value));
            steps.push(step);
        }
        Samples { values, steps }
    }

    /// A counter growing by `per_minute` every minute.
    pub(crate) fn steady(minutes: usize, per_minute: f64) -> Samples {
        Samples::counter(minutes, |_| per_minute)
    }

    /// A gauge: `value(minute)` at each minute, `None` for no sample.
    pub(crate) fn gauge(minutes: usize, value: impl Fn(usize) -> Option<f64>) -> Samples {
        let values: Vec<Option<f64>> = (0..=minutes).map(value).collect();
        let steps = vec![f64::NAN; values.len()];
        Samples { values, steps }
    }

    /// The counter whose increments are the sum of both counters' (same length).
    pub(crate) fn plus(&self, other: &Samples) -> Samples {
        assert_eq!(
            self.values.len(),
            other.values.len(),
            "series of one length"
        );
        Samples::counter(self.values.len() - 1, |m| {
            let step = |s: &Samples| if s.steps[m].is_nan() { 0.0 } else { s.steps[m] };
            step(self) + step(other)
        })
    }

    /// These samples, with none from minute `from` on (a replica that stopped being scraped).
    pub(crate) fn until(mut self, from: usize) -> Samples {
        for minute in from..self.values.len() {
            self.values[minute] = None;
            self.steps[minute] = f64::NAN;
        }
        self
    }

    /// The sample at `minute`, if any.
    pub(crate) fn at(&self, minute: usize) -> Option<f64> {
        self.values.get(minute).copied().flatten()
    }

    /// Minutes covered, the last sample's minute.
    pub(crate) fn minutes(&self) -> usize {
        self.values.len() - 1
    }

    /// promtool's notation: `a+bxn` runs, `axn` for a constant, `_` for a missing sample.
    pub(crate) fn notation(&self) -> String {
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < self.values.len() {
            let Some(start) = self.values[i] else {
                let run = self.values[i..].iter().take_while(|v| v.is_none()).count();
                tokens.push(if run == 1 {
                    "_".to_owned()
                } else {
                    format!("_x{}", run - 1)
                });
                i += run;
                continue;
            };
            // The longest run from i whose samples are the previous one plus one fixed step
            // (a counter's increments) or all equal (a gauge).
            let mut j = i;
            let step = self.steps.get(i + 1).copied().unwrap_or(f64::NAN);
            let constant = self.values.get(i + 1).copied().flatten() == Some(start);
            while j + 1 < self.values.len() {
                let (Some(here), Some(next)) = (self.values[j], self.values[j + 1]) else {
                    break;
                };
                let grows = !step.is_nan() && self.steps[j + 1] == step && here + step == next;
                if !(grows || (constant && next == start)) {
                    break;
                }
                j += 1;
            }
            let n = j - i;
            tokens.push(match n {
                0 => format!("{start}"),
                _ if constant => format!("{start}x{n}"),
                _ => format!("{start}+{step}x{n}"),
            });
            i = j + 1;
        }
        tokens.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_gauges_write_compactly() {
        let counter = Samples::counter(10, |m| if m <= 4 { 60.0 } else { 48.0 });
        assert_eq!(counter.notation(), "0+60x4 288+48x5");
        assert_eq!(counter.at(10), Some(528.0));
        let gauge = Samples::gauge(6, |m| (m != 3).then_some(if m < 3 { 1.0 } else { 0.0 }));
        assert_eq!(gauge.notation(), "1x2 _ 0x2");
        assert_eq!(Samples::steady(3, 0.0).notation(), "0x3");
        assert_eq!(Samples::steady(5, 1.0).until(3).notation(), "0+1x2 _x2");
    }

    #[test]
    fn a_counter_holds_the_values_promtool_expands_to() {
        // promtool adds 0.1 ten times: 0.9999999999999999, not 1.
        let counter = Samples::steady(10, 0.1);
        assert_eq!(counter.at(10), Some(0.9999999999999999));
        assert_eq!(counter.notation(), "0+0.1x10");
        let sum = Samples::steady(4, 1.5).plus(&Samples::steady(4, 0.5));
        assert_eq!(sum.notation(), "0+2x4");
    }
}
