//! Customer events and top-ups: counters set from a service's database, not incremented.
//!
//! A customer's trial converts in a command-line tool, lapses at midnight, is topped up by an
//! operator: most of these happen outside the process that serves metrics, and all of them
//! must survive its restarts. So the service records each event durably in its own database
//! and, every collection, hands the totals to
//! [`Metrics::customer_totals_collected`](crate::Metrics::customer_totals_collected), which sets
//! the counters to them (`Counter::absolute`). Replicas on one database all report the same
//! totals; queries take `max` across replicas.

use std::collections::BTreeMap;

use gatewayz_catalogue::{
    CREDITS_TOPPED_UP, CUSTOMER_EVENTS, CustomerEvent, METRIC_CONFLICTS, Plan, Scale,
};
use metrics::{Counter, Recorder};

use crate::handles::counter;

/// Totals of customer events and top-ups, as a service's database counts them.
///
/// ```
/// use gatewayz_metrics::{CustomerEvent, CustomerTotals, Plan};
///
/// let mut totals = CustomerTotals::new();
/// totals
///     .set_events(CustomerEvent::TrialStarted, Plan::Trial, 12)
///     .set_events(CustomerEvent::TrialConverted, Plan::Trial, 4)
///     .set_credits_topped_up_nano(Plan::Paid, 250_000_000_000);
/// assert_eq!(totals.events(CustomerEvent::TrialConverted, Plan::Trial), 4);
/// assert_eq!(totals.events(CustomerEvent::Lapsed, Plan::Trial), 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerTotals {
    events: BTreeMap<(CustomerEvent, Plan), u64>,
    topped_up_nano: BTreeMap<Plan, u64>,
}

impl CustomerTotals {
    /// No event yet: every total 0.
    pub fn new() -> Self {
        CustomerTotals::default()
    }

    /// Sets how many times `event` happened to keys on `plan`, ever. A pair that cannot
    /// happen ([`CustomerEvent::applies_to`]) is ignored.
    pub fn set_events(&mut self, event: CustomerEvent, plan: Plan, total: u64) -> &mut Self {
        if event.applies_to(plan) {
            self.events.insert((event, plan), total);
        }
        self
    }

    /// Sets the credits added by top-ups to keys on `plan`, ever, in nano-credits (the
    /// fixed-point unit money is kept in).
    pub fn set_credits_topped_up_nano(&mut self, plan: Plan, nano_credits: u64) -> &mut Self {
        self.topped_up_nano.insert(plan, nano_credits);
        self
    }

    /// The total of `event` on `plan` (0 when not set).
    pub fn events(&self, event: CustomerEvent, plan: Plan) -> u64 {
        self.events.get(&(event, plan)).copied().unwrap_or(0)
    }

    /// Credits topped up on `plan`, in nano-credits (0 when not set).
    pub fn credits_topped_up_nano(&self, plan: Plan) -> u64 {
        self.topped_up_nano.get(&plan).copied().unwrap_or(0)
    }
}

/// The counters, registered at the first collection: every pair that can happen, at 0 until
/// its first event, so that `increase()` sees the first one.
pub(crate) struct CustomerHandles {
    events: Vec<((CustomerEvent, Plan), Counter)>,
    topped_up: TopUps,
}

/// The top-up amount counters, or the conflict counter when the recorder cannot show credits.
enum TopUps {
    Scaled(Vec<(Plan, Counter)>),
    Refused(Counter),
}

impl CustomerHandles {
    pub(crate) fn new(r: &dyn Recorder, money: bool) -> Self {
        let events = CustomerEvent::ALL
            .iter()
            .flat_map(|event| Plan::ALL.iter().map(move |plan| (*event, *plan)))
            .filter(|(event, plan)| event.applies_to(*plan))
            .map(|(event, plan)| {
                let handle = counter(r, &CUSTOMER_EVENTS, &[event.as_str(), plan.as_str()]);
                ((event, plan), handle)
            })
            .collect();
        let topped_up = if money {
            TopUps::Scaled(
                Plan::ALL
                    .iter()
                    .map(|plan| (*plan, counter(r, &CREDITS_TOPPED_UP, &[plan.as_str()])))
                    .collect(),
            )
        } else {
            TopUps::Refused(counter(r, &METRIC_CONFLICTS, &[CREDITS_TOPPED_UP.name]))
        };
        CustomerHandles { events, topped_up }
    }

    pub(crate) fn set(&self, totals: &CustomerTotals) {
        for ((event, plan), handle) in &self.events {
            handle.absolute(totals.events(*event, *plan));
        }
        match &self.topped_up {
            TopUps::Scaled(handles) => {
                // The catalogue counts credits in nano-units, the unit the totals come in.
                debug_assert_eq!(CREDITS_TOPPED_UP.scale, Scale::Nano);
                for (plan, handle) in handles {
                    handle.absolute(totals.credits_topped_up_nano(*plan));
                }
            }
            TopUps::Refused(conflicts) => {
                if Plan::ALL
                    .iter()
                    .any(|plan| totals.credits_topped_up_nano(*plan) > 0)
                {
                    conflicts.increment(1);
                }
            }
        }
    }
}
