//! Installs the external tools the tests need on a fresh Debian machine (the tools themselves
//! and their packages are listed in `gatewayz_testkit::tools`, where the tests find them).

use std::{
    env,
    process::{Command, Stdio},
};

use gatewayz_testkit::tools::{OPENAI_SDK, Tool, find, openai_venv};

use crate::{Result, run};

/// Installs the packages of the missing tools with apt-get, or explains how to.
pub fn ensure(tools: &[Tool]) -> Result {
    let mut packages: Vec<&str> = tools
        .iter()
        .filter(|t| find(t.binary).is_none())
        .map(|t| t.package)
        .collect();
    packages.sort_unstable();
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
/// Creates [`openai_venv`] with [`OPENAI_SDK`] in it unless it is there (pip from PyPI).
pub fn ensure_openai_sdk() -> Result {
    if env::var_os("GATEWAYZ_OPENAI_PYTHON").is_some() {
        return Ok(());
    }
    let venv = openai_venv();
    let python = venv.join("bin/python");
    let wanted = OPENAI_SDK.trim_start_matches("openai==");
    let installed = Command::new(&python)
        .args(["-c", "import openai; print(openai.__version__)"])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == wanted);
    if installed {
        return Ok(());
    }
    let manual = format!(
        "python3 -m venv {venv} && {venv}/bin/pip install {OPENAI_SDK}",
        venv = venv.display()
    );
    let Some(python3) = find("python3") else {
        return Err(format!(
            "the tests need Python 3 for the OpenAI SDK test; install python3, then `{manual}`"
        ));
    };
    eprintln!(
        "installing the OpenAI Python SDK ({OPENAI_SDK}) into {}",
        venv.display()
    );
    run(Command::new(python3).arg("-m").arg("venv").arg(&venv))
        .map_err(|e| format!("{e}; install by hand with `{manual}`"))?;
    run(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        OPENAI_SDK,
    ]))
    .map_err(|e| format!("{e}; install by hand with `{manual}`"))
}
