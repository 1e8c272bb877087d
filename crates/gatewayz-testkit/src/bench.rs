//! Machine-readable benchmark results: one `BENCH {json}` line per headline figure.
//!
//! Each benchmark prints its own markdown tables for people and, for `cargo xtask bench`, one
//! line per figure that goes into the project's unified table:
//!
//! ```
//! use gatewayz_testkit::bench::Line;
//!
//! let line = Line {
//!     bench: "exposition",
//!     measure: "render_all",
//!     ours: 0.95,
//!     baseline: Some(35.5),
//!     unit: "ms",
//!     target: ">= 8x faster",
//!     pass: Some(35.5 / 0.95 >= 8.0),
//!     ..Line::default()
//! };
//! assert_eq!(
//!     line.to_json(),
//!     r#"{"bench":"exposition","measure":"render_all","ours":0.95,"baseline":35.5,"unit":"ms","better":"lower","target":">= 8x faster","pass":true,"note":""}"#
//! );
//! line.print(); // BENCH {...}
//! ```

use std::fmt::Write;

/// Which way a figure is better.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Better {
    /// Times, costs, errors.
    #[default]
    Lower,
    /// Rates.
    Higher,
}

/// One headline result of a benchmark.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Line<'a> {
    /// The benchmark binary, e.g. `exposition`.
    pub bench: &'a str,
    /// What was measured.
    pub measure: &'a str,
    /// This project's figure.
    pub ours: f64,
    /// The baseline's figure from the same run, when there is a baseline.
    pub baseline: Option<f64>,
    /// Unit of both figures: `ns`, `µs`, `ms`, `%`, `req/s`, or empty for a count.
    pub unit: &'a str,
    /// Which way is better.
    pub better: Better,
    /// The target as the issue states it, or `reported`.
    pub target: &'a str,
    /// Whether the target is met; `None` when the figure is only reported or not judged.
    pub pass: Option<bool>,
    /// A detail shown next to the measure.
    pub note: &'a str,
}

impl Line<'_> {
    /// The JSON object.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        let fields: [(&str, String); 9] = [
            ("bench", string(self.bench)),
            ("measure", string(self.measure)),
            ("ours", number(Some(self.ours))),
            ("baseline", number(self.baseline)),
            ("unit", string(self.unit)),
            (
                "better",
                string(match self.better {
                    Better::Lower => "lower",
                    Better::Higher => "higher",
                }),
            ),
            ("target", string(self.target)),
            (
                "pass",
                self.pass.map_or("null".to_owned(), |p| p.to_string()),
            ),
            ("note", string(self.note)),
        ];
        for (i, (name, value)) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "\"{name}\":{value}");
        }
        out.push('}');
        out
    }

    /// Prints `BENCH {json}` on standard output.
    pub fn print(&self) {
        println!("BENCH {}", self.to_json());
    }
}

fn number(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v}"),
        _ => "null".to_owned(),
    }
}

fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_missing_figures_are_null() {
        let line = Line {
            bench: "b",
            measure: "say \"hi\"\\\n\u{1}",
            ours: f64::NAN,
            better: Better::Higher,
            ..Line::default()
        };
        assert_eq!(
            line.to_json(),
            r#"{"bench":"b","measure":"say \"hi\"\\\n\u0001","ours":null,"baseline":null,"unit":"","better":"higher","target":"","pass":null,"note":""}"#
        );
    }
}
