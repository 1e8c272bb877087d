//! A webhook receiver for Alertmanager's notifications: a small HTTP server on a loopback port
//! that keeps every notification it receives and, for `cargo xtask stack`, prints it.
//!
//! It speaks just enough HTTP/1.1 for Alertmanager's client: one `POST` per connection (it
//! answers `Connection: close`), a body of `Content-Length` bytes, JSON in Alertmanager's
//! webhook format (version 4). Hand-written on purpose: it is a server for one request shape,
//! and the lean blocking HTTP servers on crates.io are unmaintained, while the maintained ones
//! need an async runtime that `cargo xtask stack` does not otherwise build.
//!
//! ```no_run
//! use gatewayz_testkit::webhook::Webhooks;
//!
//! let hooks = Webhooks::start("127.0.0.1:0", false).unwrap();
//! // Point the receivers of alertmanager.yml at hooks.url(), then later:
//! for notification in hooks.received() {
//!     println!("{}", notification.describe());
//! }
//! ```

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

use serde_json::Value;

/// One notification as Alertmanager posted it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The request path: which receiver (`/page`, `/chat`).
    pub path: String,
    /// The JSON body: `status`, `groupLabels`, `commonLabels`, `alerts`, ...
    pub body: Value,
}

impl Notification {
    /// `firing` or `resolved` (the group's status: resolved once every alert in it is).
    pub fn status(&self) -> &str {
        self.body["status"].as_str().unwrap_or_default()
    }

    /// The alerts of the group, each with its own `status`, `labels` and `annotations`.
    pub fn alerts(&self) -> &[Value] {
        self.body["alerts"].as_array().map_or(&[], Vec::as_slice)
    }

    /// A label shared by every alert of the notification.
    pub fn common_label(&self, name: &str) -> Option<&str> {
        self.body["commonLabels"][name].as_str()
    }

    /// The `alertname` of each alert.
    pub fn alert_names(&self) -> Vec<&str> {
        self.alerts()
            .iter()
            .filter_map(|a| a["labels"]["alertname"].as_str())
            .collect()
    }

    /// One line for a person: receiver, status, alert names and the labels that tell them
    /// apart, and the first alert's summary.
    pub fn describe(&self) -> String {
        let labels: Vec<String> = self.body["groupLabels"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(name, _)| *name != "alertname")
            .map(|(name, value)| format!("{name}={}", value.as_str().unwrap_or_default()))
            .collect();
        let summary = self
            .alerts()
            .first()
            .and_then(|a| a["annotations"]["summary"].as_str())
            .unwrap_or_default();
        format!(
            "[alertmanager {}] {} {} {}: {summary}",
            self.path.trim_start_matches('/'),
            self.status().to_uppercase(),
            self.common_label("alertname").unwrap_or("(several alerts)"),
            labels.join(" "),
        )
    }
}

/// The running receiver; stops accepting when dropped.
#[derive(Debug)]
pub struct Webhooks {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Notification>>>,
    stop: Arc<AtomicBool>,
}

impl Webhooks {
    /// Listens on `addr` (`127.0.0.1:0` picks a free port); prints each notification's
    /// [`describe`](Notification::describe) line when `print` is set.
    ///
    /// # Errors
    /// When `addr` cannot be bound.
    pub fn start(addr: &str, print: bool) -> Result<Webhooks, String> {
        let listener = TcpListener::bind(addr)
            .map_err(|e| format!("cannot listen on {addr} for Alertmanager's webhooks: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("no local address: {e}"))?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sink, flag) = (Arc::clone(&received), Arc::clone(&stop));
        thread::Builder::new()
            .name("webhooks".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if flag.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let sink = Arc::clone(&sink);
                    // One thread per connection: a stalled client cannot hold up the others.
                    let _ = thread::Builder::new()
                        .name("webhook".into())
                        .spawn(move || {
                            serve(stream, |notification| {
                                if print {
                                    println!("{}", notification.describe());
                                }
                                sink.lock()
                                    .unwrap_or_else(PoisonError::into_inner)
                                    .push(notification);
                            })
                        });
                }
            })
            .map_err(|e| format!("cannot start the webhook thread: {e}"))?;
        Ok(Webhooks {
            addr,
            received,
            stop,
        })
    }

    /// The base URL the receivers post to, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every notification so far, in arrival order.
    pub fn received(&self) -> Vec<Notification> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Webhooks {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accepting thread so that it sees the flag and exits.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Reads one request and answers it; a JSON `POST` goes to `keep` first, so that whoever sees
/// the answer also sees the notification.
fn serve(stream: TcpStream, keep: impl FnOnce(Notification)) -> Option<()> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut words = request_line.split_whitespace();
    let (method, path) = (words.next()?.to_owned(), words.next()?.to_owned());
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    // Notifications are a few kilobytes; refuse anything absurd rather than allocate it.
    if length > 16 << 20 {
        return None;
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let parsed = (method == "POST")
        .then(|| serde_json::from_slice::<Value>(&body).ok())
        .flatten();
    let status = match parsed {
        Some(body) => {
            keep(Notification { path, body });
            "200 OK"
        }
        None if method == "POST" => "400 Bad Request",
        None => "405 Method Not Allowed",
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    stream.flush().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_posted_notification_is_kept_with_its_receiver_path() {
        let hooks = Webhooks::start("127.0.0.1:0", false).unwrap();
        let body = serde_json::json!({"status": "firing",
            "commonLabels": {"alertname": "A", "provider": "p"},
            "alerts": [{"status": "firing", "labels": {"alertname": "A"}}]});
        let http = crate::http::Http::default();
        let answer = http
            .post_json(&format!("{}/page", hooks.url()), None, &body)
            .unwrap();
        assert_eq!(answer.status, 200, "{}", answer.text());
        let not_json = http
            .post_form(&format!("{}/page", hooks.url()), &[("a", "b".to_owned())])
            .unwrap();
        assert_eq!(not_json.status, 400);
        let received = hooks.received();
        assert_eq!(received.len(), 1);
        let notification = &received[0];
        assert_eq!(notification.path, "/page");
        assert_eq!(notification.status(), "firing");
        assert_eq!(notification.common_label("provider"), Some("p"));
        assert_eq!(notification.alert_names(), ["A"]);
    }
}
