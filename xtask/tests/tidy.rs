//! Cheap habits, enforced on the whole tree: module docs, no skipped tests, no stray metric names.

use std::{
    collections::HashSet,
    fs,
    path::{Path, PathBuf},
};

use gatewayz_catalogue::CATALOGUE;

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

/// The sibling modules a module of a crate uses: `crate::m` paths, and items of `crate::{...}`
/// that the crate root re-exports from `m`.
fn module_uses(text: &str, modules: &[String], reexports: &[(String, String)]) -> Vec<String> {
    let mut used = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        // A `use crate::{...};` group, or one path.
        let end = if rest.starts_with('{') {
            rest.find("};").map_or(rest.len(), |e| e + 1)
        } else {
            rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len())
        };
        for word in rest[..end].split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            if let Some(module) = modules.iter().find(|m| *m == word) {
                used.push(module.clone());
            } else if let Some((_, module)) = reexports.iter().find(|(item, _)| item == word) {
                used.push(module.clone());
            }
        }
    }
    used.sort();
    used.dedup();
    used
}

#[test]
fn no_crate_has_a_module_cycle() {
    let mut cycles = Vec::new();
    for krate in fs::read_dir(root().join("crates")).unwrap().flatten() {
        let src = krate.path().join("src");
        let modules: Vec<String> = fs::read_dir(&src)
            .unwrap()
            .flatten()
            .filter_map(|e| {
                let path = e.path();
                let name = path.file_stem()?.to_str()?.to_owned();
                (name != "lib" && (path.is_dir() || path.extension()? == "rs")).then_some(name)
            })
            .collect();
        let lib = fs::read_to_string(src.join("lib.rs")).unwrap();
        // `pub use m::{A, B};` and `pub use m::A;` at the root: items re-exported from `m`.
        let mut reexports = Vec::new();
        for statement in lib.split(';') {
            let Some(path) = statement.trim().strip_prefix("pub use ") else {
                continue;
            };
            if let Some((module, items)) = path.split_once("::")
                && modules.iter().any(|m| m == module)
            {
                for item in items.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                    if !item.is_empty() {
                        reexports.push((item.to_owned(), module.to_owned()));
                    }
                }
            }
        }
        // The module's code: comments (doc links) and its unit tests say nothing of its uses.
        let read = |m: &String| {
            let file = src.join(format!("{m}.rs"));
            let file = if file.exists() {
                file
            } else {
                src.join(m).join("mod.rs")
            };
            let text = fs::read_to_string(file).unwrap_or_default();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            code.lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let edges: Vec<(String, Vec<String>)> = modules
            .iter()
            .map(|m| {
                let uses = module_uses(&read(m), &modules, &reexports);
                (m.clone(), uses.into_iter().filter(|u| u != m).collect())
            })
            .collect();
        // A depth-first search from every module; a path back to the start is a cycle.
        for (start, _) in &edges {
            let mut stack = vec![(start.clone(), vec![start.clone()])];
            let mut seen = HashSet::new();
            while let Some((at, path)) = stack.pop() {
                let next = &edges.iter().find(|(m, _)| *m == at).unwrap().1;
                for n in next {
                    if n == start {
                        let mut cycle = path.clone();
                        cycle.push(n.clone());
                        cycles.push(format!(
                            "{}: {}",
                            krate.file_name().to_string_lossy(),
                            cycle.join(" -> ")
                        ));
                    } else if seen.insert(n.clone()) {
                        let mut longer = path.clone();
                        longer.push(n.clone());
                        stack.push((n.clone(), longer));
                    }
                }
            }
        }
    }
    assert!(cycles.is_empty(), "module cycles: {cycles:#?}");
}
