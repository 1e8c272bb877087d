//! A strict parser for text format 0.0.4, as our renderer writes it.
//!
//! It rejects anything a Prometheus server would reject (duplicate `# TYPE`, samples outside
//! their family, duplicate series, broken histograms) and a little more that we promise
//! (every family has `# HELP`, no timestamps).

use std::collections::{BTreeMap, HashSet};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Sample name (`x_bucket` for a histogram's bucket).
    pub name: String,
    /// Label pairs, in the order written.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// The value of label `name`.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One metric family: its metadata and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Family name.
    pub name: String,
    /// Unescaped `# HELP` text.
    pub help: String,
    /// `counter`, `gauge` or `histogram`.
    pub kind: String,
    /// Samples, in the order written.
    pub samples: Vec<Sample>,
}

/// A parsed exposition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    /// Families, in the order written.
    pub families: Vec<Family>,
}

impl Exposition {
    /// The family named `name`.
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.name == name)
    }

    /// Family names, in the order written.
    pub fn family_names(&self) -> Vec<&str> {
        self.families.iter().map(|f| f.name.as_str()).collect()
    }

    /// Every sample, across families.
    pub fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.families.iter().flat_map(|f| f.samples.iter())
    }

    /// The one sample named `name` whose labels include `labels`; panics unless exactly one.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let matching: Vec<&Sample> = self
            .samples()
            .filter(|s| s.name == name && labels.iter().all(|(n, v)| s.label(n) == Some(*v)))
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "expected one sample {name}{labels:?}, got {matching:?}"
        );
        matching[0].value
    }

    /// Sum of the samples named `name` whose labels include `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples()
            .filter(|s| s.name == name && labels.iter().all(|(n, v)| s.label(n) == Some(*v)))
            .map(|s| s.value)
            .sum()
    }

    /// Distinct series (a histogram series counts once, whatever its buckets).
    pub fn series_count(&self) -> usize {
        self.families
            .iter()
            .map(|f| {
                let distinct: HashSet<Vec<(String, String)>> = f
                    .samples
                    .iter()
                    .map(|s| {
                        s.labels
                            .iter()
                            .filter(|(n, _)| n != "le")
                            .cloned()
                            .collect()
                    })
                    .collect();
                distinct.len()
            })
            .sum()
    }
}

/// Parses `text`, or says what is wrong with it and where.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let mut exposition = Exposition::default();
    let mut pending_help: Option<(String, String)> = None;
    let mut typed = HashSet::new();
    let mut seen_series = HashSet::new();
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("exposition must end with a newline".into());
    }
    for (number, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", number + 1);
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest
                .split_once(' ')
                .ok_or_else(|| at("HELP without text".into()))?;
            pending_help = Some((name.to_owned(), unescape_help(help).map_err(at)?));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| at("TYPE without kind".into()))?;
            if !matches!(kind, "counter" | "gauge" | "histogram") {
                return Err(at(format!("unexpected type {kind}")));
            }
            if !typed.insert(name.to_owned()) {
                return Err(at(format!("second TYPE line for {name}")));
            }
            let help = match pending_help.take() {
                Some((help_name, help)) if help_name == name => help,
                _ => return Err(at("TYPE not preceded by its HELP".into())),
            };
            exposition.families.push(Family {
                name: name.to_owned(),
                help,
                kind: kind.to_owned(),
                samples: Vec::new(),
            });
        } else if line.starts_with('#') {
            return Err(at("unexpected comment".into()));
        } else {
            let sample = parse_sample(line).map_err(at)?;
            let family = exposition
                .families
                .last_mut()
                .ok_or_else(|| at("sample before any TYPE".into()))?;
            let allowed = match family.kind.as_str() {
                "histogram" => ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| sample.name == format!("{}{suffix}", family.name)),
                _ => sample.name == family.name,
            };
            if !allowed {
                return Err(at(format!("sample outside its family {}", family.name)));
            }
            let mut identity = sample.labels.clone();
            identity.sort();
            if !seen_series.insert((sample.name.clone(), identity)) {
                return Err(at("duplicate series".into()));
            }
            family.samples.push(sample);
        }
    }
    if pending_help.is_some() {
        return Err("HELP without TYPE at end".into());
    }
    for family in &exposition.families {
        if family.samples.is_empty() {
            return Err(format!("family {} has no samples", family.name));
        }
        if family.kind == "histogram" {
            check_histogram(family)?;
        }
    }
    Ok(exposition)
}

/// One histogram series as parsed: `(le, cumulative count)` pairs, `_sum`, `_count`.
#[derive(Default)]
struct HistogramSeries {
    buckets: Vec<(f64, f64)>,
    sum: Option<f64>,
    count: Option<f64>,
}

fn check_histogram(family: &Family) -> Result<(), String> {
    let mut series: BTreeMap<Vec<(String, String)>, HistogramSeries> = BTreeMap::new();
    for sample in &family.samples {
        let key: Vec<(String, String)> = sample
            .labels
            .iter()
            .filter(|(n, _)| n != "le")
            .cloned()
            .collect();
        let entry = series.entry(key).or_default();
        if sample.name.ends_with("_bucket") {
            let le = sample.label("le").ok_or("bucket without le")?;
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().map_err(|_| "bad le")?
            };
            entry.buckets.push((bound, sample.value));
        } else if sample.name.ends_with("_sum") {
            entry.sum = Some(sample.value);
        } else {
            entry.count = Some(sample.value);
        }
    }
    for (
        labels,
        HistogramSeries {
            buckets,
            sum,
            count,
        },
    ) in series
    {
        let what = format!("{}{labels:?}", family.name);
        let count = count.ok_or(format!("{what}: no _count"))?;
        sum.ok_or(format!("{what}: no _sum"))?;
        if buckets
            .windows(2)
            .any(|w| w[0].0 >= w[1].0 || w[0].1 > w[1].1)
        {
            return Err(format!(
                "{what}: buckets not ascending and cumulative: {buckets:?}"
            ));
        }
        match buckets.last() {
            Some((bound, inf)) if bound.is_infinite() && *inf == count => {}
            _ => {
                return Err(format!(
                    "{what}: +Inf bucket missing or not equal to _count"
                ));
            }
        }
    }
    Ok(())
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
    {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            let eq = rest.find("=\"").ok_or("label without =\"")?;
            let label = &rest[..eq];
            if label.is_empty()
                || !label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(format!("bad label name {label:?}"));
            }
            rest = &rest[eq + 2..];
            let (value, after) = take_label_value(rest)?;
            if labels.iter().any(|(n, _): &(String, String)| n == label) {
                return Err(format!("label {label} twice"));
            }
            labels.push((label.to_owned(), value));
            rest = after;
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            } else {
                return Err("expected , or } after label".into());
            }
        }
    }
    let value = rest
        .strip_prefix(' ')
        .ok_or("expected one space before the value")?;
    if value.contains(' ') {
        return Err("timestamps or trailing text are not expected".into());
    }
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().map_err(|_| format!("bad value {v:?}"))?,
    };
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

fn take_label_value(s: &str) -> Result<(String, &str), String> {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '\\')) => value.push('\\'),
                Some((_, '"')) => value.push('"'),
                Some((_, 'n')) => value.push('\n'),
                other => return Err(format!("bad escape {other:?}")),
            },
            '\n' => return Err("raw newline in label value".into()),
            c => value.push(c),
        }
    }
    Err("unterminated label value".into())
}

fn unescape_help(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                other => return Err(format!("bad escape in HELP {other:?}")),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}
