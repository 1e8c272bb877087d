//! `cargo xtask codegen`: writes every generated file from the catalogue.
//!
//! Each generator builds its text in memory and hands it to [`ensure_file_contents`]. In check
//! mode (`--check`, and the test below) a stale file is an error telling to run codegen.

use std::{fs, path::Path};

use crate::{Result, workspace_root};

/// Whether codegen rewrites stale files or only reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Write,
    Check,
}

/// Every generated file: its path from the workspace root and its contents.
fn generated() -> Vec<(&'static str, String)> {
    vec![(
        "docs/metrics.md",
        gatewayz_registry::docs::reference_markdown(),
    )]
}

pub(crate) fn run(mode: Mode) -> Result {
    let root = workspace_root();
    let stale: Vec<String> = generated()
        .into_iter()
        .filter_map(|(path, contents)| {
            ensure_file_contents(&root.join(path), &contents, mode).err()
        })
        .collect();
    if stale.is_empty() {
        Ok(())
    } else {
        Err(stale.join("\n"))
    }
}

/// Makes `path` hold `contents`; in check mode, says so instead of writing.
fn ensure_file_contents(path: &Path, contents: &str, mode: Mode) -> Result {
    if fs::read_to_string(path).is_ok_and(|current| current == contents) {
        return Ok(());
    }
    let shown = path
        .strip_prefix(workspace_root())
        .unwrap_or(path)
        .display();
    match mode {
        Mode::Check => Err(format!(
            "{shown} was not up-to-date, run `cargo xtask codegen`"
        )),
        Mode::Write => {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            fs::write(path, contents).map_err(|e| format!("cannot write {shown}: {e}"))?;
            eprintln!("updated {shown}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_are_fresh() {
        if let Err(stale) = run(Mode::Check) {
            panic!("{stale}");
        }
    }
}
