//! Child processes for tests and local stacks: started with their output in a log file, waited
//! for until they serve, stopped with every process they started when dropped, and explained
//! (the end of their log) when they die or never get ready.
//!
//! ```no_run
//! use std::{process::Command, time::Duration};
//! use gatewayz_testkit::process::{Process, free_port};
//!
//! let port = free_port();
//! let mut command = Command::new("prometheus");
//! command.arg(format!("--web.listen-address=127.0.0.1:{port}"));
//! let mut prometheus = Process::start("prometheus", &mut command, "/tmp/prometheus.log")?;
//! prometheus.wait_for_http(&format!("http://127.0.0.1:{port}/-/ready"), Duration::from_secs(60))?;
//! // ... dropped at the end of the test, or when it panics (the log's end is printed then).
//! # Ok::<(), String>(())
//! ```
//!
//! # Behaviour
//!
//! - **Stopping.** On drop (or [`Process::stop`]), the process and its descendants, found
//!   through `/proc`, get SIGKILL, or SIGTERM first with [`Process::stop_gracefully`]. A browser
//!   driver's browser, or a shell's children, die with it.
//! - **Process group.** Children stay in the caller's process group, so Ctrl-C in a terminal
//!   reaches them as it reaches the test (or `cargo xtask stack`): an interrupted run, whose
//!   destructors never run, leaves nothing behind. A group of their own would survive it.
//! - **Logs.** Standard output and error go to one file, created with its directory; standard
//!   input is closed.
//! - Linux only, like the rest of the test set-up (`/proc`, `kill`).

use std::{
    collections::{BTreeSet, HashMap},
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::http::Http;

/// A free loopback port: bound on port 0, then released for the process that will listen on it.
///
/// Another process could take it in between; on a test machine that race is rare and shows up
/// as a clear "address in use" in the log of the process that lost it.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A supervised child process; stopped, with its descendants, when dropped.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Child,
    log: PathBuf,
    grace: Option<Duration>,
}

impl Process {
    /// Starts `command` as `name`, its standard output and error in `log`.
    ///
    /// # Errors
    /// When the log cannot be created or the program cannot be started.
    pub fn start(
        name: &str,
        command: &mut Command,
        log: impl Into<PathBuf>,
    ) -> Result<Process, String> {
        let log = log.into();
        if let Some(dir) = log.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let file =
            fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err = file
            .try_clone()
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {name} ({}): {e}",
                    command.get_program().to_string_lossy()
                )
            })?;
        Ok(Process {
            name: name.to_owned(),
            child,
            log,
            grace: None,
        })
    }

    /// When stopped, sends SIGTERM first and waits up to `grace` for a clean exit (a server
    /// draining requests, a database closing its files) before SIGKILL.
    pub fn stop_gracefully(mut self, grace: Duration) -> Process {
        self.grace = Some(grace);
        self
    }

    /// The name it was started as.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// An error with the end of its log if it has exited.
    ///
    /// # Errors
    /// When the process is no longer running.
    pub fn check_running(&mut self) -> Result<(), String> {
        match self.exited() {
            Some(status) => Err(format!(
                "{} exited ({status}); end of {}:\n{}",
                self.name,
                self.log.display(),
                self.log_tail(40)
            )),
            None => Ok(()),
        }
    }

    /// Panics, with the end of its log, if it has exited.
    pub fn assert_running(&mut self) {
        if let Err(why) = self.check_running() {
            panic!("{why}");
        }
    }

    /// Polls `probe` every 50 ms until it returns `Some`, and returns that; fails with the end
    /// of the log if the process exits first or `timeout` passes.
    ///
    /// # Errors
    /// The process exited, or `timeout` passed; the message says which, and shows the log.
    pub fn wait_until<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut probe: impl FnMut() -> Option<T>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = probe() {
                return Ok(value);
            }
            if let Some(status) = self.exited() {
                return Err(format!(
                    "{} exited ({status}) before {what}; end of {}:\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail(40)
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{}: not {what} after {timeout:?}; end of {}:\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail(40)
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `GET url` answers with a 2xx status.
    ///
    /// # Errors
    /// As [`wait_until`](Self::wait_until).
    pub fn wait_for_http(&mut self, url: &str, timeout: Duration) -> Result<(), String> {
        let http = Http::with_timeout(Duration::from_secs(2));
        self.wait_until(&format!("answering {url}"), timeout, || {
            http.answers(url).then_some(())
        })
    }

    /// Waits until `path` holds a whole JSON document (a ready file), and returns it.
    ///
    /// # Errors
    /// As [`wait_until`](Self::wait_until).
    pub fn wait_for_json_file(&mut self, path: &Path, timeout: Duration) -> Result<Value, String> {
        self.wait_until(&format!("writing {}", path.display()), timeout, || {
            fs::read_to_string(path)
                .ok()
                .and_then(|text| serde_json::from_str(&text).ok())
        })
    }

    /// Sends SIGTERM to the process (not its descendants), as an orchestrator does.
    pub fn terminate(&self) {
        signal("TERM", &[self.pid()]);
    }

    /// Waits up to `timeout` for the process to exit, and returns its status.
    ///
    /// # Errors
    /// When it is still running after `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} did not exit within {timeout:?}; end of its log:\n{}",
                    self.name,
                    self.log_tail(40)
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the process and its descendants (see [`stop_gracefully`](Self::stop_gracefully))
    /// and reaps it.
    pub fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        if let Some(grace) = self.grace {
            self.terminate();
            if self.wait(grace).is_ok() {
                return;
            }
        }
        self.kill();
    }

    /// Kills the process and its descendants with SIGKILL at once, as a crash or the OOM
    /// killer would, and reaps it.
    pub fn kill(&mut self) {
        let mut tree = descendants(self.pid());
        tree.push(self.pid());
        signal("KILL", &tree);
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() {
            eprintln!(
                "--- end of the log of {} ({}) ---\n{}\n",
                self.name,
                self.log.display(),
                self.log_tail(25)
            );
        }
    }
}

/// Sends `SIG<name>` to `pids` through `kill(1)` (the workspace forbids `unsafe`, which a
/// direct `kill(2)` needs).
fn signal(name: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Every process descended from `root`, from `/proc/<pid>/stat` (children before grandchildren).
fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so read after
        // the last `)`.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut found = Vec::new();
    let mut seen = BTreeSet::from([root]);
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        for child in children.get(&pid).into_iter().flatten() {
            if seen.insert(*child) {
                found.push(*child);
                queue.push(*child);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[test]
    fn dropping_a_process_stops_its_children_too() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let mut process = Process::start(
            "shell",
            &mut shell(&format!(
                "sleep 300 & echo $! > {0}.tmp && mv {0}.tmp {0}; wait",
                pids.display()
            )),
            dir.path().join("shell.log"),
        )
        .unwrap();
        let child: u32 = process
            .wait_until("writing its child's pid", Duration::from_secs(10), || {
                fs::read_to_string(&pids).ok()?.trim().parse().ok()
            })
            .unwrap();
        assert!(Path::new(&format!("/proc/{child}")).exists());
        drop(process);
        // The sleep was SIGKILLed; as an orphan, init reaps it right away.
        let gone = (0..100).any(|_| {
            thread::sleep(Duration::from_millis(20));
            fs::read_to_string(format!("/proc/{child}/stat"))
                .map_or(true, |stat| stat.contains(") Z "))
        });
        assert!(gone, "the child {child} of a dropped process still runs");
    }

    #[test]
    fn a_process_that_dies_while_awaited_says_why_with_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut process = Process::start(
            "failing",
            &mut shell("echo 'cannot bind :9090' >&2; exit 3"),
            dir.path().join("logs/failing.log"),
        )
        .unwrap();
        let error = process
            .wait_for_http("http://127.0.0.1:9/never", Duration::from_secs(10))
            .unwrap_err();
        assert!(
            error.contains("failing exited") && error.contains("cannot bind :9090"),
            "{error}"
        );
    }

    #[test]
    fn a_process_that_never_gets_ready_times_out_with_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut process = Process::start(
            "slow",
            &mut shell("echo starting; sleep 30"),
            dir.path().join("slow.log"),
        )
        .unwrap();
        let error = process
            .wait_for_json_file(&dir.path().join("ready.json"), Duration::from_millis(300))
            .unwrap_err();
        assert!(
            error.contains("not writing") && error.contains("starting"),
            "{error}"
        );
    }

    #[test]
    fn a_graceful_stop_lets_the_process_handle_sigterm() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("cleaned-up");
        let mut process = Process::start(
            "trapping",
            &mut shell(&format!(
                "trap 'touch {}; exit 0' TERM; echo ready; while true; do sleep 0.1; done",
                marker.display()
            )),
            dir.path().join("trapping.log"),
        )
        .unwrap()
        .stop_gracefully(Duration::from_secs(10));
        let log = process.log_path().to_owned();
        process
            .wait_until("ready", Duration::from_secs(10), || {
                fs::read_to_string(&log)
                    .ok()?
                    .contains("ready")
                    .then_some(())
            })
            .unwrap();
        process.stop();
        assert!(marker.exists(), "SIGTERM was not delivered before SIGKILL");
    }
}
