//! Prometheus durations (`15s`, `5m`, `1h30m`) as the configuration writes them.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, de};

/// A Prometheus duration: one or more `<integer><unit>`, units `ms`, `s`, `m`, `h`, `d`, `w`,
/// `y`, largest first. Kept as written, so generated files show what the configuration says.
///
/// ```
/// use gatewayz_artefacts::Duration;
///
/// let d: Duration = "1h30m".parse().unwrap();
/// assert_eq!(d.millis(), 90 * 60 * 1000);
/// assert_eq!(d.to_string(), "1h30m");
/// assert!("90 minutes".parse::<Duration>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Duration {
    text: String,
    millis: u64,
}

impl Duration {
    /// Milliseconds.
    pub fn millis(&self) -> u64 {
        self.millis
    }

    /// Whole seconds (rounded down).
    pub fn seconds(&self) -> u64 {
        self.millis / 1000
    }

    /// The duration of `millis` milliseconds, written in the largest unit that keeps it exact.
    pub fn from_millis(millis: u64) -> Duration {
        Duration {
            text: format_millis(millis),
            millis,
        }
    }

    /// The duration as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Duration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        parse_millis(text)
            .map(|millis| Duration {
                text: text.to_owned(),
                millis,
            })
            .ok_or_else(|| {
                format!("`{text}` is not a Prometheus duration (write e.g. 30s, 5m, 1h30m, 7d)")
            })
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// Milliseconds in a Prometheus duration, or `None` if `text` is not one.
pub(crate) fn parse_millis(text: &str) -> Option<u64> {
    const UNITS: [(&str, u64); 7] = [
        ("ms", 1),
        ("s", 1_000),
        ("m", 60_000),
        ("h", 3_600_000),
        ("d", 86_400_000),
        ("w", 7 * 86_400_000),
        ("y", 365 * 86_400_000),
    ];
    let mut rest = text;
    let mut total: u64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, millis) = UNITS
            .iter()
            .filter(|(unit, _)| rest.starts_with(unit))
            // `ms` before `m`: the longest unit that matches.
            .max_by_key(|(unit, _)| unit.len())?;
        rest = &rest[unit.len()..];
        total = total.checked_add(number.checked_mul(*millis)?)?;
    }
    Some(total)
}

/// Milliseconds as a Prometheus duration in the largest exact unit.
pub(crate) fn format_millis(millis: u64) -> String {
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if millis.is_multiple_of(size) && millis > 0 {
            return format!("{}{unit}", millis / size);
        }
    }
    format!("{millis}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_every_unit_and_refuse_anything_else() {
        for (text, millis) in [
            ("250ms", 250),
            ("15s", 15_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("7d", 604_800_000),
            ("1w", 604_800_000),
        ] {
            assert_eq!(parse_millis(text), Some(millis), "{text}");
        }
        for bad in ["", "5", "m", "5 m", "1.5h", "-1m", "5min"] {
            assert_eq!(parse_millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn milliseconds_format_in_the_largest_exact_unit() {
        assert_eq!(format_millis(90_000), "90s");
        assert_eq!(format_millis(120_000), "2m");
        assert_eq!(format_millis(1_500), "1500ms");
        assert_eq!(format_millis(86_400_000), "1d");
    }
}
