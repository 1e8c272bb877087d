//! Writing the pieces of the Prometheus text format: numbers, escaped strings, names.

use std::borrow::Cow;

/// Appends a label value with `\`, `"` and newline escaped, as the text format requires.
pub(crate) fn push_label_value(out: &mut String, value: &str) {
    if !value.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends `# HELP` text, where only `\` and newline are escaped.
pub(crate) fn push_help(out: &mut String, help: &str) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends a float the way Prometheus clients do: integers without a fraction, `NaN`, `+Inf`.
pub(crate) fn push_f64(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        // Exact: integers below 2^53 convert losslessly; also prints -0.0 as 0.
        push_u64_or_i64(out, value as i64);
    } else {
        out.push_str(ryu::Buffer::new().format_finite(value));
    }
}

fn push_u64_or_i64(out: &mut String, value: i64) {
    out.push_str(itoa::Buffer::new().format(value));
}

/// Appends an integer.
pub(crate) fn push_u64(out: &mut String, value: u64) {
    out.push_str(itoa::Buffer::new().format(value));
}

/// Appends `raw / 10^decimals` as an exact decimal without trailing zeros.
pub(crate) fn push_fixed(out: &mut String, raw: u64, decimals: u32) {
    if decimals == 0 {
        push_u64(out, raw);
        return;
    }
    let divisor = 10u64.pow(decimals);
    push_u64(out, raw / divisor);
    let fraction = raw % divisor;
    if fraction == 0 {
        return;
    }
    out.push('.');
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(fraction);
    for _ in digits.len()..decimals as usize {
        out.push('0');
    }
    out.push_str(digits.trim_end_matches('0'));
}

/// Formats a float as [`push_f64`] does.
pub(crate) fn format_f64(value: f64) -> String {
    let mut out = String::new();
    push_f64(&mut out, value);
    out
}

/// Whether `name` is a valid Prometheus metric name.
pub(crate) fn is_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Whether `name` is a valid Prometheus label name.
pub(crate) fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Replaces every character Prometheus does not allow in a name by `_`.
pub(crate) fn sanitize_name(name: &str, allow_colon: bool) -> Cow<'_, str> {
    let valid = if allow_colon {
        is_metric_name(name)
    } else {
        is_label_name(name)
    };
    if valid {
        return Cow::Borrowed(name);
    }
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || (allow_colon && c == ':') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || (allow_colon && c == ':'))
    {
        out.insert(0, '_');
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(value: f64) -> String {
        format_f64(value)
    }

    fn fixed(raw: u64, decimals: u32) -> String {
        let mut out = String::new();
        push_fixed(&mut out, raw, decimals);
        out
    }

    #[test]
    fn floats_render_like_prometheus_clients() {
        assert_eq!(f(1.0), "1");
        assert_eq!(f(-0.0), "0");
        assert_eq!(f(0.005), "0.005");
        assert_eq!(f(300.0), "300");
        assert_eq!(f(1e-7), "1e-7");
        assert_eq!(f(f64::NAN), "NaN");
        assert_eq!(f(f64::NEG_INFINITY), "-Inf");
        assert_eq!(f(1e300), "1e300");
    }

    #[test]
    fn fixed_point_is_exact() {
        assert_eq!(fixed(0, 9), "0");
        assert_eq!(fixed(1, 9), "0.000000001");
        assert_eq!(fixed(1_500_000_000, 9), "1.5");
        assert_eq!(fixed(12_000_000_001, 9), "12.000000001");
        assert_eq!(fixed(u64::MAX, 9), "18446744073.709551615");
        assert_eq!(fixed(42, 0), "42");
    }

    #[test]
    fn label_values_escape_backslash_quote_and_newline_only() {
        let mut out = String::new();
        push_label_value(&mut out, "a\\b\"c\nd\te");
        assert_eq!(out, "a\\\\b\\\"c\\nd\te");
    }

    #[test]
    fn names_are_sanitized_to_prometheus_alphabet() {
        assert_eq!(
            sanitize_name("http.server.duration", true),
            "http_server_duration"
        );
        assert_eq!(sanitize_name("9lives", true), "_9lives");
        assert_eq!(sanitize_name("a:b", false), "a_b");
        assert_eq!(sanitize_name("ok_name", false), "ok_name");
    }
}
