//! A small YAML writer for the generated configuration files.
//!
//! Block style, keys in the order given, strings quoted only when YAML could read them as
//! something else; PromQL goes into literal blocks (`|-`) so it reads as written. The output is
//! checked by the tools that consume it (`promtool`, `amtool`), not by a YAML library of ours.

use std::fmt::Write;

/// A YAML node.
#[derive(Debug, Clone)]
pub(crate) enum Yaml {
    /// A mapping, in this order.
    Map(Vec<(String, Yaml)>),
    /// A sequence.
    Seq(Vec<Yaml>),
    /// A string, plain or quoted as needed.
    Str(String),
    /// A string written as a literal block (`|-`), one source line per line.
    Block(String),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A node preceded by `#` comment lines (only inside sequences and mappings).
    Commented(String, Box<Yaml>),
}

impl Yaml {
    /// A mapping from `(key, value)` pairs.
    pub(crate) fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Yaml)>) -> Yaml {
        Yaml::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A string.
    pub(crate) fn str(value: impl Into<String>) -> Yaml {
        Yaml::Str(value.into())
    }

    /// A sequence of strings.
    pub(crate) fn strs<S: Into<String>>(values: impl IntoIterator<Item = S>) -> Yaml {
        Yaml::Seq(values.into_iter().map(|v| Yaml::Str(v.into())).collect())
    }

    /// PromQL (or any multi-line text): a literal block when it spans lines, else a string.
    pub(crate) fn expr(value: impl Into<String>) -> Yaml {
        let value = value.into();
        if value.contains('\n') {
            Yaml::Block(value)
        } else {
            Yaml::Str(value)
        }
    }

    /// This node with comment lines before it.
    pub(crate) fn commented(self, comment: impl Into<String>) -> Yaml {
        Yaml::Commented(comment.into(), Box::new(self))
    }
}

/// The document: `# header` lines, then `root`.
pub(crate) fn document(header: &str, root: &Yaml) -> String {
    let mut out = String::new();
    comment(&mut out, header, 0);
    node(&mut out, root, 0);
    out
}

fn comment(out: &mut String, text: &str, indent: usize) {
    for line in text.lines() {
        if line.is_empty() {
            let _ = writeln!(out, "{:indent$}#", "");
        } else {
            let _ = writeln!(out, "{:indent$}# {line}", "");
        }
    }
}

/// Writes a top-level (or nested) node starting at `indent`.
fn node(out: &mut String, value: &Yaml, indent: usize) {
    match value {
        Yaml::Map(entries) => map(out, entries, indent),
        Yaml::Seq(items) => seq(out, items, indent),
        Yaml::Commented(text, inner) => {
            comment(out, text, indent);
            node(out, inner, indent);
        }
        scalar => {
            let _ = writeln!(out, "{:indent$}{}", "", inline(scalar));
        }
    }
}

fn map(out: &mut String, entries: &[(String, Yaml)], indent: usize) {
    for (key, value) in entries {
        entry(out, key, value, indent);
    }
}

fn entry(out: &mut String, key: &str, value: &Yaml, indent: usize) {
    let key = scalar_str(key);
    match value {
        Yaml::Commented(text, inner) => {
            comment(out, text, indent);
            entry(out, &key, inner, indent);
        }
        Yaml::Map(entries) if entries.is_empty() => {
            let _ = writeln!(out, "{:indent$}{key}: {{}}", "");
        }
        Yaml::Seq(items) if items.is_empty() => {
            let _ = writeln!(out, "{:indent$}{key}: []", "");
        }
        Yaml::Map(entries) => {
            let _ = writeln!(out, "{:indent$}{key}:", "");
            map(out, entries, indent + 2);
        }
        Yaml::Seq(items) => {
            let _ = writeln!(out, "{:indent$}{key}:", "");
            seq(out, items, indent + 2);
        }
        Yaml::Block(text) => {
            let _ = writeln!(out, "{:indent$}{key}: |-", "");
            block(out, text, indent + 2);
        }
        scalar => {
            let _ = writeln!(out, "{:indent$}{key}: {}", "", inline(scalar));
        }
    }
}

fn seq(out: &mut String, items: &[Yaml], indent: usize) {
    for item in items {
        let mut item = item;
        while let Yaml::Commented(text, inner) = item {
            comment(out, text, indent);
            item = inner;
        }
        match item {
            Yaml::Map(entries) if !entries.is_empty() => {
                // The first entry goes on the dash line: render at indent + 2, then swap the
                // first line's indentation for the dash.
                let mut nested = String::new();
                map(&mut nested, entries, indent + 2);
                let _ = write!(out, "{:indent$}- {}", "", &nested[indent + 2..]);
            }
            Yaml::Seq(items) if !items.is_empty() => {
                let _ = writeln!(out, "{:indent$}-", "");
                seq(out, items, indent + 2);
            }
            Yaml::Block(text) => {
                let _ = writeln!(out, "{:indent$}- |-", "");
                block(out, text, indent + 2);
            }
            Yaml::Map(_) => {
                let _ = writeln!(out, "{:indent$}- {{}}", "");
            }
            Yaml::Seq(_) => {
                let _ = writeln!(out, "{:indent$}- []", "");
            }
            scalar => {
                let _ = writeln!(out, "{:indent$}- {}", "", inline(scalar));
            }
        }
    }
}

fn block(out: &mut String, text: &str, indent: usize) {
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "{:indent$}{line}", "");
        }
    }
}

fn inline(value: &Yaml) -> String {
    match value {
        Yaml::Str(s) => scalar_str(s),
        Yaml::Int(i) => i.to_string(),
        Yaml::Float(f) if f.is_nan() => ".nan".to_owned(),
        Yaml::Float(f) => f.to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Block(s) => serde_json::to_string(s).expect("strings serialise"),
        Yaml::Map(_) | Yaml::Seq(_) | Yaml::Commented(..) => {
            unreachable!("collections are written by `node`")
        }
    }
}

/// `s` as a YAML scalar that reads back as the same string.
fn scalar_str(s: &str) -> String {
    if is_plain(s) {
        s.to_owned()
    } else if !s.contains('\'') && !s.chars().any(char::is_control) {
        format!("'{s}'")
    } else {
        serde_json::to_string(s).expect("strings serialise")
    }
}

/// Whether `s` can be written unquoted: a conservative alphabet, no YAML keywords, no numbers.
fn is_plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let alphabet = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_./:-".contains(c));
    let keyword = ["true", "false", "yes", "no", "on", "off", "null", "y", "n"]
        .iter()
        .any(|k| s.eq_ignore_ascii_case(k));
    let start = first.is_ascii_alphabetic() || first == '_' || first == '/' || is_duration(s);
    alphabet && !keyword && start && !s.ends_with(':')
}

/// A Prometheus duration such as `5m` or `1h30m`: unambiguous as a plain YAML string.
fn is_duration(s: &str) -> bool {
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ms", "s", "m", "h", "d", "w", "y"]
            .into_iter()
            .find(|u| rest.starts_with(u));
        match unit {
            Some(unit) => rest = &rest[unit.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: &Yaml, expected: &str) {
        assert_eq!(document("header", value), format!("# header\n{expected}"));
    }

    #[test]
    fn strings_are_quoted_only_when_yaml_would_misread_them() {
        check(
            &Yaml::strs([
                "gatewayz", "5m", "1h30m", "0.5", "yes", "a b", "it's", "x=\"y\"", "",
            ]),
            "- gatewayz\n- 5m\n- 1h30m\n- '0.5'\n- 'yes'\n- 'a b'\n- \"it's\"\n- 'x=\"y\"'\n- ''\n",
        );
    }

    #[test]
    fn maps_in_sequences_start_on_the_dash_line() {
        check(
            &Yaml::map([(
                "groups",
                Yaml::Seq(vec![
                    Yaml::map([
                        ("name", Yaml::str("g")),
                        ("rules", Yaml::Seq(vec![])),
                        ("expr", Yaml::expr("sum(\n  x\n)")),
                    ])
                    .commented("a group"),
                ]),
            )]),
            "groups:\n  # a group\n  - name: g\n    rules: []\n    expr: |-\n      sum(\n        x\n      )\n",
        );
    }
}
