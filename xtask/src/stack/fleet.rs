//! What the replicas of `cargo xtask stack --replicas N` share, started before any of them: a
//! Redis for their circuit breakers, a PostgreSQL for their keys, credits and ledger, and one
//! demo key in that PostgreSQL, so the key printed works on every replica.
//!
//! Both servers are the test kit's launchers (loopback, free ports, no persistence worth
//! keeping): the fleet's database is created again on every run, as its Redis is, so a run
//! never depends on what an earlier one left behind.

use std::{
    fs, io,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use gatewayz_testkit::{
    postgres::Postgres,
    redis::Redis,
    tools::{INITDB, POSTGRES, REDIS_SERVER, Tool},
};

use crate::Result;

/// What a fleet needs installed besides Prometheus; checked before anything starts, so a
/// missing one fails with how to install it rather than half a stack.
pub(super) const TOOLS: &[Tool] = &[REDIS_SERVER, POSTGRES, INITDB];

/// The credits of the fleet's demo key: what a single gateway gives its own.
const DEMO_CREDITS: &str = "1000000";

/// Where a gateway keeps its demo key in its data directory. A replica reads it at start and
/// uses it (for its demo traffic too) when the store it opened knows it: with `--database`,
/// the shared one.
const DEMO_KEY_FILE: &str = "demo-key";

/// The fleet's Redis and PostgreSQL, running, and the demo key every replica accepts; both
/// servers stop when it is dropped (drop it after the replicas, which write to them while
/// they drain).
pub(super) struct Fleet {
    pub(super) redis: Redis,
    pub(super) postgres: Postgres,
    pub(super) demo_key: String,
    dir: PathBuf,
}

impl Fleet {
    /// Starts Redis, then PostgreSQL (on a new cluster under `dir/postgres`), and creates the
    /// demo key with `gateway keys create --database`, which also runs the key store's
    /// migrations before any replica starts. `data_dirs` are the replicas' data directories:
    /// each gets the key as its demo key. Fails, before starting anything, while a PostgreSQL
    /// of an earlier run still serves the cluster.
    pub(super) fn start(dir: &Path, gateway: &Path, data_dirs: &[PathBuf]) -> Result<Fleet> {
        let cluster = dir.join("postgres");
        if let Some(pid) = still_running(&cluster) {
            // Out of the terminal's reach, it outlives a stack that was killed rather than
            // stopped: removing its files under it would leave it serving nothing on its port.
            return Err(format!(
                "a PostgreSQL of an earlier `cargo xtask stack` still runs on {} (pid {pid}): \
                 stop it (`kill {pid}`) and retry",
                cluster.display()
            ));
        }
        let redis = Redis::start(&dir.join("redis"));
        // initdb wants an empty directory; an earlier run's cluster is not worth keeping
        // (its keys were printed as this run's demo key is, and Redis starts empty too).
        match fs::remove_dir_all(&cluster) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(format!("cannot remove {}: {e}", cluster.display()));
            }
            _ => {}
        }
        // Out of the terminal's Ctrl-C, which would stop it at once, while the replicas still
        // write the charges of their last requests: dropped after them instead.
        let postgres = Postgres::start_in_own_process_group(&cluster);
        let demo_key = create_demo_key(gateway, &postgres.url, &data_dirs[0])?;
        for data_dir in data_dirs {
            write_private(&data_dir.join(DEMO_KEY_FILE), &demo_key)?;
        }
        Ok(Fleet {
            redis,
            postgres,
            demo_key,
            dir: dir.to_owned(),
        })
    }

    /// An error saying which shared server stopped and where its log is, if one did.
    pub(super) fn check_running(&mut self) -> Result {
        let stopped = if !self.redis.is_running() {
            Some(("redis-server", "redis/redis.log"))
        } else if !self.postgres.is_running() {
            Some(("PostgreSQL", "postgres/postgres.log"))
        } else {
            None
        };
        match stopped {
            Some((what, log)) => Err(format!(
                "{what} stopped; see {}\nstopping the rest",
                self.dir.join(log).display()
            )),
            None => Ok(()),
        }
    }
}

/// The process id of the PostgreSQL that runs the cluster in `cluster`, if one does: its
/// `postmaster.pid` names a live process that is a PostgreSQL (not a process that took over the
/// id of one that was killed).
fn still_running(cluster: &Path) -> Option<u32> {
    let pid_file = fs::read_to_string(cluster.join("data/postmaster.pid")).ok()?;
    let pid: u32 = pid_file.lines().next()?.trim().parse().ok()?;
    let program = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    (program.trim() == "postgres").then_some(pid)
}

/// `gateway keys create` for the fleet's demo key in the database at `url`.
fn demo_key_command(gateway: &Path, url: &str, data_dir: &Path) -> Command {
    let mut command = Command::new(gateway);
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--database", url, "keys", "create", "--name", "demo"])
        .args(["--plan", "paid", "--credits", DEMO_CREDITS])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

/// Creates the demo key in the database at `url` with the gateway's own command, and returns
/// it (the command prints the key alone on its standard output).
fn create_demo_key(gateway: &Path, url: &str, data_dir: &Path) -> Result<String> {
    let mut command = demo_key_command(gateway, url, data_dir);
    let shown = format!(
        "{} --database {url} keys create --name demo",
        gateway.display()
    );
    let output = command
        .output()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "creating the fleet's demo key in PostgreSQL failed: `{shown}` exited ({}):\n{}",
            output.status,
            stderr.trim_end()
        ));
    }
    key_from(&String::from_utf8_lossy(&output.stdout)).ok_or_else(|| {
        format!(
            "`{shown}` succeeded but did not print one key on its standard output:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            stderr.trim_end()
        )
    })
}

/// The key in what `keys create` printed: one word on one line.
fn key_from(stdout: &str) -> Option<String> {
    let key = stdout.trim();
    (!key.is_empty() && !key.contains(char::is_whitespace)).then(|| key.to_owned())
}

/// Writes a secret readable by its owner only, as the gateway writes its demo key.
fn write_private(path: &Path, contents: &str) -> Result {
    use std::os::unix::fs::OpenOptionsExt;
    let write = || -> io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        io::Write::write_all(&mut file, contents.as_bytes())
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_key_is_created_once_in_the_shared_database_with_the_gateway_own_command() {
        let command = demo_key_command(
            Path::new("/bin/gatewayz-gateway"),
            "postgres://postgres@127.0.0.1:5999/postgres",
            Path::new("/data/gateway-1"),
        );
        let args: Vec<_> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        // The global flags before the subcommand, where every version of the CLI takes them.
        assert_eq!(
            args,
            [
                "--data-dir",
                "/data/gateway-1",
                "--database",
                "postgres://postgres@127.0.0.1:5999/postgres",
                "keys",
                "create",
                "--name",
                "demo",
                "--plan",
                "paid",
                "--credits",
                "1000000"
            ]
        );
    }

    #[test]
    fn a_postgresql_left_running_by_an_earlier_stack_is_found() {
        let cluster =
            std::env::temp_dir().join(format!("gatewayz-stack-fleet-{}", std::process::id()));
        fs::create_dir_all(cluster.join("data")).unwrap();
        assert_eq!(still_running(&cluster), None, "no postmaster.pid");
        // A live process that looks like a PostgreSQL (a program is named after the path it was
        // run by), and then the same id once it is gone.
        let postgres = cluster.join("postgres");
        let sleep = gatewayz_testkit::tools::find("sleep").expect("sleep is installed");
        std::os::unix::fs::symlink(sleep, &postgres).unwrap();
        let mut server = Command::new(&postgres).arg("30").spawn().unwrap();
        let pid = server.id();
        fs::write(
            cluster.join("data/postmaster.pid"),
            format!("{pid}\n/data\n"),
        )
        .unwrap();
        let found = still_running(&cluster);
        server.kill().unwrap();
        server.wait().unwrap();
        let after = still_running(&cluster);
        // Our own process is alive but no PostgreSQL.
        let ours = std::process::id();
        fs::write(cluster.join("data/postmaster.pid"), format!("{ours}\n")).unwrap();
        let not_postgres = still_running(&cluster);
        let _ = fs::remove_dir_all(&cluster);
        assert_eq!(found, Some(pid));
        assert_eq!(after, None);
        assert_eq!(not_postgres, None);
    }

    #[test]
    fn the_key_is_the_one_word_keys_create_prints() {
        assert_eq!(key_from("gwz_AbC123\n").as_deref(), Some("gwz_AbC123"));
        assert_eq!(key_from(""), None);
        assert_eq!(key_from("error: something\nelse"), None);
    }

    #[test]
    fn a_gateway_that_cannot_create_the_key_stops_the_stack_with_why() {
        let dir = Path::new("/nonexistent");
        let url = "postgres://postgres@127.0.0.1:1/postgres";
        // `false` fails whatever its arguments; `echo` prints them, which is no key.
        let failed = create_demo_key(Path::new("false"), url, dir).unwrap_err();
        assert!(failed.contains("demo key in PostgreSQL failed"), "{failed}");
        let garbled = create_demo_key(Path::new("echo"), url, dir).unwrap_err();
        assert!(garbled.contains("did not print one key"), "{garbled}");
        let missing =
            create_demo_key(Path::new("/nonexistent/gatewayz-gateway"), url, dir).unwrap_err();
        assert!(missing.contains("cannot run"), "{missing}");
    }
}
