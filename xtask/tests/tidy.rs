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
