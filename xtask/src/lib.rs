//! Project automation for gatewayz-observability: a thin runner, with no product logic.
//!
//! The `cargo xtask` binary (an alias in `.cargo/config.toml`) is a thin wrapper over [`cli`]:
//!
//! - `cargo xtask test`: provides the tools the tests need (Debian's `prometheus`,
//!   `prometheus-alertmanager`, `chromium`, `chromium-driver`, `redis-server` and `postgresql`
//!   packages, and the OpenAI Python SDK), then runs `cargo fmt --check`, clippy with `-D warnings`
//!   (also on the umbrella crate and the registry without their default features; clippy's
//!   `incompatible_msrv` holds the code to the declared `rust-version`), rustdoc with `-D warnings`
//!   (broken doc links), the whole test suite, and the publish dry-run of every library crate
//!   ([`package`]).
//! - `cargo xtask codegen [--check]`: regenerates (or checks) `dashboards/` and the generated
//!   docs from `dashboards/deploy.toml` with the `gatewayz-artefacts` library
//!   ([`codegen`](mod@codegen)).
//! - `cargo xtask bench [--quick] [--write]`: runs every benchmark and prints one table of
//!   results against their baselines and targets ([`bench`](mod@bench)); `--write` puts it in
//!   `docs/performance.md`.
//! - `cargo xtask package`: the packaging check of `cargo xtask test` alone ([`package`]).
//! - `cargo xtask stack [--replicas N] [--retention 7d]`: runs the example gateway (N replicas
//!   sharing circuits through Redis and keys, credits and ledger through PostgreSQL),
//!   Prometheus and (if installed) Alertmanager with the generated configuration, data under
//!   `target/stack/`.
//!
//! The dashboards, rules and configuration are the `gatewayz-artefacts` crate; the process
//! supervision, HTTP client and tool lookup are `gatewayz-testkit`'s.
//!
//! ```
//! assert!(xtask::cli(&["help".to_owned()]).is_ok());
//! assert!(xtask::cli(&["nonsense".to_owned()]).unwrap_err().contains("nonsense"));
//! ```

pub mod bench;
pub mod codegen;
pub mod package;
pub mod stack;
pub mod tools;

use std::{
    env,
    path::{Path, PathBuf},
    process::Command,
};

/// Errors are messages for a person: what went wrong and what to do.
pub type Result<T = ()> = std::result::Result<T, String>;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test               install what the tests need, then fmt --check, clippy -D warnings,
                     cargo doc -D warnings, cargo test, publish dry-run and packaged tests
  codegen [--check]  regenerate the files derived from the catalogue (or only check them)
  bench [--quick] [--write]
                     run every benchmark, print one table (--write: into docs/performance.md)
  package            publish dry-run of every library crate, then build their packaged tests
  stack [--replicas N] [--retention DURATION] [--no-alertmanager]
                     run the example gateway, Prometheus and Alertmanager locally (Ctrl-C stops)

The dashboards, rules and docs come from dashboards/deploy.toml through gatewayz-artefacts,
which operators run as `gatewayz-artefacts generate --config deploy.toml --out DIR`.
";

/// Runs the command line `args` (without the program name).
pub fn cli(args: &[String]) -> Result {
    match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("codegen") => match args.get(1).map(String::as_str) {
            None => codegen::run(codegen::Mode::Write),
            Some("--check") => codegen::run(codegen::Mode::Check),
            Some(other) => Err(format!("unknown codegen option `{other}`")),
        },
        Some("stack") => stack::run(&args[1..]),
        Some("package") => package::check(),
        Some("bench") => bench::run(bench::Options::parse(&args[1..])?),
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    }
}

fn test() -> Result {
    tools::ensure(gatewayz_testkit::tools::TEST_TOOLS)?;
    tools::ensure_openai_sdk()?;
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    // Features a service may leave out: the crates must build and lint without them.
    for (package, features) in [
        ("gatewayz", "--no-default-features"),
        ("gatewayz-registry", "--no-default-features"),
    ] {
        cargo(&["clippy", "-p", package, features, "--", "-D", "warnings"])?;
    }
    // Broken intra-doc links are warnings only to rustdoc, which neither clippy nor the
    // doctests run.
    run(cargo_command(&["doc", "--workspace", "--no-deps"]).env("RUSTDOCFLAGS", "-D warnings"))?;
    cargo(&["test", "--workspace"])?;
    package::check()?;
    Ok(())
}

/// Runs cargo (the one running us) in the workspace root.
pub(crate) fn cargo(args: &[&str]) -> Result {
    run(&mut cargo_command(args))
}

/// Cargo (the one running us) with `args`, in the workspace root.
pub(crate) fn cargo_command(args: &[&str]) -> Command {
    let mut command = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.args(args).current_dir(workspace_root());
    command
}

pub(crate) fn run(command: &mut Command) -> Result {
    eprintln!("$ {}", display(command));
    let status = command
        .status()
        .map_err(|e| format!("could not start {}: {e}", display(command)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", display(command)))
    }
}

fn display(command: &Command) -> String {
    let mut words = vec![
        Path::new(command.get_program())
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
    ];
    words.extend(command.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

/// The root of the workspace (the parent of `xtask/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_owned()
}
