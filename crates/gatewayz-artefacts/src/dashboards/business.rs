//! Business Metrics: subscriptions, API keys, trials, conversion and churn, token and credit
//! consumption.
//!
//! The customer gauges and the customer-event counters are numbers of the service's database:
//! every replica on it reports the same ones, so each query takes the maximum across replicas
//! (for counters, after summing each replica's series), never the sum.

use gatewayz_catalogue::{
    ACTIVE_API_KEYS, ACTIVE_SUBSCRIPTIONS, COST_USD, CREDITS_TOPPED_UP, CREDITS_USED,
    CUSTOMER_EVENTS, TOKENS_USED, TRIALS_ACTIVE,
};

use super::{
    BY_PROVIDER_MODEL, Board, Context, Dashboard, Layout, RATE, Unit, stat, target, timeseries,
};
use crate::{
    customers::{CONVERTED, Customers, PAID_ENDED, TRIALS_ENDED, events},
    expr::ratio,
};

const SAME_ON_EVERY_REPLICA: &str = "Every replica reads the same number from the database, so \
     the panel takes the maximum across replicas (a sum would count it once per replica).";

pub(super) fn dashboard(cx: &Context) -> Dashboard {
    let s = &cx.scope;
    let mut layout = Layout::new();
    let pm = BY_PROVIDER_MODEL;

    layout.row("Customers");
    for (def, title, what) in [
        (
            &ACTIVE_SUBSCRIPTIONS,
            "Active subscriptions",
            "Paid subscriptions that are active.",
        ),
        (
            &ACTIVE_API_KEYS,
            "Active API keys",
            "API keys that are active (not revoked, not expired).",
        ),
        (
            &TRIALS_ACTIVE,
            "Active trials",
            "Trial accounts that are active.",
        ),
    ] {
        layout.add(
            stat(
                title,
                Unit::Short,
                &format!("{what} {SAME_ON_EVERY_REPLICA}"),
                vec![target(s.agg("max", "", &s.sel(def, "")), "")],
            )
            .size(8, 4),
        );
    }
    layout.add(
        timeseries(
            "Customers over time",
            Unit::Short,
            &format!("Active subscriptions, API keys and trials. {SAME_ON_EVERY_REPLICA}"),
            vec![
                target(
                    s.agg("max", "", &s.sel(&ACTIVE_SUBSCRIPTIONS, "")),
                    "subscriptions",
                ),
                target(s.agg("max", "", &s.sel(&ACTIVE_API_KEYS, "")), "API keys"),
                target(s.agg("max", "", &s.sel(&TRIALS_ACTIVE, "")), "trials"),
            ],
        )
        .size(24, 8),
    );

    layout.row("Conversion and churn (over the time range, UTC)");
    let over_range = Customers::over(s, "$__range");
    for (title, what, matchers) in [
        (
            "Trials started",
            "Keys created on the trial plan over the time range.",
            r#"event="trial_started""#,
        ),
        (
            "Trials converted",
            "Trials moved to the paid plan over the time range (`keys convert`).",
            CONVERTED,
        ),
        (
            "Trials ended",
            "Trials that ended over the time range: converted, lapsed at their expiry, or \
             revoked while active.",
            TRIALS_ENDED,
        ),
        (
            "Paid subscriptions ended",
            "Paid subscriptions cancelled (revoked while active) or lapsed over the time range.",
            PAID_ENDED,
        ),
    ] {
        layout.add(
            stat(
                title,
                Unit::Short,
                &format!("{what} {SAME_ON_EVERY_REPLICA}"),
                vec![target(events(s, matchers, "$__range"), "")],
            )
            .instant(),
        );
    }
    layout.add(
        stat(
            "Trial conversion rate",
            Unit::PercentUnit,
            "Trials converted over trials ended (converted, lapsed or revoked) in the time \
             range. No value until a trial has ended.",
            vec![target(over_range.conversion.clone(), "")],
        )
        .instant(),
    );
    layout.add(
        stat(
            "Churn",
            Unit::PercentUnit,
            "Paid subscriptions ended in the time range over those active at its start (active \
             now minus the net growth since). Choose a month (UTC) for the monthly churn rate.",
            vec![target(over_range.churn.clone(), "")],
        )
        .thresholds("green", &[(0.05, "orange"), (0.1, "red")])
        .instant(),
    );
    layout.add(
        stat(
            "Net paid growth",
            Unit::Short,
            "Paid subscriptions started (created paid, or converted) minus ended (cancelled or \
             lapsed) in the time range.",
            vec![target(over_range.net_growth.clone(), "")],
        )
        .instant(),
    );
    layout.add(
        stat(
            "Projected paid subscriptions",
            Unit::Short,
            "Paid subscriptions once today's trials have ended, if they convert as trials did \
             over the time range: active paid subscriptions + active trials × the conversion \
             rate.",
            vec![target(over_range.projection.clone(), "")],
        )
        .instant(),
    );
    layout.add(
        timeseries(
            "Customer events, trailing 24 hours",
            Unit::Short,
            &format!(
                "Events of the 24 hours before each point, by kind (both plans together). \
                 {SAME_ON_EVERY_REPLICA}"
            ),
            vec![target(
                s.agg(
                    "max",
                    "event",
                    &s.agg(
                        "sum",
                        "instance, event",
                        &format!("increase({}[1d])", s.sel(&CUSTOMER_EVENTS, "")),
                    ),
                ),
                "{{event}}",
            )],
        )
        .size(24, 8),
    );
    layout.add(
        stat(
            "Credits topped up",
            Unit::Short,
            &format!(
                "Credits added to keys by top-ups over the time range. {SAME_ON_EVERY_REPLICA}"
            ),
            vec![target(
                s.agg(
                    "max",
                    "",
                    &s.agg(
                        "sum",
                        "instance",
                        &format!("increase({}[$__range])", s.sel(&CREDITS_TOPPED_UP, "")),
                    ),
                ),
                "",
            )],
        )
        .instant()
        .size(12, 4),
    );
    layout.add(
        stat(
            "Keys out of credits",
            Unit::Short,
            &format!(
                "Keys refused (402) for lack of credits over the time range, once per \
                 exhaustion (the first refusal since the key was created or topped up). \
                 {SAME_ON_EVERY_REPLICA}"
            ),
            vec![target(
                events(s, r#"event="credits_exhausted""#, "$__range"),
                "",
            )],
        )
        .instant()
        .size(12, 4),
    );

    layout.row("Consumption");
    layout.add(
        stat(
            "Tokens used in the time range",
            Unit::Short,
            "Tokens processed over the dashboard's time range, input and output separately, for \
             the selected providers and models.",
            vec![target(
                s.sum_increase(&TOKENS_USED, "token_type", pm, "$__range"),
                "{{token_type}}",
            )],
        )
        .instant()
        .size(12, 4),
    );
    layout.add(
        stat(
            "Credits used in the time range",
            Unit::Short,
            "Credits charged to API keys over the dashboard's time range, for the selected \
             providers and models.",
            vec![target(
                s.sum_increase(&CREDITS_USED, "", pm, "$__range"),
                "",
            )],
        )
        .instant()
        .size(12, 4),
    );
    layout.add(
        timeseries(
            "Token consumption",
            Unit::Short,
            "Tokens per second, input and output, for the selected providers and models.",
            vec![target(
                s.sum_rate(&TOKENS_USED, "token_type", pm, RATE),
                "{{token_type}}",
            )],
        )
        .stacked(),
    );
    layout.add(
        timeseries(
            "Credits charged per hour",
            Unit::Short,
            "Credits charged to API keys per hour, by provider, stacked.",
            vec![target(
                format!("{} * 3600", s.sum_rate(&CREDITS_USED, "provider", pm, RATE)),
                "{{provider}}",
            )],
        )
        .stacked(),
    );
    layout.add(timeseries(
        "Credits charged per dollar of upstream cost",
        Unit::Short,
        "Credits charged to customers for each dollar paid to providers, by provider: the gross \
         margin signal. A drop means prices or routing changed under you.",
        vec![target(
            ratio(
                &s.sum_rate(&CREDITS_USED, "provider", pm, RATE),
                &s.sum_rate(&COST_USD, "provider", pm, RATE),
            ),
            "{{provider}}",
        )],
    ));

    cx.dashboard(
        Board::Business,
        vec![cx.provider_variable(), cx.model_variable()],
        cx.detail_links(),
        layout.finish(),
    )
    .in_utc()
}
