//! External tools the tests need, and the Debian package of each.
//!
//! Tests find a tool with [`require`], which fails with the fix when it is missing: a test that
//! needs `promtool` never passes by skipping. `cargo xtask test` installs [`TEST_TOOLS`] and
//! the [`OPENAI_SDK`] before running the tests.

use std::{
    env,
    path::{Path, PathBuf},
};

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

/// Redis, for the tests of circuits shared by a fleet.
pub const REDIS_SERVER: Tool = Tool {
    binary: "redis-server",
    package: "redis-server",
};

/// PostgreSQL's server, for the tests of a key store shared by a fleet. Debian keeps its
/// binaries in `/usr/lib/postgresql/<version>/bin`, which [`find`] searches after `PATH`.
pub const POSTGRES: Tool = Tool {
    binary: "postgres",
    package: "postgresql",
};

/// PostgreSQL's cluster creator, from the same package as [`POSTGRES`].
pub const INITDB: Tool = Tool {
    binary: "initdb",
    package: "postgresql",
};

/// What `cargo xtask test` provides before running the tests.
pub const TEST_TOOLS: &[Tool] = &[
    PROMTOOL,
    PROMETHEUS,
    AMTOOL,
    ALERTMANAGER,
    CHROMIUM,
    CHROMEDRIVER,
    REDIS_SERVER,
    POSTGRES,
    INITDB,
];

/// Finds `binary` on `PATH`, then in Debian's PostgreSQL directories
/// (`/usr/lib/postgresql/<version>/bin`, the newest first), which are not on `PATH`.
pub fn find(binary: &str) -> Option<PathBuf> {
    let paths = env::var_os("PATH").unwrap_or_default();
    let mut postgres: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .collect();
    // Newest first: versions sort as numbers, "15" after "9.6".
    postgres.sort_by_key(|dir| {
        let version = dir
            .parent()
            .and_then(|v| v.file_name())
            .map(|v| v.to_owned());
        let major: Option<u32> = version.and_then(|v| v.to_str()?.split('.').next()?.parse().ok());
        std::cmp::Reverse(major)
    });
    env::split_paths(&paths)
        .chain(postgres)
        .map(|dir| dir.join(binary))
        .find(|path| path.is_file())
}

/// The path of `tool`: `$PROMTOOL` (the binary name upper-cased, `-` as `_`) if set, else the
/// binary on `PATH`; an error saying how to install it otherwise.
///
/// ```no_run
/// let promtool = gatewayz_testkit::tools::require(gatewayz_testkit::tools::PROMTOOL)
///     .unwrap_or_else(|why| panic!("{why}"));
/// ```
pub fn require(tool: Tool) -> Result<PathBuf, String> {
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

/// The official OpenAI Python SDK, pinned, that the gateway's compatibility test drives.
pub const OPENAI_SDK: &str = "openai==3.57.0";

/// Where `cargo xtask test` keeps a Python virtual environment with [`OPENAI_SDK`]: under the
/// workspace's `target/`, so nothing outside the checkout changes.
pub fn openai_venv() -> PathBuf {
    workspace_root().join("target/tools/openai-sdk")
}

/// The root of the workspace (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the testkit lives in crates/ of the workspace")
        .to_owned()
}

/// The Python that has the OpenAI SDK: `$GATEWAYZ_OPENAI_PYTHON` if set, else the one in
/// [`openai_venv`]; an error saying how to get it otherwise.
pub fn openai_python() -> Result<PathBuf, String> {
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
