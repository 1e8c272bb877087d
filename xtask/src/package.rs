//! `cargo xtask test`'s packaging check: every library crate packages and verifies, and the
//! tests and benchmarks it publishes build from its `.crate` alone.
//!
//! 1. `cargo publish --workspace --dry-run` packages every publishable crate in dependency
//!    order and builds each package against the packages of its siblings (cargo's local
//!    overlay registry), as crates.io would see them. Nothing is uploaded.
//! 2. The same packages are written to `target/package/` (`cargo package --no-verify`; stale
//!    tarballs are removed first), then unpacked into `target/package-check/`, a workspace of their own
//!    whose `[patch.crates-io]` points every gatewayz crate at its unpacked package, starting
//!    from this workspace's `Cargo.lock`; `cargo test --no-run --all-targets` there proves that
//!    what a package ships (its tests, benches, support modules, the README doctests'
//!    sources) builds without anything of this repository: a test that reached for a file
//!    outside its crate, or for an unpublished crate, fails here. It shares `target/` with the
//!    workspace, so only the gatewayz crates themselves are compiled again.

use std::{fs, path::Path, process::Command};

use serde_json::Value;

use crate::{Result, cargo, cargo_command, run, workspace_root};

/// The workspace's publishable packages, by name, in `cargo metadata` order.
fn publishable() -> Result<Vec<(String, String)>> {
    let output = cargo_command(&["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .map_err(|e| format!("could not run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err("cargo metadata failed".into());
    }
    let metadata: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("cargo metadata printed no JSON: {e}"))?;
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    Ok(packages
        .iter()
        // `publish = false` shows as an empty list of registries.
        .filter(|p| p["publish"].as_array().is_none_or(|r| !r.is_empty()))
        .filter_map(|p| {
            Some((
                p["name"].as_str()?.to_owned(),
                p["version"].as_str()?.to_owned(),
            ))
        })
        .collect())
}

/// Runs both steps.
pub fn check() -> Result {
    let root = workspace_root();
    let packages = publishable()?;
    if packages.is_empty() {
        return Err("no publishable package found".into());
    }
    // `publish --dry-run` leaves its tarballs in a scratch directory of cargo's; the step
    // below packages again into `target/package/`, and no older tarball may stand in for it.
    let tarballs = root.join("target/package");
    for (name, version) in &packages {
        let file = tarballs.join(format!("{name}-{version}.crate"));
        if file.exists() {
            fs::remove_file(&file).map_err(|e| format!("cannot remove {}: {e}", file.display()))?;
        }
    }
    forget_overlay_builds(&root, &packages)?;
    cargo(&["publish", "--workspace", "--dry-run", "--allow-dirty"])?;
    let mut package = vec!["package", "--no-verify", "--allow-dirty"];
    for (name, _) in &packages {
        package.extend(["-p", name.as_str()]);
    }
    cargo(&package)?;
    let check = root.join("target/package-check");
    if check.exists() {
        fs::remove_dir_all(&check).map_err(|e| format!("cannot clear {}: {e}", check.display()))?;
    }
    fs::create_dir_all(&check).map_err(|e| format!("cannot create {}: {e}", check.display()))?;
    let mut members = Vec::new();
    let mut patches = Vec::new();
    for (name, version) in &packages {
        let file = root.join(format!("target/package/{name}-{version}.crate"));
        // `-m`: the tarball's fixed timestamps would let cargo's mtime fingerprints take a
        // previous run's build of the same path for fresh.
        run(Command::new("tar")
            .arg("-mxzf")
            .arg(&file)
            .arg("-C")
            .arg(&check))?;
        let dir = format!("{name}-{version}");
        members.push(format!("\"{dir}\""));
        patches.push(format!("{name} = {{ path = \"{dir}\" }}"));
    }
    let manifest = format!(
        "# Written by `cargo xtask test`: the packaged crates, built as crates.io users get them.\n\
         [workspace]\nresolver = \"3\"\nmembers = [{}]\n\n[patch.crates-io]\n{}\n",
        members.join(", "),
        patches.join("\n")
    );
    write(&check.join("Cargo.toml"), &manifest)?;
    let lock = fs::read_to_string(root.join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    write(&check.join("Cargo.lock"), &lock)?;
    run(
        cargo_command(&["test", "--workspace", "--all-targets", "--no-run"])
            .current_dir(&check)
            .env("CARGO_TARGET_DIR", root.join("target")),
    )
}

/// Removes what an earlier dry run left of this workspace's packages as registry crates.
///
/// `publish --workspace --dry-run` serves the packages it has made to the next ones' builds
/// from a local overlay registry. Cargo takes registry crates for immutable: it unpacks each
/// once into `$CARGO_HOME/registry/src/-<hash>/` (a directory named after the overlay, the
/// same for every run of this workspace) and never again, and it keeps their builds in
/// `target/` by version alone. A second dry run would then verify each crate against its
/// siblings as they were at the first run, and fail (or pass) for that. So every unpacked copy of
/// our packages goes, and every build of them from such a copy.
fn forget_overlay_builds(root: &Path, packages: &[(String, String)]) -> Result {
    let ours = |file: &str| {
        packages
            .iter()
            .any(|(name, _)| file.starts_with(&format!("{name}-")))
    };
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let src = cargo_home.join("registry/src");
    // Overlays are the registries without a host name: `-<hash>`.
    for overlay in entries(&src)?.filter(|dir| name_of(dir).starts_with('-')) {
        for unpacked in entries(&overlay)?.filter(|dir| ours(&name_of(dir))) {
            remove(&unpacked)?;
        }
    }
    let deps = root.join("target/debug/deps");
    for dep_info in entries(&deps)?.filter(|f| f.extension().is_some_and(|e| e == "d")) {
        let stem = name_of(&dep_info).trim_end_matches(".d").to_owned();
        let Some((crate_name, hash)) = stem.rsplit_once('-') else {
            continue;
        };
        if !ours(&format!("{}-", crate_name.replace('_', "-"))) {
            continue;
        }
        let text = fs::read_to_string(&dep_info).unwrap_or_default();
        if text.contains(&*src.join("-").to_string_lossy()) {
            let fingerprint = root.join(format!(
                "target/debug/.fingerprint/{}-{hash}",
                crate_name.replace('_', "-")
            ));
            remove(&fingerprint)?;
        }
    }
    Ok(())
}

/// The entries of `dir`, none if it does not exist.
fn entries(dir: &Path) -> Result<impl Iterator<Item = std::path::PathBuf>> {
    let read = match fs::read_dir(dir) {
        Ok(read) => Some(read),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    };
    Ok(read
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path()))
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn remove(path: &Path) -> Result {
    let removed = if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    match removed {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove {}: {e}", path.display())),
    }
}

fn write(path: &Path, text: &str) -> Result {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
