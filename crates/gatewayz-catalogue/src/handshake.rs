//! The handshake through which a recorder tells a facade that it renders scaled counters in
//! their base unit.
//!
//! `metrics` counters take `u64` increments, so fractional amounts (dollars, credits) are
//! counted in fixed-point units ([`Scale::Nano`](crate::Scale::Nano)). Only a recorder that knows
//! the catalogue's scales can show those counters in dollars; any other would show
//! `gatewayz_cost_usd_total 3600000` for $0.0036, under a name and help text that say dollars.
//! So before recording a scaled counter, a facade asks the installed recorder:
//!
//! 1. the facade calls [`ask`] with a closure that describes a counter named [`PROBE`] to the
//!    recorder (`describe_counter`, which creates no series in any recorder);
//! 2. a recorder that scales counters as the catalogue says calls [`acknowledge`] when it is
//!    asked to describe [`PROBE`], on the same thread, before returning;
//! 3. [`ask`] returns whether that happened.
//!
//! `gatewayz-registry`'s recorder acknowledges; `gatewayz-metrics` asks when a facade is built
//! and, without an answer, records no scaled counter (and counts each dropped amount in
//! `gatewayz_metric_conflicts_total`). A recorder that fans out to ours and to another one must
//! not forward the probe to ours: the other would receive nano-units.
//!
//! ```
//! use gatewayz_catalogue::handshake;
//!
//! // No recorder answers: the facade must not record scaled counters.
//! assert!(!handshake::ask(|| {}));
//! // A recorder that knows the scales answers while the question is being asked.
//! assert!(handshake::ask(handshake::acknowledge));
//! ```

use std::cell::Cell;

/// The name described to a recorder to ask whether it scales counters. It is never recorded.
pub const PROBE: &str = "gatewayz_handshake_scaled_counters";

thread_local! {
    static ACKNOWLEDGED: Cell<bool> = const { Cell::new(false) };
}

/// Called by a recorder, while describing [`PROBE`], to say that it renders counters of a
/// [`Scale`](crate::Scale) other than one in their base unit.
pub fn acknowledge() {
    ACKNOWLEDGED.with(|a| a.set(true));
}

/// Runs `probe` (which describes [`PROBE`] to the recorder in question) and returns whether the
/// recorder acknowledged during it.
pub fn ask(probe: impl FnOnce()) -> bool {
    ACKNOWLEDGED.with(|a| a.set(false));
    probe();
    ACKNOWLEDGED.with(|a| a.replace(false))
}
