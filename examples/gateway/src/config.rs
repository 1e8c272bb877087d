//! The gateway's configuration: a TOML file, or the built-in simulated setup.

use std::{collections::HashSet, net::SocketAddr, path::PathBuf, time::Duration};

use gatewayz_health::{HealthConfig, RoutingConfig};
use serde::Deserialize;

use crate::{openai::MAX_UPSTREAM_ID_LEN, store::Synchronous};

/// The configuration used when no file is given: three simulated providers.
pub const SIMULATED: &str = include_str!("../config/simulated.toml");

/// Everything the gateway needs to know at start-up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listening address, data directory, timeouts.
    #[serde(default)]
    pub server: ServerConfig,
    /// Demo traffic.
    #[serde(default)]
    pub demo: DemoConfig,
    /// The health tracker: window, weights, status thresholds, circuit breaker, anomalies and
    /// failover ranking, as `gatewayz_health::HealthConfig` reads them (durations as `"30s"`).
    /// Omitted fields keep the tracker's defaults; per-provider latency overrides stay in
    /// each `[[providers]]` entry.
    #[serde(default)]
    pub health: HealthConfig,
    /// Which provider a request tries first: the routing policy for every model (`policy`,
    /// default `spread`) and per model (`models`), the exploration share and the weights of
    /// `weighted`, as `gatewayz_health::RoutingConfig` reads them. The gateway gives each
    /// request's candidates to the tracker with their prices for the model.
    #[serde(default)]
    pub routing: RoutingConfig,
    /// What the replicas of a fleet share.
    #[serde(default)]
    pub fleet: FleetConfig,
    /// Upstream providers, in preference order for ties.
    pub providers: Vec<ProviderConfig>,
}

/// What the replicas of a fleet share (see `docs/fleet.md`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FleetConfig {
    /// Redis URL (`redis://host:6379`) through which the replicas share their circuit
    /// breakers; without it each replica's breakers act alone. While Redis is unreachable the
    /// replica falls back to its own breakers and `/health` says `degraded`.
    pub redis: Option<String>,
}

/// Server settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory of the SQLite database and the demo key.
    pub data_dir: PathBuf,
    /// A PostgreSQL database (`postgres://user[:password]@host[:port]/database`) holding the
    /// keys, credits and ledger, shared by every replica of a fleet; without it, SQLite in
    /// [`Self::data_dir`] (one machine). See `docs/fleet.md`.
    pub database: Option<DatabaseUrl>,
    /// HTTP worker threads.
    pub workers: usize,
    /// Seconds to wait for a provider: a whole completion, or a stream's first byte.
    pub upstream_timeout_seconds: f64,
    /// Credits charged per US dollar of upstream cost.
    pub credits_per_dollar: f64,
    /// Seconds between health ticks (score recomputation and publishing).
    pub health_tick_seconds: f64,
    /// Seconds between business collections (keys, subscriptions, trials).
    pub business_collect_seconds: f64,
    /// Seconds an API key's state (revocation, expiry, balance) is used before its row is read
    /// again: revocations and top-ups take effect within this.
    pub key_cache_seconds: f64,
    /// Seconds in-flight requests and streams get to finish at shutdown.
    pub shutdown_timeout_seconds: u64,
    /// Seconds a client has to send a request's headers (actix's `client_request_timeout`).
    pub header_timeout_seconds: f64,
    /// Seconds a client has to send a request's body, once its headers are in: a slower upload
    /// is cut with a 408.
    pub body_timeout_seconds: f64,
    /// Connections each worker holds open at most; beyond, new ones wait in the listen backlog.
    pub max_connections_per_worker: usize,
    /// Completion requests in progress (streams included) at most; beyond, 503.
    pub max_in_flight: usize,
    /// Completion requests in progress for one API key at most; beyond, 429.
    pub max_in_flight_per_key: usize,
    /// When a charge is written: `durable` (before the response's last byte leaves) or
    /// `batched` (up to 500 ms later; a crash loses what is queued).
    pub charges: Charges,
    /// SQLite's `synchronous` setting: `normal` (a committed charge survives the process being
    /// killed) or `full` (it survives a power loss too, at an `fsync` per commit).
    pub database_sync: Synchronous,
}

/// The URL of a shared PostgreSQL database. Its password is never shown: `Debug` prints where it
/// is, not the URL.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL, for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DatabaseUrl {
    type Error = String;

    fn try_from(url: String) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl(url))
        } else {
            Err(
                "the database must be a PostgreSQL URL, postgres://user@host:port/database \
                 (without one, the gateway uses SQLite in its data directory)"
                    .into(),
            )
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

impl std::fmt::Display for DatabaseUrl {
    /// `PostgreSQL at host:port/database`: where it is, never who connects or with what.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match crate::postgres::place_of(&self.0) {
            Some(place) => write!(f, "PostgreSQL at {place}"),
            None => f.write_str("PostgreSQL (an unreadable URL)"),
        }
    }
}

/// When a charge is written; see [`ServerConfig::charges`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Charges {
    /// Committed before the answer's last byte is sent (group commit).
    #[default]
    Durable,
    /// Written in batches, as the answer goes; lost if the process dies first.
    Batched,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("gatewayz-data"),
            database: None,
            workers: 2,
            upstream_timeout_seconds: 120.0,
            credits_per_dollar: 1.0,
            health_tick_seconds: 5.0,
            business_collect_seconds: 15.0,
            key_cache_seconds: 1.0,
            shutdown_timeout_seconds: 30,
            header_timeout_seconds: 5.0,
            body_timeout_seconds: 30.0,
            max_connections_per_worker: 1000,
            max_in_flight: 1000,
            max_in_flight_per_key: 100,
            charges: Charges::Durable,
            database_sync: Synchronous::Normal,
        }
    }
}

impl ServerConfig {
    /// Opens (and migrates) the key store: PostgreSQL if [`Self::database`] is set, SQLite in
    /// [`Self::data_dir`] otherwise.
    pub fn open_database(
        &self,
        metrics: gatewayz_metrics::Metrics,
    ) -> Result<crate::store::Database, crate::store::StoreError> {
        match &self.database {
            Some(url) => crate::store::Database::open_postgres(url.expose(), metrics),
            None => crate::store::Database::open_with(&self.data_dir, metrics, self.database_sync),
        }
    }

    /// [`Self::upstream_timeout_seconds`] as a duration.
    pub fn upstream_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.upstream_timeout_seconds)
    }

    /// [`Self::body_timeout_seconds`] as a duration.
    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.body_timeout_seconds)
    }

    /// [`Self::header_timeout_seconds`] as a duration.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.header_timeout_seconds)
    }
}

/// Demo traffic settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// On or off; by default on when every provider is simulated.
    pub enabled: Option<bool>,
    /// Requests sent per second.
    pub requests_per_second: f64,
    /// Share of requests that stream.
    pub stream_share: f64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            enabled: None,
            requests_per_second: 2.0,
            stream_share: 0.5,
        }
    }
}

/// One upstream provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Provider id, the `provider` label.
    pub name: String,
    /// OpenAI-compatible base URL (`.../v1`); absent for simulated providers.
    pub base_url: Option<String>,
    /// Environment variable holding the provider's API key.
    pub api_key_env: Option<String>,
    /// Present for providers the gateway simulates itself.
    pub simulated: Option<SimulatedConfig>,
    /// Models served.
    pub models: Vec<ModelConfig>,
    /// Per-provider health overrides.
    #[serde(default)]
    pub health: HealthOverrides,
}

/// A model as served by one provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The name clients ask for.
    pub name: String,
    /// The id sent upstream; defaults to `name`.
    pub upstream: Option<String>,
    /// US dollars per million prompt tokens.
    pub input_price_per_million: f64,
    /// US dollars per million completion tokens.
    pub output_price_per_million: f64,
    /// The most completion tokens one call can produce (the model's output limit): a request
    /// asking for more is reserved for this many, one that gives no limit too. Default
    /// [`DEFAULT_MAX_OUTPUT_TOKENS`].
    pub max_output_tokens: Option<u64>,
}

/// [`ModelConfig::max_output_tokens`] when the configuration gives none.
pub const DEFAULT_MAX_OUTPUT_TOKENS: u64 = 4096;

impl ModelConfig {
    /// [`Self::max_output_tokens`], or the default.
    pub fn output_limit(&self) -> u64 {
        self.max_output_tokens.unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS)
    }

    /// The id sent to the provider.
    pub fn upstream_id(&self) -> &str {
        self.upstream.as_deref().unwrap_or(&self.name)
    }

    /// Upstream cost of a call in US dollars.
    pub fn cost(&self, input_tokens: u64, output_tokens: u64) -> f64 {
        (input_tokens as f64 * self.input_price_per_million
            + output_tokens as f64 * self.output_price_per_million)
            / 1e6
    }
}

/// Per-provider overrides of the health defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthOverrides {
    /// p95 latency at or below which the latency score is 1.
    pub latency_target_seconds: Option<f64>,
    /// p95 latency at or above which the latency score is 0.
    pub latency_max_seconds: Option<f64>,
}

/// How a simulated provider behaves (changeable at run time through the admin API).
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatedConfig {
    /// Median of the whole non-streamed call, log-normally distributed; 0 answers at once.
    pub latency_median_ms: f64,
    /// Spread of the log-normal latency (sigma of the underlying normal).
    pub latency_sigma: f64,
    /// Median time to the first streamed token.
    pub time_to_first_token_ms: f64,
    /// Streaming speed.
    pub tokens_per_second: f64,
    /// Share of calls answered with a 500.
    pub error_rate: f64,
    /// Share of calls answered with a 429 and `Retry-After: 1`.
    pub rate_limit_rate: f64,
    /// When true, every call fails (connection closed without an answer after a short wait).
    pub outage: bool,
}

impl SimulatedConfig {
    /// Checks every field against its documented range; the error names the field.
    ///
    /// | field | range |
    /// | --- | --- |
    /// | `latency_median_ms`, `time_to_first_token_ms` | 0 to 600,000 (ten minutes) |
    /// | `latency_sigma` | 0 to 10 |
    /// | `tokens_per_second` | 1 to 1,000,000 |
    /// | `error_rate`, `rate_limit_rate` | 0 to 1, and their sum at most 1 |
    pub fn validate(&self) -> Result<(), String> {
        let ranges = [
            ("latency_median_ms", self.latency_median_ms, 0.0, 600_000.0),
            (
                "time_to_first_token_ms",
                self.time_to_first_token_ms,
                0.0,
                600_000.0,
            ),
            ("latency_sigma", self.latency_sigma, 0.0, 10.0),
            ("tokens_per_second", self.tokens_per_second, 1.0, 1e6),
            ("error_rate", self.error_rate, 0.0, 1.0),
            ("rate_limit_rate", self.rate_limit_rate, 0.0, 1.0),
        ];
        for (name, value, low, high) in ranges {
            if !(value.is_finite() && (low..=high).contains(&value)) {
                return Err(format!("`{name}` must be a number from {low} to {high}"));
            }
        }
        if self.error_rate + self.rate_limit_rate > 1.0 {
            return Err("`error_rate` and `rate_limit_rate` must add up to 1 at most".into());
        }
        Ok(())
    }
}

impl SimulatedConfig {
    /// These settings with `changes` (a JSON object of settings, as the admin endpoint takes
    /// it) applied and validated; the error names the field at fault.
    pub fn with_changes(
        &self,
        changes: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<SimulatedConfig, String> {
        let mut next = self.clone();
        for (name, value) in changes {
            let number = || {
                value
                    .as_f64()
                    .ok_or_else(|| format!("`{name}` must be a number"))
            };
            match name.as_str() {
                "outage" => {
                    next.outage = value
                        .as_bool()
                        .ok_or_else(|| "`outage` must be true or false".to_owned())?;
                }
                "latency_median_ms" => next.latency_median_ms = number()?,
                "latency_sigma" => next.latency_sigma = number()?,
                "time_to_first_token_ms" => next.time_to_first_token_ms = number()?,
                "tokens_per_second" => next.tokens_per_second = number()?,
                "error_rate" => next.error_rate = number()?,
                "rate_limit_rate" => next.rate_limit_rate = number()?,
                _ => {
                    let shown: String = name.chars().take(64).collect();
                    return Err(format!(
                        "unknown setting `{shown}`; the settings are latency_median_ms, \
                         latency_sigma, time_to_first_token_ms, tokens_per_second, error_rate, \
                         rate_limit_rate and outage"
                    ));
                }
            }
        }
        next.validate()?;
        Ok(next)
    }
}

impl Default for SimulatedConfig {
    fn default() -> Self {
        SimulatedConfig {
            latency_median_ms: 500.0,
            latency_sigma: 0.5,
            time_to_first_token_ms: 200.0,
            tokens_per_second: 100.0,
            error_rate: 0.01,
            rate_limit_rate: 0.0,
            outage: false,
        }
    }
}

/// What is wrong with a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not valid TOML, or not the expected shape.
    #[error("cannot read the configuration: {0}")]
    Parse(#[from] toml::de::Error),
    /// Valid TOML that cannot work.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// The health tracker's configuration: `[health]` with `[routing]` in it.
    pub fn health_config(&self) -> HealthConfig {
        let mut health = self.health.clone();
        health.routing = self.routing.clone();
        health
    }

    /// Parses and validates a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// The built-in simulated configuration.
    pub fn simulated() -> Config {
        Config::from_toml(SIMULATED).expect("the built-in configuration is valid")
    }

    /// Whether every provider is simulated (the default, offline mode).
    pub fn simulated_only(&self) -> bool {
        self.providers.iter().all(|p| p.simulated.is_some())
    }

    /// Whether demo traffic runs.
    pub fn demo_enabled(&self) -> bool {
        self.demo.enabled.unwrap_or_else(|| self.simulated_only())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        if self.providers.is_empty() {
            return invalid("at least one [[providers]] entry is needed".into());
        }
        let positive = [
            (
                "server.upstream_timeout_seconds",
                self.server.upstream_timeout_seconds,
            ),
            (
                "server.health_tick_seconds",
                self.server.health_tick_seconds,
            ),
            (
                "server.business_collect_seconds",
                self.server.business_collect_seconds,
            ),
            ("server.key_cache_seconds", self.server.key_cache_seconds),
            (
                "server.header_timeout_seconds",
                self.server.header_timeout_seconds,
            ),
            (
                "server.body_timeout_seconds",
                self.server.body_timeout_seconds,
            ),
        ];
        for (name, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                return invalid(format!("{name} must be a positive number of seconds"));
            }
        }
        if !(self.server.credits_per_dollar.is_finite() && self.server.credits_per_dollar >= 0.0) {
            return invalid("server.credits_per_dollar must be zero or more".into());
        }
        let counts = [
            ("server.workers", self.server.workers),
            (
                "server.max_connections_per_worker",
                self.server.max_connections_per_worker,
            ),
            ("server.max_in_flight", self.server.max_in_flight),
            (
                "server.max_in_flight_per_key",
                self.server.max_in_flight_per_key,
            ),
        ];
        for (name, value) in counts {
            if value == 0 {
                return invalid(format!("{name} must be at least 1"));
            }
        }
        if !(self.demo.requests_per_second.is_finite() && self.demo.requests_per_second > 0.0) {
            return invalid("demo.requests_per_second must be positive".into());
        }
        if !(0.0..=1.0).contains(&self.demo.stream_share) {
            return invalid("demo.stream_share must be between 0 and 1".into());
        }
        let mut names = HashSet::new();
        for provider in &self.providers {
            let name = &provider.name;
            let valid_name = !name.is_empty()
                && name.len() <= 64
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                });
            if !valid_name {
                return invalid(format!(
                    "provider name `{name}` must be 1-64 characters of a-z, 0-9, `-` or `_`"
                ));
            }
            if !names.insert(name) {
                return invalid(format!("provider `{name}` is listed twice"));
            }
            match (&provider.base_url, &provider.simulated) {
                (Some(_), Some(_)) => {
                    return invalid(format!(
                        "provider `{name}`: give base_url or simulated, not both"
                    ));
                }
                (None, None) => {
                    return invalid(format!(
                        "provider `{name}`: give a base_url (or a simulated table)"
                    ));
                }
                (Some(url), None)
                    if !(url.starts_with("https://") || url.starts_with("http://")) =>
                {
                    return invalid(format!(
                        "provider `{name}`: base_url must start with https:// or http://"
                    ));
                }
                _ => {}
            }
            if let Some(sim) = &provider.simulated
                && let Err(reason) = sim.validate()
            {
                return invalid(format!("provider `{name}`, simulated: {reason}"));
            }
            if provider.models.is_empty() {
                return invalid(format!("provider `{name}` serves no models"));
            }
            let mut models = HashSet::new();
            for model in &provider.models {
                if model.name.trim().is_empty() || model.name.len() > 128 {
                    return invalid(format!(
                        "provider `{name}`: model names must be 1-128 characters"
                    ));
                }
                if model.upstream_id().is_empty() || model.upstream_id().len() > MAX_UPSTREAM_ID_LEN
                {
                    return invalid(format!(
                        "provider `{name}`, model `{}`: upstream ids must be 1-{MAX_UPSTREAM_ID_LEN} bytes",
                        model.name
                    ));
                }
                if model.max_output_tokens == Some(0) {
                    return invalid(format!(
                        "provider `{name}`, model `{}`: max_output_tokens must be at least 1",
                        model.name
                    ));
                }
                if !models.insert(&model.name) {
                    return invalid(format!(
                        "provider `{name}` lists model `{}` twice",
                        model.name
                    ));
                }
                let prices = [
                    model.input_price_per_million,
                    model.output_price_per_million,
                ];
                if prices.iter().any(|p| !(p.is_finite() && *p >= 0.0)) {
                    return invalid(format!(
                        "provider `{name}`, model `{}`: prices must be zero or more",
                        model.name
                    ));
                }
            }
            if let (Some(target), Some(max)) = (
                provider.health.latency_target_seconds,
                provider.health.latency_max_seconds,
            ) && !(target > 0.0 && max > target)
            {
                return invalid(format!(
                    "provider `{name}`: health latency target must be positive and below the maximum"
                ));
            }
        }
        if self.health.routing != RoutingConfig::default() {
            return invalid(
                "routing goes in its own [routing] table, not under [health]; move it there".into(),
            );
        }
        let served = |model: &str| {
            self.providers
                .iter()
                .any(|p| p.models.iter().any(|m| m.name == model))
        };
        if let Some(model) = self.routing.models.keys().find(|m| !served(m)) {
            return invalid(format!(
                "routing.models names `{model}`, which no provider serves; use a model name as \
                 listed under [[providers]]"
            ));
        }
        if let Err(error) = self.health_config().validate() {
            return invalid(error.to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use gatewayz_health::RoutingPolicy;

    use super::*;

    #[test]
    fn a_database_url_is_shown_without_who_connects() {
        let url = DatabaseUrl::try_from(
            "postgres://gateway:s3cret@db.internal:5432/ledger?sslmode=disable".to_owned(),
        )
        .unwrap();
        assert_eq!(url.to_string(), "PostgreSQL at db.internal:5432/ledger");
        assert!(!format!("{url:?}").contains("s3cret"));
        let error = Config::from_toml("[server]\ndatabase = \"mysql://db/ledger\"\n")
            .map(drop)
            .unwrap_err()
            .to_string();
        assert!(error.contains("must be a PostgreSQL URL"), "{error}");
    }

    #[test]
    fn the_shipped_configurations_are_valid() {
        let simulated = Config::simulated();
        assert_eq!(simulated.providers.len(), 3);
        assert!(simulated.demo_enabled());
        let example = Config::from_toml(include_str!("../config/providers.example.toml")).unwrap();
        assert!(!example.demo_enabled());
        assert_eq!(example.providers[0].health.latency_max_seconds, Some(40.0));
        // Its `[health]` table says it shows the defaults.
        assert_eq!(example.health, HealthConfig::default());
    }

    #[test]
    fn every_simulated_model_is_served_by_openrouter_too() {
        let config = Config::simulated();
        let openrouter = config
            .providers
            .iter()
            .find(|p| p.name == "openrouter")
            .unwrap();
        for provider in &config.providers {
            for model in &provider.models {
                assert!(
                    openrouter.models.iter().any(|m| m.name == model.name),
                    "{}",
                    model.name
                );
            }
        }
    }

    #[test]
    fn invalid_configurations_say_what_is_wrong() {
        let error = |toml: &str| Config::from_toml(toml).unwrap_err().to_string();
        assert!(error("providers = []").contains("at least one"));
        let twice = r#"
            [[providers]]
            name = "a"
            base_url = "https://a.example/v1"
            models = [{ name = "m", input_price_per_million = 1, output_price_per_million = 1 }]
            [[providers]]
            name = "a"
            base_url = "https://a.example/v1"
            models = [{ name = "m", input_price_per_million = 1, output_price_per_million = 1 }]
        "#;
        assert!(error(twice).contains("listed twice"));
        let negative = r#"
            [[providers]]
            name = "a"
            base_url = "https://a.example/v1"
            models = [{ name = "m", input_price_per_million = -1, output_price_per_million = 1 }]
        "#;
        assert!(error(negative).contains("prices"));
        assert!(
            error("[[providers]]\nname = \"a\"\nbase_url = \"ftp://x\"\nmodels = []")
                .contains("https://")
        );
        assert!(error("bogus = 1\nproviders = []").contains("unknown field"));
        let simulated = |values: &str| {
            error(&format!(
                "[[providers]]\nname = \"a\"\nsimulated = {{ {values} }}\nmodels = [{{ name = \"m\", input_price_per_million = 1, output_price_per_million = 1 }}]"
            ))
        };
        assert!(simulated("tokens_per_second = 5e-324").contains("`tokens_per_second`"));
        assert!(simulated("latency_sigma = 1e308").contains("`latency_sigma`"));
        assert!(simulated("latency_median_ms = nan").contains("`latency_median_ms`"));
        assert!(simulated("error_rate = 0.6, rate_limit_rate = 0.6").contains("add up"));
        assert!(
            error("[server]\nmax_in_flight = 0\n[[providers]]\nname = \"a\"\nbase_url = \"https://a\"\nmodels = []")
                .contains("max_in_flight")
        );
    }

    #[test]
    fn simulated_changes_are_validated_field_by_field() {
        let current = SimulatedConfig::default();
        let change = |json: &str| {
            let changes: serde_json::Value = serde_json::from_str(json).unwrap();
            current.with_changes(changes.as_object().unwrap())
        };
        let error = |json: &str| change(json).unwrap_err();
        assert!(error(r#"{"tokens_per_second": 5e-324}"#).contains("`tokens_per_second`"));
        assert!(error(r#"{"tokens_per_second": 2e6}"#).contains("`tokens_per_second`"));
        assert!(error(r#"{"latency_sigma": 1e308}"#).contains("`latency_sigma`"));
        assert!(error(r#"{"latency_median_ms": -1}"#).contains("`latency_median_ms`"));
        assert!(
            error(r#"{"time_to_first_token_ms": "soon"}"#).contains("`time_to_first_token_ms`")
        );
        assert!(error(r#"{"outage": 1}"#).contains("`outage`"));
        assert!(error(r#"{"error_rate": 0.7, "rate_limit_rate": 0.5}"#).contains("add up"));
        assert!(error(r#"{"bogus": true}"#).contains("`bogus`"));
        let changed = change(r#"{"error_rate": 0.5, "outage": true}"#).unwrap();
        assert_eq!(
            changed,
            SimulatedConfig {
                error_rate: 0.5,
                outage: true,
                ..current.clone()
            }
        );
    }

    #[test]
    fn the_health_table_reaches_the_tracker_config() {
        let config = Config::from_toml(
            r#"
            [health]
            window = { length = "20s", buckets = 10 }
            circuit = { cool_down = "2s" }
            anomaly = { window = "4s" }
            [[providers]]
            name = "a"
            base_url = "https://a.example/v1"
            models = [{ name = "m", input_price_per_million = 1, output_price_per_million = 1 }]
            "#,
        )
        .unwrap();
        assert_eq!(config.health.window.length, Duration::from_secs(20));
        assert_eq!(config.health.circuit.cool_down, Duration::from_secs(2));
        // Fields left out keep the tracker's defaults.
        assert_eq!(config.health.circuit.consecutive_failures, 5);
        assert_eq!(Config::simulated().health, HealthConfig::default());
    }

    #[test]
    fn the_routing_table_reaches_the_tracker_config_and_is_checked() {
        let providers = r#"
            [[providers]]
            name = "a"
            base_url = "https://a.example/v1"
            models = [{ name = "m", input_price_per_million = 1, output_price_per_million = 1 }]
        "#;
        let config = Config::from_toml(&format!(
            "[routing]\npolicy = \"cheapest\"\nexploration = 0.1\nmodels = {{ m = \"fastest\" }}\n{providers}"
        ))
        .unwrap();
        let health = config.health_config();
        assert_eq!(health.routing.policy, RoutingPolicy::Cheapest);
        assert_eq!(health.routing.policy_for("m"), RoutingPolicy::Fastest);
        assert_eq!(health.routing.exploration, 0.1);
        assert_eq!(Config::simulated().routing, RoutingConfig::default());

        let error = |toml: &str| {
            Config::from_toml(&format!("{toml}\n{providers}"))
                .unwrap_err()
                .to_string()
        };
        assert!(error("[routing]\npolicy = \"cheap\"").contains("unknown routing policy"));
        assert!(
            error("[routing]\nmodels = { n = \"fastest\" }")
                .contains("`n`, which no provider serves")
        );
        assert!(error("[routing]\nexploration = 2").contains("routing.exploration"));
        assert!(error("[health.routing]\npolicy = \"fastest\"").contains("[routing] table"));
        // The whole health configuration is checked at start, not when the tracker is built.
        assert!(error("[health]\nwindow = { length = \"20s\" }").contains("anomaly.window"));
    }

    #[test]
    fn cost_is_priced_per_million_tokens() {
        let model = ModelConfig {
            name: "m".into(),
            upstream: None,
            input_price_per_million: 3.0,
            output_price_per_million: 15.0,
            max_output_tokens: None,
        };
        assert_eq!(model.cost(1_000_000, 0), 3.0);
        assert!((model.cost(1000, 200) - 0.006).abs() < 1e-12);
        assert_eq!(model.upstream_id(), "m");
    }
}
