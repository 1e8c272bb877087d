//! External tools the tests need, and how to get them on a fresh Debian machine.
//!
//! Tests find a tool with [`require`], which fails with the fix when it is missing: a test that
//! needs `promtool` never passes by skipping.

use std::{
    env,
    path::PathBuf,
    process::{Command, Stdio},
};

use crate::{Result, run};

/// A binary the tests run, and the Debian package that provides it.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// The executable's name, looked up on `PATH`.
    pub binary: &'static str,
    /// The Debian package that installs it.
    pub package: &'static str,
}

/// Prometheus's rule, config and metrics checker.
pub const PROMTOOL: Tool = Tool {
    binary: "promtool",
    package: "prometheus",
};

/// The Prometheus server (Debian 2.42).
pub const PROMETHEUS: Tool = Tool {
    binary: "prometheus",
    package: "prometheus",
};

/// Alertmanager's config checker and routing tester.
pub const AMTOOL: Tool = Tool {
    binary: "amtool",
    package: "prometheus-alertmanager",
};

/// The Alertmanager server (Debian 0.25 names it `prometheus-alertmanager`).
pub const ALERTMANAGER: Tool = Tool {
    binary: "prometheus-alertmanager",
    package: "prometheus-alertmanager",
};

/// The HTTP load generator of the endpoint load benchmark (`cargo xtask bench`).
pub const WRK: Tool = Tool {
    binary: "wrk",
    package: "wrk",
};

/// Headless Chromium, for the status page's browser test (`chromium` on Debian 12).
pub const CHROMIUM: Tool = Tool {
    binary: "chromium",
    package: "chromium",
};

/// The WebDriver server the browser test drives Chromium through; same version as Chromium.
pub const CHROMEDRIVER: Tool = Tool {
    binary: "chromedriver",
    package: "chromium-driver",
};

/// What `cargo xtask test` provides before running the tests.
pub const TEST_TOOLS: &[Tool] = &[
    PROMTOOL,
    PROMETHEUS,
    AMTOOL,
    ALERTMANAGER,
    CHROMIUM,
    CHROMEDRIVER,
];

/// Finds `binary` on `PATH`.
pub fn find(binary: &str) -> Option<PathBuf> {
    let paths = env::var_os("PATH")?;
    env::split_paths(&paths)
        .map(|dir| dir.join(binary))
        .find(|path| path.is_file())
}

/// The path of `tool`: `$PROMTOOL` (the binary name upper-cased, `-` as `_`) if set, else the
/// binary on `PATH`; an error saying how to install it otherwise.
pub fn require(tool: Tool) -> Result<PathBuf> {
    let variable = tool.binary.to_uppercase().replace('-', "_");
    if let Some(path) = env::var_os(&variable) {
        return Ok(path.into());
    }
    find(tool.binary).ok_or_else(|| {
        format!(
            "{binary} is not installed and this test needs it. Run `cargo xtask test`, which \
             installs it, or `apt-get install {package}` (Debian), or set {variable}=/path/to/{binary}",
            binary = tool.binary,
            package = tool.package,
        )
    })
}

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

/// The official OpenAI Python SDK, pinned, that the gateway's compatibility test drives.
pub const OPENAI_SDK: &str = "openai==3.57.0";

/// Where `cargo xtask test` keeps a Python virtual environment with [`OPENAI_SDK`]: under the
/// workspace's `target/`, so nothing outside the checkout changes.
pub fn openai_venv() -> PathBuf {
    crate::workspace_root().join("target/tools/openai-sdk")
}

/// The Python that has the OpenAI SDK: `$GATEWAYZ_OPENAI_PYTHON` if set, else the one in
/// [`openai_venv`]; an error saying how to get it otherwise.
pub fn openai_python() -> Result<PathBuf> {
    if let Some(path) = env::var_os("GATEWAYZ_OPENAI_PYTHON") {
        return Ok(path.into());
    }
    let python = openai_venv().join("bin/python");
    if python.is_file() {
        return Ok(python);
    }
    let venv = openai_venv();
    Err(format!(
        "the OpenAI Python SDK is not installed and this test needs it. Run `cargo xtask test`, \
         which installs it, or `python3 -m venv {venv} && {venv}/bin/pip install {OPENAI_SDK}`, \
         or set GATEWAYZ_OPENAI_PYTHON to a Python that can `import openai`",
        venv = venv.display(),
    ))
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
