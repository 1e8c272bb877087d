//! Project automation, run as `cargo xtask <command>` (an alias in `.cargo/config.toml`).
//!
//! - `cargo xtask test`: provides the tools the tests need (Debian's `prometheus` package for
//!   `promtool`), then runs `cargo fmt --check`, clippy with `-D warnings` and the whole test suite.
//! - `cargo xtask codegen [--check]`: regenerates (or checks) the files generated from the
//!   catalogue.

mod codegen;
mod tools;

use std::{
    env,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

type Result<T = ()> = std::result::Result<T, String>;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test               install what the tests need, then fmt --check, clippy -D warnings, cargo test
  codegen [--check]  regenerate the files derived from the catalogue (or only check them)
";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("codegen") => match args.get(1).map(String::as_str) {
            None => codegen::run(codegen::Mode::Write),
            Some("--check") => codegen::run(codegen::Mode::Check),
            Some(other) => Err(format!("unknown codegen option `{other}`")),
        },
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn test() -> Result {
    tools::ensure(tools::TEST_TOOLS)?;
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(&["test", "--workspace"])?;
    Ok(())
}

/// Runs cargo (the one running us) in the workspace root.
fn cargo(args: &[&str]) -> Result {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(cargo).args(args).current_dir(workspace_root()))
}

fn run(command: &mut Command) -> Result {
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

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_owned()
}
