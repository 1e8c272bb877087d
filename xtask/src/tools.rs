//! External tools the tests need, and how to get them on a fresh Debian machine.

use std::{
    env,
    path::PathBuf,
    process::{Command, Stdio},
};

use crate::{Result, run};

/// A binary the tests run, and the Debian package that provides it.
pub(crate) struct Tool {
    pub(crate) binary: &'static str,
    pub(crate) package: &'static str,
}

/// What `cargo xtask test` provides before running the tests.
pub(crate) const TEST_TOOLS: &[Tool] = &[
    Tool {
        binary: "promtool",
        package: "prometheus",
    },
    Tool {
        binary: "prometheus",
        package: "prometheus",
    },
];

/// Finds `binary` on `PATH`.
pub(crate) fn find(binary: &str) -> Option<PathBuf> {
    let paths = env::var_os("PATH")?;
    env::split_paths(&paths)
        .map(|dir| dir.join(binary))
        .find(|path| path.is_file())
}

/// Installs the packages of the missing tools with apt-get, or explains how to.
pub(crate) fn ensure(tools: &[Tool]) -> Result {
    let mut packages: Vec<&str> = tools
        .iter()
        .filter(|t| find(t.binary).is_none())
        .map(|t| t.package)
        .collect();
    packages.dedup();
    if packages.is_empty() {
        return Ok(());
    }
    let manual = format!(
        "apt-get update && apt-get install -y {}",
        packages.join(" ")
    );
    if find("apt-get").is_none() {
        return Err(format!(
            "the tests need {} and this machine has no apt-get; install the equivalent of `{manual}`",
            packages.join(", ")
        ));
    }
    let sudo: &[&str] = if is_root() {
        &[]
    } else if find("sudo").is_some() {
        &["sudo", "-n"]
    } else {
        return Err(format!(
            "the tests need {}; run as root: {manual}",
            packages.join(", ")
        ));
    };
    eprintln!("installing {} for the tests", packages.join(", "));
    let apt = |args: &[&str]| {
        let mut words: Vec<&str> = sudo.to_vec();
        words.push("apt-get");
        words.extend_from_slice(args);
        let mut command = Command::new(words[0]);
        command
            .args(&words[1..])
            .env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut command).map_err(|e| format!("{e}; install by hand with `{manual}`"))
    };
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(&packages);
    apt(&install)?;
    for tool in tools {
        if find(tool.binary).is_none() {
            return Err(format!(
                "{} is still missing after installing {}",
                tool.binary, tool.package
            ));
        }
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}
