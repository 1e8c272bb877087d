//! Demo traffic: a client that calls the gateway itself, so dashboards are alive at once.
//!
//! Requests arrive as a Poisson process at the configured rate, spread over every model,
//! a configured share streamed, with a small share for a model that does not exist (404s
//! belong on a realistic dashboard too). It runs on its own thread and actix system.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering::Relaxed},
    },
    thread::JoinHandle,
    time::Duration,
};

use futures_util::StreamExt;
use serde_json::json;

const PROMPTS: &[&str] = &[
    "Summarise the health of our providers in one sentence.",
    "Write a haiku about latency percentiles.",
    "Explain circuit breakers to a new on-call engineer.",
    "List three ways to cut LLM costs without hurting quality.",
];

/// The running generator; stops when dropped.
pub struct DemoTraffic {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DemoTraffic {
    /// Starts sending to `gateway` (its base URL) with `key`.
    pub fn start(
        gateway: String,
        key: String,
        models: Vec<String>,
        rate: f64,
        stream_share: f64,
    ) -> DemoTraffic {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("demo-traffic".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(run(
                    gateway,
                    key,
                    models,
                    rate,
                    stream_share,
                    flag,
                ));
            })
            .expect("can spawn the demo traffic thread");
        DemoTraffic {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for DemoTraffic {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn run(
    gateway: String,
    key: String,
    models: Vec<String>,
    rate: f64,
    stream_share: f64,
    stop: Arc<AtomicBool>,
) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(300))
        .finish();
    let url = format!("{gateway}/v1/chat/completions");
    while !stop.load(Relaxed) {
        // Exponential gaps make a Poisson process; cap them so stopping stays prompt.
        let gap = (-(1.0 - fastrand::f64()).ln() / rate).min(1.0);
        actix_web::rt::time::sleep(Duration::from_secs_f64(gap)).await;
        let model = if fastrand::f64() < 0.02 {
            "no-such-model".to_owned()
        } else {
            models[fastrand::usize(..models.len())].clone()
        };
        let stream = fastrand::f64() < stream_share;
        let body = json!({
            "model": model,
            "stream": stream,
            "messages": [{"role": "user", "content": PROMPTS[fastrand::usize(..PROMPTS.len())]}],
        });
        let request = client.post(&url).bearer_auth(&key).send_json(&body);
        actix_web::rt::spawn(async move {
            // Read every response to its end, as a real client does; failures are what the
            // dashboards are for, so they are not logged here.
            if let Ok(mut response) = request.await {
                while let Some(Ok(_)) = response.next().await {}
            }
        });
    }
}
