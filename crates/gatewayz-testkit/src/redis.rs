//! A real Redis (Debian's `redis-server`, or `$REDIS_SERVER`) on a loopback port with its own
//! directory, for tests of what a fleet shares through it. It can be killed and started again
//! on the same port, as an outage is.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use crate::{
    process::{Process, free_port},
    tools,
};

/// A running `redis-server` on `127.0.0.1`, without persistence (a restart starts empty, the
/// harder case for its clients); stopped when dropped.
#[derive(Debug)]
pub struct Redis {
    /// `redis://127.0.0.1:PORT`.
    pub url: String,
    /// Its port.
    pub port: u16,
    dir: PathBuf,
    process: Option<Process>,
}

impl Redis {
    /// Starts Redis with its files in `dir`, and waits until it answers `PING`.
    ///
    /// # Panics
    /// When it is not installed (with how to install it), or does not get ready (with its log).
    pub fn start(dir: &Path) -> Redis {
        let port = free_port();
        let mut redis = Redis {
            url: format!("redis://127.0.0.1:{port}"),
            port,
            dir: dir.to_owned(),
            process: None,
        };
        redis.restart();
        redis
    }

    /// Kills it at once (SIGKILL), as a crash would: clients see their connections reset.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// Starts it again (empty) on the same port, after [`kill`](Self::kill); waits until it
    /// answers.
    ///
    /// # Panics
    /// As [`start`](Self::start).
    pub fn restart(&mut self) {
        self.kill();
        let binary = tools::require(tools::REDIS_SERVER).unwrap_or_else(|why| panic!("{why}"));
        std::fs::create_dir_all(&self.dir)
            .unwrap_or_else(|e| panic!("{}: {e}", self.dir.display()));
        let mut command = Command::new(binary);
        command
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir);
        let mut process = Process::start("redis-server", &mut command, self.dir.join("redis.log"))
            .unwrap_or_else(|why| panic!("{why}"));
        let port = self.port;
        process
            .wait_until("answering PING", Duration::from_secs(30), || {
                ping(port).then_some(())
            })
            .unwrap_or_else(|why| panic!("{why}"));
        self.process = Some(process);
    }

    /// Whether it is running.
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(|p| p.exited().is_none())
    }
}

/// Whether a Redis on `port` answers `PING` with `PONG`.
fn ping(port: u16) -> bool {
    let answer = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(1)))?;
        stream.write_all(b"PING\r\n")?;
        let mut buf = [0; 7];
        stream.read_exact(&mut buf)?;
        Ok(&buf == b"+PONG\r\n")
    };
    answer().unwrap_or(false)
}
