//! Performance & Latency: the gateway itself, from HTTP to database and cache.

use gatewayz_registry::catalogue::{
    CACHE_HITS, CACHE_MISSES, DATABASE_QUERY_DURATION, DATABASE_QUERY_ERRORS, GATEWAY_OVERHEAD,
    HTTP_REQUEST_DURATION, HTTP_REQUESTS, HTTP_REQUESTS_IN_FLIGHT,
};

use super::{
    Dashboard, ERROR_THRESHOLDS, Layout, RATE, Unit, Variable, detail_links, target, timeseries,
};
use crate::promql::{and, quantile, ratio, sum_rate};

const BY_ROUTE: &str = r#"route=~"$route""#;

pub(super) fn dashboard() -> Dashboard {
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
                    quantile(q, &HTTP_REQUEST_DURATION, "", r, RATE),
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
                sum_rate(&HTTP_REQUESTS, "route", r, RATE),
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
                            &sum_rate(
                                &HTTP_REQUESTS,
                                "",
                                &and(&[r, &format!("status_class=\"{class}\"")]),
                                RATE,
                            ),
                            &sum_rate(&HTTP_REQUESTS, "", r, RATE),
                        ),
                        class,
                    )
                })
                .collect(),
        )
        .range(0.0, 1.0)
        .thresholds("green", ERROR_THRESHOLDS),
    );
    layout.add(timeseries(
        "p95 latency by route",
        Unit::Seconds,
        "95th percentile HTTP duration per route template.",
        vec![target(
            quantile(0.95, &HTTP_REQUEST_DURATION, "route", r, RATE),
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
                format!("sum({})", HTTP_REQUESTS_IN_FLIGHT.name),
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
                    quantile(q, &GATEWAY_OVERHEAD, "", "", RATE),
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
            quantile(0.95, &DATABASE_QUERY_DURATION, "operation", "", RATE),
            "{{operation}}",
        )],
    ));
    layout.add(timeseries(
        "Database errors",
        Unit::OpsPerSecond,
        "Failed database queries per second by operation.",
        vec![target(
            sum_rate(&DATABASE_QUERY_ERRORS, "operation", "", RATE),
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
                    &sum_rate(&CACHE_HITS, "cache", "", RATE),
                    &format!(
                        "({} + {})",
                        sum_rate(&CACHE_HITS, "cache", "", RATE),
                        sum_rate(&CACHE_MISSES, "cache", "", RATE)
                    ),
                ),
                "{{cache}}",
            )],
        )
        .range(0.0, 1.0),
    );

    Dashboard {
        uid: "gatewayz-performance",
        title: "Gatewayz / Performance & Latency",
        file: "performance-latency.json",
        summary: "Is the gateway itself fast? HTTP latency percentiles, throughput and error \
                  ratio, gateway overhead, database query latency and cache hit ratio.",
        tags: vec![super::TAG, "performance"],
        variables: vec![
            Variable::Datasource,
            Variable::Query {
                name: "route",
                label: "Route",
                query: format!("label_values({}, route)", HTTP_REQUESTS.name),
            },
        ],
        links: detail_links(),
        panels: layout.finish(),
    }
}
