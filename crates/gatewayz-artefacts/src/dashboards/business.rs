//! Business Metrics: subscriptions, API keys, trials, token and credit consumption.

use gatewayz_catalogue::{
    ACTIVE_API_KEYS, ACTIVE_SUBSCRIPTIONS, COST_USD, CREDITS_USED, TOKENS_USED, TRIALS_ACTIVE,
};

use super::{
    BY_PROVIDER_MODEL, Board, Context, Dashboard, Layout, RATE, Unit, stat, target, timeseries,
};
use crate::expr::ratio;

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
}
