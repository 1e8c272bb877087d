//! Prometheus's template functions `humanize` and `humanizePercentage`, as Prometheus 2.x
//! writes them, so that the generated promtool cases can expect the exact annotation text.
//!
//! Both format with Go's `%.4g`: four significant digits, trailing zeros dropped, an exponent
//! (`1.235e+04`) from the fifth digit before the point or the fifth zero after it.

/// `{{ $value | humanize }}`: four significant digits with an SI prefix (`1.2k`, `350m`).
///
/// ```
/// use gatewayz_artefacts::rules::humanize;
///
/// assert_eq!(humanize(120.0), "120");
/// assert_eq!(humanize(1234.5678), "1.235k");
/// assert_eq!(humanize(0.05), "50m");
/// assert_eq!(humanize(0.0), "0");
/// ```
pub fn humanize(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return go_g4(value);
    }
    let mut v = value;
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", go_g4(v))
}

/// `{{ $value | humanizePercentage }}`: the ratio × 100, four significant digits, `%`.
///
/// ```
/// use gatewayz_artefacts::rules::humanize_percentage;
///
/// assert_eq!(humanize_percentage(0.5), "50%");
/// assert_eq!(humanize_percentage(0.6), "60%");
/// assert_eq!(humanize_percentage(1.0 / 3.0), "33.33%");
/// ```
pub fn humanize_percentage(ratio: f64) -> String {
    format!("{}%", go_g4(ratio * 100.0))
}

/// Go's `fmt.Sprintf("%.4g", v)`.
fn go_g4(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    // Four significant digits, correctly rounded: d.ddde±x.
    let scientific = format!("{:.3e}", v.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("scientific notation has an exponent");
    let exponent: i32 = exponent.parse().expect("an integer exponent");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let sign = if v < 0.0 { "-" } else { "" };
    if !(-4..4).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let point = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!(
            "{sign}{first}{point}{rest}e{exp_sign}{:02}",
            exponent.unsigned_abs()
        );
    }
    // Fixed notation: the decimal point sits `exponent + 1` digits into `digits`.
    let point = exponent + 1;
    let text = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else {
        let point = point as usize;
        if digits.len() <= point {
            format!("{digits}{}", "0".repeat(point - digits.len()))
        } else {
            format!("{}.{}", &digits[..point], &digits[point..])
        }
    };
    format!("{sign}{text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_g4_matches_gos_output() {
        // What `fmt.Sprintf("%.4g", v)` prints in Go.
        for (v, go) in [
            (50.0, "50"),
            (58.5, "58.5"),
            (100.0, "100"),
            (1000.0, "1000"),
            (9999.0, "9999"),
            (12345.0, "1.234e+04"),
            (0.5, "0.5"),
            (0.0001234, "0.0001234"),
            (0.00001234, "1.234e-05"),
            (33.333333, "33.33"),
            (-2.5, "-2.5"),
            (1.0, "1"),
            (120.00000000000001, "120"),
            (119.99999999999999, "120"),
        ] {
            assert_eq!(go_g4(v), go, "{v}");
        }
    }

    #[test]
    fn humanize_uses_si_prefixes() {
        assert_eq!(humanize(20.0), "20");
        assert_eq!(humanize(1_500_000.0), "1.5M");
        assert_eq!(humanize(0.0005), "500u");
        assert_eq!(humanize(-0.25), "-250m");
    }
}
