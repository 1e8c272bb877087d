//! Performance & Latency: the gateway itself, from HTTP to database and cache.

use gatewayz_catalogue::{
    CACHE_HITS, CACHE_MISSES, DATABASE_QUERY_DURATION, DATABASE_QUERY_ERRORS, GATEWAY_OVERHEAD,
    HTTP_REQUEST_DURATION, HTTP_REQUESTS, HTTP_REQUESTS_IN_FLIGHT,
};

use super::{Board, Context, Dashboard, Layout, RATE, Unit, target, timeseries};
use crate::expr::{and, ratio};

const BY_ROUTE: &str = r#"route=~"$route""#;

pub(super) fn dashboard(cx: &Context) -> Dashboard {
    let s = &cx.scope;
    let mut layout = Layout::new();
    let r = BY_ROUTE;

    layout.row("HTTP");
    layout.add(timeseries(
        "HTTP latency p50 / p95 / p99",
        Unit::Seconds,
        "Duration of HTTP requests served by the gateway, to the end of the response body, \
         for the selected routes across every replica. Streamed completions last as long as \
         the generation: compare with Gateway overhead to see the gateway's own share.",
        [0.5, 0.95, 0.99]
            .iter()
            .map(|&q| {
                target(
                    s.quantile(q, &HTTP_REQUEST_DURATION, "", r, RATE),
                    &format!("p{}", (q * 100.0).round()),
                )
            })
            .collect(),
    ));
    layout.add(
        timeseries(
            "Throughput by route",
            Unit::RequestsPerSecond,
            "HTTP requests served per second by route template, stacked.",
            vec![target(
                s.sum_rate(&HTTP_REQUESTS, "route", r, RATE),
                "{{route}}",
            )],
        )
        .stacked(),
    );
    layout.add(
        timeseries(
            "Error ratio",
            Unit::PercentUnit,
            "Share of HTTP responses that were server errors (5xx) and client errors (4xx). \
             5xx is the gateway's fault or an upstream failure it could not hide; 4xx is usually \
             the client's (bad key, bad request).",
            ["5xx", "4xx"]
                .iter()
                .map(|class| {
                    target(
                        ratio(
                            &s.sum_rate(
                                &HTTP_REQUESTS,
                                "",
                                &and(&[r, &format!("status_class=\"{class}\"")]),
                                RATE,
                            ),
                            &s.sum_rate(&HTTP_REQUESTS, "", r, RATE),
                        ),
                        class,
                    )
                })
                .collect(),
        )
        .range(0.0, 1.0)
        .thresholds("green", &cx.error_thresholds()),
    );
    layout.add(timeseries(
        "p95 latency by route",
        Unit::Seconds,
        "95th percentile HTTP duration per route template.",
        vec![target(
            s.quantile(0.95, &HTTP_REQUEST_DURATION, "route", r, RATE),
            "{{route}}",
        )],
    ));
    layout.add(
        timeseries(
            "Requests in flight",
            Unit::Short,
            "HTTP requests being served right now, summed across replicas (all routes). Long \
             streamed completions keep this high without any problem.",
            vec![target(
                s.agg("sum", "", &s.sel(&HTTP_REQUESTS_IN_FLIGHT, "")),
                "in flight",
            )],
        )
        .size(24, 6),
    );

    layout.row("Gateway, database and cache");
    layout.add(timeseries(
        "Gateway overhead p50 / p95 / p99",
        Unit::Seconds,
        "Time the gateway spends on a proxied request outside provider calls (auth, routing, \
         accounting): tens of microseconds when healthy.",
        [0.5, 0.95, 0.99]
            .iter()
            .map(|&q| {
                target(
                    s.quantile(q, &GATEWAY_OVERHEAD, "", "", RATE),
                    &format!("p{}", (q * 100.0).round()),
                )
            })
            .collect(),
    ));
    layout.add(timeseries(
        "Database query latency p95",
        Unit::Seconds,
        "95th percentile duration of database queries by operation.",
        vec![target(
            s.quantile(0.95, &DATABASE_QUERY_DURATION, "operation", "", RATE),
            "{{operation}}",
        )],
    ));
    layout.add(timeseries(
        "Database errors",
        Unit::OpsPerSecond,
        "Failed database queries per second by operation.",
        vec![target(
            s.sum_rate(&DATABASE_QUERY_ERRORS, "operation", "", RATE),
            "{{operation}}",
        )],
    ));
    layout.add(
        timeseries(
            "Cache hit ratio",
            Unit::PercentUnit,
            "Hits over lookups per cache. No line while a cache sees no lookups.",
            vec![target(
                ratio(
                    &s.sum_rate(&CACHE_HITS, "cache", "", RATE),
                    &format!(
                        "({} + {})",
                        s.sum_rate(&CACHE_HITS, "cache", "", RATE),
                        s.sum_rate(&CACHE_MISSES, "cache", "", RATE)
                    ),
                ),
                "{{cache}}",
            )],
        )
        .range(0.0, 1.0),
    );

    cx.dashboard(
        Board::Performance,
        vec![cx.label_variable("route", "Route", &HTTP_REQUESTS, "")],
        cx.detail_links(),
        layout.finish(),
    )
}
