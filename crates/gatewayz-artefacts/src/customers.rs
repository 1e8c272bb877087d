//! Customer figures in PromQL (trial conversion, churn, net growth, projection), defined once
//! for the Business dashboard and the PromQL library, as the JSON summary and the reports
//! define them.
//!
//! The customer gauges and event counters are numbers of the service's database: every replica
//! on it exports the same ones, so each replica's series are summed and the maximum is taken
//! across replicas, never the sum.

use gatewayz_catalogue::{ACTIVE_SUBSCRIPTIONS, CUSTOMER_EVENTS, TRIALS_ACTIVE};

use crate::expr::{Scope, ratio};

/// Customer events matching `matchers` over `range`: each replica's series summed, then the
/// maximum across replicas (they all export the same database's totals).
pub(crate) fn events(s: &Scope, matchers: &str, range: &str) -> String {
    s.agg(
        "max",
        "",
        &s.agg(
            "sum",
            "instance",
            &format!("increase({}[{range}])", s.sel(&CUSTOMER_EVENTS, matchers)),
        ),
    )
}

/// Trials that ended: converted, lapsed or revoked while active.
pub(crate) const TRIALS_ENDED: &str = r#"event=~"trial_converted|lapsed|cancelled", plan="trial""#;
/// Conversions.
pub(crate) const CONVERTED: &str = r#"event="trial_converted""#;
/// Keys created on the paid plan.
const CREATED_PAID: &str = r#"event="key_created", plan="paid""#;
/// Paid subscriptions that ended: cancelled or lapsed.
pub(crate) const PAID_ENDED: &str = r#"event=~"cancelled|lapsed", plan="paid""#;

/// The customer figures of a range, as PromQL: the same definitions as the JSON summary and
/// the reports.
pub(crate) struct Customers {
    /// Trials converted over trials ended.
    pub(crate) conversion: String,
    /// Paid subscriptions ended over those active at the start of the range (active now,
    /// minus the net growth since).
    pub(crate) churn: String,
    /// Paid subscriptions started minus ended.
    pub(crate) net_growth: String,
    /// Active paid subscriptions plus active trials times the conversion rate.
    pub(crate) projection: String,
}

impl Customers {
    pub(crate) fn over(s: &Scope, range: &str) -> Customers {
        let started = format!(
            "({} + {})",
            events(s, CREATED_PAID, range),
            events(s, CONVERTED, range)
        );
        let ended = events(s, PAID_ENDED, range);
        let net_growth = format!("({started} - {ended})");
        let paid_now = s.agg("max", "", &s.sel(&ACTIVE_SUBSCRIPTIONS, ""));
        let conversion = ratio(
            &events(s, CONVERTED, range),
            &events(s, TRIALS_ENDED, range),
        );
        Customers {
            churn: ratio(&ended, &format!("({paid_now} - {net_growth})")),
            projection: format!(
                "{paid_now}\n  + {} * ({conversion})",
                s.agg("max", "", &s.sel(&TRIALS_ACTIVE, ""))
            ),
            conversion,
            net_growth,
        }
    }
}
