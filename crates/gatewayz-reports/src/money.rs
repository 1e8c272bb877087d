//! Money in fixed point: nano-units (10⁻⁹ of a dollar or a credit) until it is rendered.

use std::{
    fmt,
    iter::Sum,
    ops::{Add, AddAssign, Sub},
};

/// An amount of money (dollars or credits) in nano-units: exact sums, rounded to cents only
/// when shown.
///
/// ```
/// use gatewayz_reports::Nanos;
///
/// let spend = Nanos(1_234_565_000_000) + Nanos(5_000_000);
/// assert_eq!(spend.dollars(), "$1,234.57");
/// assert_eq!(Nanos(4_999_999).dollars(), "<$0.01");
/// assert_eq!(Nanos(-1_005_000_000).dollars(), "-$1.01");
/// assert_eq!(Nanos::from_units(0.1).0, 100_000_000);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nanos(pub i64);

/// Nano-units in one unit.
pub const NANO: i64 = 1_000_000_000;

impl Nanos {
    /// Zero.
    pub const ZERO: Nanos = Nanos(0);

    /// From an amount in units (dollars, credits), rounded to the nearest nano-unit; NaN and
    /// infinities are zero.
    pub fn from_units(units: f64) -> Nanos {
        let nanos = (units * NANO as f64).round();
        if nanos.is_finite() {
            Nanos(nanos.clamp(i64::MIN as f64, i64::MAX as f64) as i64)
        } else {
            Nanos(0)
        }
    }

    /// In units, as a float (for ratios and chart scales, never for sums).
    pub fn units(self) -> f64 {
        self.0 as f64 / NANO as f64
    }

    /// Whole cents, rounded half away from zero.
    pub fn cents(self) -> i64 {
        let half = NANO / 200;
        let per_cent = NANO / 100;
        if self.0 >= 0 {
            (self.0 + half) / per_cent
        } else {
            -((-self.0 + half) / per_cent)
        }
    }

    /// `$1,234.57`; an amount that rounds to no cent but is not zero is `<$0.01`.
    pub fn dollars(self) -> String {
        self.shown("$")
    }

    /// `1,234.57`, for credits.
    pub fn credits(self) -> String {
        self.shown("")
    }

    fn shown(self, symbol: &str) -> String {
        let cents = self.cents();
        if cents == 0 && self.0 != 0 {
            let sign = if self.0 < 0 { "-" } else { "" };
            return format!("{sign}<{symbol}0.01");
        }
        let sign = if cents < 0 { "-" } else { "" };
        let cents = cents.unsigned_abs();
        format!(
            "{sign}{symbol}{}.{:02}",
            thousands(cents / 100),
            cents % 100
        )
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

impl Add for Nanos {
    type Output = Nanos;

    fn add(self, other: Nanos) -> Nanos {
        Nanos(self.0.saturating_add(other.0))
    }
}

impl Sub for Nanos {
    type Output = Nanos;

    fn sub(self, other: Nanos) -> Nanos {
        Nanos(self.0.saturating_sub(other.0))
    }
}

impl AddAssign for Nanos {
    fn add_assign(&mut self, other: Nanos) {
        *self = *self + other;
    }
}

impl Sum for Nanos {
    fn sum<I: Iterator<Item = Nanos>>(iter: I) -> Nanos {
        iter.fold(Nanos::ZERO, Add::add)
    }
}

impl fmt::Display for Nanos {
    /// As dollars, to the cent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dollars())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_round_half_away_from_zero_and_thousands_are_grouped() {
        assert_eq!(Nanos(5_000_000).dollars(), "$0.01");
        assert_eq!(Nanos(14_999_999).dollars(), "$0.01");
        assert_eq!(Nanos(15_000_000).dollars(), "$0.02");
        assert_eq!(Nanos(-15_000_000).dollars(), "-$0.02");
        assert_eq!(Nanos(0).dollars(), "$0.00");
        assert_eq!(Nanos(-1).dollars(), "-<$0.01");
        assert_eq!(Nanos(1_000_000 * NANO).dollars(), "$1,000,000.00");
        assert_eq!(Nanos(999 * NANO).credits(), "999.00");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(100), "100");
        assert_eq!(Nanos::from_units(f64::NAN), Nanos(0));
    }
}
