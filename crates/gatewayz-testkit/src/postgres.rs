//! A real PostgreSQL (Debian's `postgresql`: `initdb` and `postgres` from
//! `/usr/lib/postgresql/<version>/bin`, or `$INITDB` and `$POSTGRES`) on a loopback port, its
//! cluster in a directory of its own, for tests of what a fleet shares through it. It can be
//! stopped and started again on the same port, as a database restart is.
//!
//! PostgreSQL refuses to run as root: as root (CI), the cluster's directory is given to the
//! `postgres` user that Debian's package creates, the directories above it are made
//! traversable (`o+x`), and both programs run as that user through `setpriv`.

use std::{
    fs,
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use crate::{
    process::{Process, free_port},
    tools,
};

/// A running PostgreSQL on `127.0.0.1`, trusting local connections (user `postgres`, database
/// `postgres`); stopped when dropped.
#[derive(Debug)]
pub struct Postgres {
    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub url: String,
    /// Its port.
    pub port: u16,
    dir: PathBuf,
    process: Option<Process>,
    own_process_group: bool,
}

impl Postgres {
    /// Creates a cluster in `dir` and starts it; waits until it accepts connections.
    ///
    /// # Panics
    /// When PostgreSQL is not installed (with how to install it), when the cluster cannot be
    /// created, or when the server does not get ready (with its log).
    pub fn start(dir: &Path) -> Postgres {
        Postgres::create(dir, false)
    }

    /// As [`start`](Self::start), in a process group of its own: a Ctrl-C in the terminal,
    /// which reaches the whole foreground group, does not stop it. Whoever starts it this way
    /// stops it (dropping it) after its clients, as `cargo xtask stack` does after the
    /// replicas have written their last charges.
    ///
    /// # Panics
    /// As [`start`](Self::start).
    pub fn start_in_own_process_group(dir: &Path) -> Postgres {
        Postgres::create(dir, true)
    }

    fn create(dir: &Path, own_process_group: bool) -> Postgres {
        let initdb = tools::require(tools::INITDB).unwrap_or_else(|why| panic!("{why}"));
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        if is_root() {
            give_to_postgres(dir);
        }
        let data = dir.join("data");
        let mut command = as_postgres(&initdb);
        command
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "--encoding=UTF8"])
            .args(["--locale=C", "--no-sync"]);
        let output = command
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", initdb.display()));
        assert!(
            output.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let port = free_port();
        let mut postgres = Postgres {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            port,
            dir: dir.to_owned(),
            process: None,
            own_process_group,
        };
        postgres.restart();
        postgres
    }

    /// Stops it at once (SIGKILL, as a crash would; PostgreSQL recovers from its WAL on the
    /// next start): clients see their connections reset.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// Starts it again on the same port, after [`kill`](Self::kill); waits until it accepts
    /// connections.
    ///
    /// # Panics
    /// As [`start`](Self::start).
    pub fn restart(&mut self) {
        self.kill();
        let binary = server_binary();
        let isready = binary.with_file_name("pg_isready");
        let mut command = as_postgres(&binary);
        command
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&self.dir)
            // The tests restart the server process, never the machine: the OS keeps what was
            // written, and skipping fsync keeps them fast.
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .args(["-c", "max_connections=200"]);
        if self.own_process_group {
            command.process_group(0);
        }
        let log = self.dir.join("postgres.log");
        let mut process =
            Process::start("postgres", &mut command, log).unwrap_or_else(|why| panic!("{why}"));
        let port = self.port.to_string();
        process
            .wait_until("accepting connections", Duration::from_secs(60), || {
                Command::new(&isready)
                    .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-q"])
                    .status()
                    .is_ok_and(|s| s.success())
                    .then_some(())
            })
            .unwrap_or_else(|why| panic!("{why}"));
        self.process = Some(process);
    }

    /// Whether it is running.
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(|p| p.exited().is_none())
    }
}

/// The `postgres` binary, symbolic links resolved: its directory holds `pg_isready` and
/// `psql` of the same version (a link on `PATH` does not).
fn server_binary() -> PathBuf {
    let binary = tools::require(tools::POSTGRES).unwrap_or_else(|why| panic!("{why}"));
    fs::canonicalize(&binary).unwrap_or(binary)
}

/// `program` run as the `postgres` user when we are root, as ourselves otherwise. `setpriv`
/// (util-linux) execs the program in its own process rather than forking it as `runuser`
/// does: the server is then the supervised child itself, reaped as soon as it is killed, so a
/// restart never finds the old postmaster still registered in its lock file.
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("setpriv");
        command
            .args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ])
            .arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

/// Gives `dir` to the `postgres` user and lets it reach `dir` through its parents.
fn give_to_postgres(dir: &Path) {
    let status = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(dir)
        .status()
        .unwrap_or_else(|e| panic!("cannot run chown: {e}"));
    assert!(status.success(), "chown postgres {} failed", dir.display());
    for ancestor in dir.ancestors().skip(1) {
        let Ok(meta) = fs::metadata(ancestor) else {
            continue;
        };
        let mode = meta.permissions().mode();
        if mode & 0o001 == 0 {
            let _ = fs::set_permissions(ancestor, fs::Permissions::from_mode(mode | 0o001));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `sql` with the cluster's own `psql`; its output, unaligned, without headers.
    fn psql(postgres: &Postgres, sql: &str) -> String {
        let output = Command::new(server_binary().with_file_name("psql"))
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &postgres.url,
                "-c",
                sql,
            ])
            .output()
            .expect("psql runs");
        assert!(output.status.success(), "{sql}: {output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    #[test]
    fn a_cluster_serves_and_keeps_its_data_across_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let mut postgres = Postgres::start(dir.path());
        psql(
            &postgres,
            "CREATE TABLE t (n bigint); INSERT INTO t VALUES (42)",
        );
        postgres.kill();
        assert!(!postgres.is_running());
        postgres.restart();
        assert_eq!(psql(&postgres, "SELECT n FROM t"), "42");
    }

    /// The process group of process `pid`, from `/proc/<pid>/stat`.
    fn process_group(pid: &str) -> String {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // After `(comm)`, which may hold spaces: state, ppid, pgrp.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        rest.split_whitespace().nth(2).unwrap().to_owned()
    }

    #[test]
    fn a_cluster_can_be_kept_out_of_the_terminal_s_ctrl_c() {
        let dir = tempfile::tempdir().unwrap();
        let ours = process_group("self");
        let postmaster = |postgres: &Postgres| -> String {
            let pid = fs::read_to_string(postgres.dir.join("data/postmaster.pid")).unwrap();
            pid.lines().next().unwrap().to_owned()
        };
        let shared = Postgres::start(&dir.path().join("shared"));
        assert_eq!(process_group(&postmaster(&shared)), ours);
        let apart = Postgres::start_in_own_process_group(&dir.path().join("apart"));
        let pid = postmaster(&apart);
        assert_eq!(process_group(&pid), pid, "not the leader of its own group");
        assert_eq!(psql(&apart, "SELECT 1"), "1");
    }
}
