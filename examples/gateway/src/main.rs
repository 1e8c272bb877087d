//! `gatewayz-gateway`: run the example gateway, or manage its API keys.
//!
//! ```text
//! gatewayz-gateway                      # serve with three simulated providers
//! gatewayz-gateway --config my.toml     # serve real providers
//! gatewayz-gateway keys create --name alice --plan paid --credits 25
//! gatewayz-gateway keys list
//! gatewayz-gateway keys revoke gwz_AbC123
//! gatewayz-gateway keys convert gwz_AbC123
//! gatewayz-gateway keys top-up gwz_AbC123 --credits 50
//! gatewayz-gateway report --period 2026-11 --out reports/
//! ```

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use gatewayz_gateway::{
    config::{Config, DatabaseUrl},
    report::ledger_report,
    server::{self, Options},
    store::{DATABASE_FILE, MAX_CREDITS, Plan, unix_now},
};
use gatewayz_metrics::Metrics;
use gatewayz_reports::{Nanos, Period};

#[derive(Parser)]
#[command(
    name = "gatewayz-gateway",
    version,
    about = "An OpenAI-compatible LLM gateway with the gatewayz monitoring stack"
)]
struct Cli {
    /// Configuration file (TOML); without it, three simulated providers are used.
    #[arg(long, env = "GATEWAYZ_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Directory of the database and the demo key (overrides the configuration).
    #[arg(long, env = "GATEWAYZ_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// PostgreSQL database of keys, credits and the ledger, shared by every replica
    /// (`postgres://user@host:5432/gatewayz`; overrides `server.database`). Without it,
    /// SQLite in the data directory.
    #[arg(long, env = "GATEWAYZ_DATABASE", global = true)]
    database: Option<String>,
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free one).
    #[arg(long, env = "GATEWAYZ_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// Do not send demo traffic.
    #[arg(long)]
    no_demo: bool,
    /// Demo requests per second (overrides the configuration).
    #[arg(long)]
    demo_rate: Option<f64>,
    /// Start with this simulated provider down (repeatable).
    #[arg(long = "sim-outage", value_name = "PROVIDER")]
    sim_outages: Vec<String>,
    /// Replica name, added as a `replica` label to every series.
    #[arg(long, env = "GATEWAYZ_REPLICA")]
    replica: Option<String>,
    /// Write the gateway's addresses as JSON to this file once it is serving.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Share circuit breakers with the other replicas through this Redis
    /// (`redis://host:6379`; overrides `fleet.redis`).
    #[arg(long, env = "GATEWAYZ_REDIS")]
    redis: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Manage API keys in the gateway's database.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Write a monthly or quarterly report from the ledger, as Markdown and HTML (UTC).
    Report {
        /// A month (2026-11) or a quarter (2026-Q4), in UTC; default: this month.
        #[arg(long)]
        period: Option<String>,
        /// Directory to write gatewayz-report-<period>.md and .html into.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Monthly budget of upstream cost in dollars, for the forecast.
        #[arg(long, allow_hyphen_values = true)]
        monthly_budget: Option<f64>,
        /// Report as of this time (RFC 3339) rather than now.
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key; it is printed once and only its hash is stored.
    Create {
        /// A name to recognise the key by.
        #[arg(long)]
        name: String,
        /// Trial (expires) or paid.
        #[arg(long, value_enum, default_value = "trial")]
        plan: Plan,
        /// Credits to start with (1 credit = 1 US dollar of upstream cost by default), from 0
        /// to 1,000,000,000.
        #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
        credits: f64,
        /// Days until a trial expires.
        #[arg(long, default_value_t = 14)]
        trial_days: u32,
    },
    /// List keys (prefixes only).
    List,
    /// Revoke a key by its prefix or id (a cancellation, if it was active).
    Revoke {
        /// The key's prefix (as `keys list` shows it) or id.
        key: String,
    },
    /// Move a trial to the paid plan: it no longer expires.
    Convert {
        /// The key's prefix (as `keys list` shows it) or id.
        key: String,
    },
    /// Add credits to a key.
    TopUp {
        /// The key's prefix (as `keys list` shows it) or id.
        key: String,
        /// Credits to add, more than 0 (the balance may not exceed 1,000,000,000).
        #[arg(long, allow_hyphen_values = true)]
        credits: f64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let mut config = match &cli.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Config::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => Config::simulated(),
    };
    if let Some(dir) = cli.data_dir {
        config.server.data_dir = dir;
    }
    if let Some(url) = cli.database {
        config.server.database =
            Some(DatabaseUrl::try_from(url).map_err(|e| format!("--database: {e}"))?);
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            if let Some(listen) = cli.listen {
                config.server.listen = listen;
            }
            if let Some(rate) = cli.demo_rate {
                if !(rate.is_finite() && rate > 0.0) {
                    return Err("--demo-rate must be a positive number".into());
                }
                config.demo.requests_per_second = rate;
            }
            if cli.no_demo {
                config.demo.enabled = Some(false);
            }
            if let Some(redis) = cli.redis {
                config.fleet.redis = Some(redis);
            }
            let options = Options {
                config,
                sim_outages: cli.sim_outages,
                replica: cli.replica,
                ready_file: cli.ready_file,
            };
            server::run(options).map_err(|e| e.to_string())
        }
        Command::Keys { command } => keys(&config, command),
        Command::Report {
            period,
            out,
            monthly_budget,
            at,
        } => report(&config, period, &out, monthly_budget, at),
    }
}

fn report(
    config: &Config,
    period: Option<String>,
    out: &std::path::Path,
    monthly_budget: Option<f64>,
    at: Option<String>,
) -> Result<(), String> {
    let now = match at {
        Some(text) => chrono::DateTime::parse_from_rfc3339(&text)
            .map_err(|_| {
                format!("--at must be an RFC 3339 time, such as 2026-11-15T00:00:00Z, not `{text}`")
            })?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let period = match period {
        Some(text) => text.parse::<Period>().map_err(|e| e.to_string())?,
        None => Period::month_of(now),
    };
    let budget = match monthly_budget {
        Some(dollars) if dollars.is_finite() && (0.0..1e12).contains(&dollars) => {
            Some(Nanos::from_units(dollars))
        }
        Some(dollars) => {
            return Err(format!(
                "--monthly-budget must be a number of dollars from 0, not {}",
                shown(dollars)
            ));
        }
        None => None,
    };
    let dir = &config.server.data_dir;
    let name = match &config.server.database {
        Some(url) => url.to_string(),
        None if !dir.join(DATABASE_FILE).exists() => {
            return Err(format!(
                "no gateway database in {}; give the gateway's --data-dir (or its --database)",
                dir.display()
            ));
        }
        None => dir.join(DATABASE_FILE).display().to_string(),
    };
    let mut db = config
        .server
        .open_database(Metrics::new())
        .map_err(|e| e.to_string())?;
    let report = ledger_report(&mut db, &name, period, now, budget).map_err(|e| e.to_string())?;
    for path in gatewayz_reports::write(&report, out).map_err(|e| e.to_string())? {
        println!("{}", path.display());
    }
    Ok(())
}

/// A number as a user typed it, short even when huge.
fn shown(value: f64) -> String {
    if value.abs() < 1e15 {
        value.to_string()
    } else {
        format!("{value:e}")
    }
}

fn keys(config: &Config, command: KeysCommand) -> Result<(), String> {
    let mut db = config
        .server
        .open_database(Metrics::new())
        .map_err(|e| e.to_string())?;
    // Expiries passed since anyone last looked are lapses: recorded before anything else.
    db.sweep_lapses(0, unix_now()).map_err(|e| e.to_string())?;
    match command {
        KeysCommand::Create {
            name,
            plan,
            credits,
            trial_days,
        } => {
            if !(credits.is_finite() && (0.0..=MAX_CREDITS).contains(&credits)) {
                return Err(format!(
                    "--credits must be a number from 0 to {MAX_CREDITS:.0}, not {}",
                    shown(credits)
                ));
            }
            let expires =
                (plan == Plan::Trial).then(|| unix_now() + i64::from(trial_days) * 86_400);
            let (key, record) = db
                .create_key(&name, plan, credits, expires)
                .map_err(|e| e.to_string())?;
            println!("{key}");
            eprintln!(
                "created key {} ({}, {} plan, {credits} credits); it is shown only now",
                record.prefix, record.name, record.plan
            );
        }
        KeysCommand::List => {
            println!(
                "{:<6} {:<12} {:<6} {:>14}  {:<8} name",
                "id", "prefix", "plan", "credits", "status"
            );
            for key in db.list_keys().map_err(|e| e.to_string())? {
                let status = if key.revoked_at.is_some() {
                    "revoked"
                } else if !key.active_at(unix_now()) {
                    "expired"
                } else {
                    "active"
                };
                let credits = key.credits_nano as f64 / gatewayz_gateway::store::NANO;
                println!(
                    "{:<6} {:<12} {:<6} {credits:>14.6}  {status:<8} {}",
                    key.id, key.prefix, key.plan, key.name
                );
            }
        }
        KeysCommand::Revoke { key } => {
            let record = db.revoke_key(&key).map_err(|e| e.to_string())?;
            eprintln!("revoked key {} ({})", record.prefix, record.name);
        }
        KeysCommand::Convert { key } => {
            let record = db
                .convert_key(&key, unix_now())
                .map_err(|e| e.to_string())?;
            eprintln!(
                "key {} ({}) is now on the paid plan, without expiry",
                record.prefix, record.name
            );
        }
        KeysCommand::TopUp { key, credits } => {
            if !(credits.is_finite() && credits > 0.0 && credits <= MAX_CREDITS) {
                return Err(format!(
                    "--credits must be a number above 0 and at most {MAX_CREDITS:.0}, not {}",
                    shown(credits)
                ));
            }
            let record = db
                .top_up(&key, credits, unix_now())
                .map_err(|e| e.to_string())?;
            eprintln!(
                "added {credits} credits to key {} ({}); it now has {:.6}",
                record.prefix,
                record.name,
                record.credits_nano as f64 / gatewayz_gateway::store::NANO
            );
        }
    }
    Ok(())
}
