//! A document-search API (`GET /search?q=...`) that ranks a few documents by their embeddings
//! from one upstream provider, adopting the gatewayz stack: the recorder, HTTP metrics and the
//! monitoring endpoints, and provider health, each embeddings call reported once on its permit.
//! `SEARCH_UPSTREAM` is the provider's base URL, `SEARCH_LISTEN` the address to serve on.

use std::{
    env, io,
    time::{Duration, Instant},
};

use actix_web::{App, HttpResponse, HttpServer, web};
use gatewayz::{
    ErrorKind, HealthConfig, HealthTracker, HttpMetrics, Inference, Metrics, Monitoring, Outcome,
    ProviderConfig, RecorderBuilder, configure,
};
use serde_json::{Value, json};

const PROVIDER: &str = "embedder";
const MODEL: &str = "text-embedding-3-small";
const DOLLARS_PER_TOKEN: f64 = 0.02 / 1e6;
const DOCS: [&str; 3] = ["circuit breakers", "prometheus histograms", "token pricing"];

/// Embeds `input` with the provider, the call reported once on its permit; `None` if it failed
/// or its circuit refused it (then it is not tried, and counted as refused).
async fn embed(health: &HealthTracker, input: &[&str]) -> Option<Value> {
    let permit = health.try_acquire(PROVIDER).ok()?;
    let started = Instant::now();
    let url = format!(
        "{}/v1/embeddings",
        env::var("SEARCH_UPSTREAM").unwrap_or_default()
    );
    let sent = awc::Client::default()
        .post(url)
        .send_json(&json!({ "model": MODEL, "input": input }))
        .await;
    let (outcome, body) = match sent {
        Ok(mut r) if r.status().is_success() => (Outcome::Success, r.json::<Value>().await.ok()),
        Ok(r) => (Outcome::from_status(r.status().as_u16()), None),
        Err(_) => (Outcome::Error(ErrorKind::Connection), None),
    };
    let tokens = body
        .as_ref()
        .and_then(|b| b["usage"]["prompt_tokens"].as_u64());
    permit.finish(&Inference {
        model: MODEL,
        outcome,
        duration: started.elapsed(),
        input_tokens: tokens.unwrap_or(0),
        cost_usd: tokens.unwrap_or(0) as f64 * DOLLARS_PER_TOKEN,
        ..Inference::default()
    });
    body
}

async fn search(query: web::Query<Value>, health: web::Data<HealthTracker>) -> HttpResponse {
    let q = query.get("q").and_then(Value::as_str).unwrap_or_default();
    let input: Vec<&str> = [q].into_iter().chain(DOCS).collect();
    let Some(body) = embed(&health, &input).await else {
        return HttpResponse::BadGateway()
            .json(json!({ "error": "the embeddings provider failed" }));
    };
    let vector = |i: usize| {
        body["data"][i]["embedding"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let similarity = |i: usize| -> f64 {
        let (a, b) = (vector(0), vector(i + 1));
        a.iter()
            .zip(&b)
            .filter_map(|(x, y)| Some(x.as_f64()? * y.as_f64()?))
            .sum()
    };
    let mut ranked: Vec<usize> = (0..DOCS.len()).collect();
    ranked.sort_by(|&a, &b| similarity(b).total_cmp(&similarity(a)));
    HttpResponse::Ok()
        .json(json!({ "results": ranked.iter().map(|&i| DOCS[i]).collect::<Vec<_>>() }))
}

#[actix_web::main]
async fn main() -> io::Result<()> {
    let handle = RecorderBuilder::new().install().map_err(io::Error::other)?;
    let metrics = Metrics::new();
    let mut config = HealthConfig::default();
    config
        .providers
        .insert(PROVIDER.into(), ProviderConfig::default());
    let health = HealthTracker::builder(config)
        .metrics(metrics.clone())
        .build();
    let health = web::Data::new(health.map_err(io::Error::other)?);
    let ticker = health.clone().into_inner();
    actix_web::rt::spawn(async move {
        loop {
            actix_web::rt::time::sleep(Duration::from_secs(10)).await;
            ticker.tick();
        }
    });
    let monitoring = Monitoring::new(handle);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(HttpMetrics::new(metrics.clone()))
            .configure(configure(monitoring.clone()))
            .app_data(health.clone())
            .route("/search", web::get().to(search))
    })
    .bind(env::var("SEARCH_LISTEN").unwrap_or_else(|_| "127.0.0.1:8090".into()))?;
    println!("search listening on http://{}", server.addrs()[0]);
    server.run().await
}
