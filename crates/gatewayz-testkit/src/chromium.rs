//! Headless Chromium for browser tests, driven through chromedriver's WebDriver HTTP API.
//!
//! [`Browser::start`] runs Debian's `chromium` through `chromedriver` (package
//! `chromium-driver`), headless, with a fresh profile, and with Chromium's background traffic
//! to Google's services turned off (test machines may be offline, and a test should talk to
//! nothing but the server under test). A test then loads pages, runs scripts in them, waits
//! for conditions, reads the console and takes screenshots, against one live page: a page that
//! refreshes by itself is watched refreshing, not reloaded.
//!
//! When either binary is missing, [`Browser::start`] panics with how to install it: a browser
//! test never passes by skipping. `$CHROMIUM` and `$CHROMEDRIVER` override the binaries.
//!
//! WebDriver is plain JSON over HTTP on loopback, so the testkit's blocking client speaks it:
//! no WebDriver crate, no async runtime. chromedriver runs as a supervised [`Process`], so
//! Chromium, its child, is stopped with it even when a test panics before ending its session.
//!
//! ```no_run
//! use std::time::Duration;
//! use gatewayz_testkit::chromium::{Browser, Viewport};
//!
//! let browser = Browser::start();
//! browser.goto("http://127.0.0.1:8080/prometheus/dashboard");
//! browser.wait_until(
//!     "the provider cards",
//!     "return document.querySelectorAll('.card').length > 0",
//!     Duration::from_secs(20),
//! );
//! assert_eq!(browser.eval("return document.title"), "Gatewayz status");
//! browser.set_viewport(Viewport::PHONE);
//! std::fs::write("status-page-phone.png", browser.screenshot_full_page()).unwrap();
//! ```

use std::{
    cell::Cell,
    fs,
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::{
    http::Http,
    process::{Process, free_port},
    tools::{self, CHROMEDRIVER, CHROMIUM},
};

/// Flags for a headless Chromium that talks to nothing but the pages it is sent to.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    // Root in a container has no user namespace for the sandbox; the pages are our own.
    "--no-sandbox",
    "--disable-gpu",
    // Containers often have a tiny /dev/shm, which crashes renderers.
    "--disable-dev-shm-usage",
    // Without these, Chromium reaches for Google's services (offline here, noise anywhere).
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-quic",
    "--hide-scrollbars",
    "--window-size=1280,900",
];

/// How long one WebDriver command may take (a page load is one command).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// The `chromium` binary: `$CHROMIUM`, else the one on `PATH`. Panics with the fix when absent.
pub fn chromium() -> PathBuf {
    tools::require(CHROMIUM).unwrap_or_else(|why| panic!("{why}"))
}

/// The `chromedriver` binary: `$CHROMEDRIVER`, else the one on `PATH`. Panics with the fix
/// when absent.
pub fn chromedriver() -> PathBuf {
    tools::require(CHROMEDRIVER).unwrap_or_else(|why| panic!("{why}"))
}

/// The size of the page's viewport, in CSS pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewport {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Emulate a phone: the page's `<meta name="viewport">` applies, as on a real phone.
    pub mobile: bool,
}

impl Viewport {
    /// A laptop screen, 1280 × 900; where a browser starts.
    pub const DESKTOP: Viewport = Viewport {
        width: 1280,
        height: 900,
        mobile: false,
    };
    /// A phone held upright, 390 × 844 (an iPhone 12 to 15).
    pub const PHONE: Viewport = Viewport {
        width: 390,
        height: 844,
        mobile: true,
    };
}

/// A headless Chromium with one WebDriver session; both end when it is dropped.
pub struct Browser {
    driver: Process,
    http: Http,
    address: String,
    session: String,
    profile: PathBuf,
    viewport: Cell<Viewport>,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless Chromium session with a
    /// fresh profile. Panics with the fix when Chromium or chromedriver is missing, and with
    /// chromedriver's log when it fails to start.
    pub fn start() -> Browser {
        let (chromium, chromedriver) = (chromium(), chromedriver());
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let profile = std::env::temp_dir().join(format!(
            "gatewayz-chromium-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&profile);
        fs::create_dir_all(&profile).expect("a temporary directory for the browser profile");
        let port = free_port();
        let driver = Process::start(
            "chromedriver",
            Command::new(&chromedriver).arg(format!("--port={port}")),
            profile.join("chromedriver.log"),
        )
        .unwrap_or_else(|why| panic!("{why}"));
        let mut browser = Browser {
            driver,
            http: Http::with_timeout(COMMAND_TIMEOUT),
            address: format!("127.0.0.1:{port}"),
            session: String::new(),
            profile,
            viewport: Cell::new(Viewport::DESKTOP),
        };
        browser.wait_for_driver();

        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!(
            "--user-data-dir={}",
            browser.profile.join("chromium").display()
        ));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            // Console messages, CSP and Trusted Types violations included, for `console`.
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let created = browser.command("POST", "/session", Some(&capabilities));
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver made no session: {created}"))
            .to_owned();
        browser
    }

    /// Loads `url` and waits for its `load` event.
    pub fn goto(&self, url: &str) {
        self.session_command("POST", "/url", Some(&json!({ "url": url })));
    }

    /// Runs `script` (a function body: `return ...` gives the result) in the page.
    pub fn eval(&self, script: &str) -> Value {
        self.session_command(
            "POST",
            "/execute/sync",
            Some(&json!({"script": script, "args": []})),
        )
    }

    /// Runs `script` every 100 ms until it returns something truthy, and returns that.
    /// Panics after `timeout`, naming `what` was awaited and the last value seen.
    pub fn wait_until(&self, what: &str, script: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.eval(script);
            let truthy = match &value {
                Value::Null | Value::Bool(false) => false,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "waited {timeout:?} for {what}; the last value was {value}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Gives the page a viewport of this size (through the DevTools protocol, so it is
    /// exact, with no window decorations to subtract).
    pub fn set_viewport(&self, viewport: Viewport) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({
                "width": viewport.width,
                "height": viewport.height,
                "deviceScaleFactor": 1,
                "mobile": viewport.mobile,
            }),
        );
        self.viewport.set(viewport);
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        let encoded = self.session_command("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("a screenshot is base64 text"))
            .expect("a screenshot is valid base64")
    }

    /// A PNG of the whole page at the viewport's width: the viewport grows to the page's
    /// height for the shot, then shrinks back.
    pub fn screenshot_full_page(&self) -> Vec<u8> {
        let viewport = self.viewport.get();
        let height = self
            .eval("return Math.ceil(document.documentElement.scrollHeight)")
            .as_u64()
            .and_then(|h| u32::try_from(h).ok())
            .unwrap_or(viewport.height)
            .max(viewport.height);
        self.set_viewport(Viewport { height, ..viewport });
        let png = self.screenshot();
        self.set_viewport(viewport);
        png
    }

    /// The console messages since the last call, as `LEVEL source message`: errors thrown by
    /// scripts and refusals by the Content-Security-Policy or Trusted Types show here.
    pub fn console(&self) -> Vec<String> {
        let entries = self.session_command("POST", "/se/log", Some(&json!({"type": "browser"})));
        entries
            .as_array()
            .into_iter()
            .flatten()
            .map(|entry| {
                format!(
                    "{} {} {}",
                    entry["level"].as_str().unwrap_or("?"),
                    entry["source"].as_str().unwrap_or("?"),
                    entry["message"].as_str().unwrap_or("")
                )
            })
            .collect()
    }

    /// Runs a DevTools protocol command through chromedriver.
    fn cdp(&self, command: &str, params: Value) -> Value {
        self.session_command(
            "POST",
            "/goog/cdp/execute",
            Some(&json!({"cmd": command, "params": params})),
        )
    }

    fn session_command(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.command(method, &format!("/session/{}{path}", self.session), body)
    }

    /// One WebDriver command; its `value`, or a panic with WebDriver's error message.
    fn command(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let url = format!("http://{}{path}", self.address);
        let response = match (method, body) {
            ("GET", _) => self.http.get(&url, None),
            ("DELETE", _) => self.http.delete(&url),
            (_, Some(body)) => self.http.post_json(&url, None, body),
            (_, None) => self.http.post_json(&url, None, &json!({})),
        }
        .unwrap_or_else(|e| panic!("chromedriver did not answer {method} {path}: {e}"));
        let mut reply: Value = response.json().unwrap_or_else(|e| {
            panic!(
                "chromedriver answered {method} {path} with {}: {e}",
                response.status
            )
        });
        let value = reply["value"].take();
        if response.status != 200 {
            panic!(
                "chromedriver refused {method} {path} ({}): {}: {}",
                response.status,
                value["error"].as_str().unwrap_or("?"),
                // The first line: the rest is a native stack trace.
                value["message"]
                    .as_str()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
            );
        }
        value
    }

    fn wait_for_driver(&mut self) {
        let url = format!("http://{}/status", self.address);
        let http = Http::with_timeout(Duration::from_secs(2));
        self.driver
            .wait_until("ready for sessions", Duration::from_secs(30), || {
                let status = http.get(&url, None).ok()?.json().ok()?;
                (status["value"]["ready"] == true).then_some(())
            })
            .unwrap_or_else(|why| panic!("{why}"));
    }

    /// The directory of this browser's profile and chromedriver's log; removed on drop.
    pub fn profile(&self) -> &Path {
        &self.profile
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            // Ends Chromium cleanly; the driver's process tree is stopped after this anyway.
            let _ = self
                .http
                .delete(&format!("http://{}/session/{}", self.address, self.session));
        }
        self.driver.stop();
        let _ = fs::remove_dir_all(&self.profile);
    }
}
