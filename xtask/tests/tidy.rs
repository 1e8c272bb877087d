//! Cheap habits, enforced on the whole tree: module docs, no skipped tests, no stray metric names.

use std::{
    fs,
    path::{Path, PathBuf},
};

use gatewayz_registry::catalogue::CATALOGUE;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Every file under `dir` (recursively) with one of `extensions`, skipping build output.
fn files(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            out.extend(files(&path, extensions));
        } else if path
            .extension()
            .is_some_and(|e| extensions.iter().any(|x| e == *x))
        {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap().display().to_string()
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let missing: Vec<String> = files(&root(), &["rs"])
        .into_iter()
        .filter(|path| !fs::read_to_string(path).unwrap().starts_with("//!"))
        .map(|path| relative(&path))
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not start with a `//!` doc comment: {missing:?}"
    );
}

#[test]
fn no_trailing_whitespace_in_sources_and_docs() {
    let mut offenders = Vec::new();
    for path in files(
        &root(),
        &[
            "rs", "md", "toml", "yml", "yaml", "json", "html", "css", "js",
        ],
    ) {
        let text = fs::read_to_string(&path).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.ends_with([' ', '\t']) {
                offenders.push(format!("{}:{}", relative(&path), i + 1));
            }
        }
    }
    assert!(offenders.is_empty(), "trailing whitespace at {offenders:?}");
}

#[test]
fn no_skipped_or_panic_expecting_tests() {
    // A skipped test passes silently; assert today's behaviour and leave a FIXME instead.
    let needles = [concat!("#[", "ignore"), concat!("#[", "should_panic")];
    let offenders: Vec<String> = files(&root(), &["rs"])
        .into_iter()
        .filter(|path| {
            let text = fs::read_to_string(path).unwrap();
            needles.iter().any(|n| text.contains(n))
        })
        .map(|path| relative(&path))
        .collect();
    assert!(offenders.is_empty(), "{offenders:?}");
}

#[test]
fn metric_names_are_spelled_only_in_the_catalogue() {
    // Library and binary code refers to `catalogue::X.name`; only tests, doc examples and
    // generated files may spell a name out.
    let mut offenders = Vec::new();
    let sources = ["crates", "examples"].map(|d| root().join(d));
    for path in sources.iter().flat_map(|dir| files(dir, &["rs"])) {
        let rel = relative(&path);
        let in_tests = rel.contains("/tests/") || rel.contains("/benches/");
        if in_tests || rel.starts_with("crates/gatewayz-catalogue/src/") {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        // Unit-test modules sit at the end of a file, after `#[cfg(test)]`.
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap()
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect();
        for def in CATALOGUE {
            if code.contains(&format!("\"{}\"", def.name)) {
                offenders.push(format!("{rel}: {}", def.name));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "metric names spelled outside the catalogue: {offenders:?}"
    );
}

#[test]
fn every_crate_inherits_the_declared_rust_version() {
    // `rust-version` is what clippy's `incompatible_msrv` (on in `cargo xtask test`) holds the
    // use of standard-library APIs to. Language features it cannot see; the ones newer than
    // the edition's 1.85 that the code uses are listed here, so raising the floor is a decision
    // and lowering it below them fails this test.
    const NEWEST_LANGUAGE_FEATURE: (&str, &str) = ("1.88", "let chains (`if let ... && let ...`)");
    let root_manifest = fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let declared = root_manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("the workspace declares rust-version")
        .trim_matches('"');
    let version = |v: &str| -> Vec<u32> { v.split('.').map(|p| p.parse().unwrap()).collect() };
    assert!(
        version(declared) >= version(NEWEST_LANGUAGE_FEATURE.0),
        "rust-version {declared} is older than {}, which {} need",
        NEWEST_LANGUAGE_FEATURE.0,
        NEWEST_LANGUAGE_FEATURE.1
    );
    let mut offenders = Vec::new();
    for manifest in files(&root(), &["toml"])
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "Cargo.toml") && p.parent() != Some(&root()))
    {
        let text = fs::read_to_string(&manifest).unwrap();
        if text.contains("[package]") && !text.contains("rust-version.workspace = true") {
            offenders.push(relative(&manifest));
        }
    }
    for path in files(&root(), &["rs"]) {
        if fs::read_to_string(&path)
            .unwrap()
            .contains(concat!("clippy::", "incompatible_msrv"))
        {
            offenders.push(relative(&path));
        }
    }
    assert!(
        offenders.is_empty(),
        "these do not inherit the workspace rust-version, or silence clippy's check of it: \
         {offenders:?}"
    );
}
