//! Report periods: calendar months and quarters, in UTC.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};

use crate::Error;

/// A calendar month or quarter, in UTC: from its first day at 00:00 UTC to the first day of
/// the next one.
///
/// ```
/// use gatewayz_reports::Period;
///
/// let november: Period = "2026-11".parse()?;
/// assert_eq!(november.to_string(), "2026-11");
/// assert_eq!(november.title(), "November 2026");
/// assert_eq!(november.days(), 30);
/// assert_eq!(november.previous().to_string(), "2026-10");
/// let q4: Period = "2026-Q4".parse()?;
/// assert_eq!((q4.start().to_string(), q4.end().to_string()), ("2026-10-01".into(), "2027-01-01".into()));
/// assert_eq!(q4.months(), 3);
/// # Ok::<(), gatewayz_reports::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    /// A calendar month: year and month (1-12).
    Month(i32, u32),
    /// A calendar quarter: year and quarter (1-4).
    Quarter(i32, u32),
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

impl Period {
    /// The month that contains `at` (UTC).
    pub fn month_of(at: DateTime<Utc>) -> Period {
        Period::Month(at.year(), at.month())
    }

    /// The quarter that contains `at` (UTC).
    pub fn quarter_of(at: DateTime<Utc>) -> Period {
        Period::Quarter(at.year(), (at.month() - 1) / 3 + 1)
    }

    /// Its first day.
    pub fn start(&self) -> NaiveDate {
        let (year, month) = match *self {
            Period::Month(year, month) => (year, month),
            Period::Quarter(year, quarter) => (year, (quarter - 1) * 3 + 1),
        };
        NaiveDate::from_ymd_opt(year, month, 1).expect("a validated period")
    }

    /// The first day after it.
    pub fn end(&self) -> NaiveDate {
        self.start() + Months::new(self.months())
    }

    /// Calendar months it spans: 1 or 3.
    pub fn months(&self) -> u32 {
        match self {
            Period::Month(..) => 1,
            Period::Quarter(..) => 3,
        }
    }

    /// Days it spans.
    pub fn days(&self) -> i64 {
        (self.end() - self.start()).num_days()
    }

    /// The period of the same kind just before.
    pub fn previous(&self) -> Period {
        match *self {
            Period::Month(year, 1) => Period::Month(year - 1, 12),
            Period::Month(year, month) => Period::Month(year, month - 1),
            Period::Quarter(year, 1) => Period::Quarter(year - 1, 4),
            Period::Quarter(year, quarter) => Period::Quarter(year, quarter - 1),
        }
    }

    /// Unix seconds of its start (00:00 UTC on its first day).
    pub fn start_seconds(&self) -> i64 {
        midnight(self.start())
    }

    /// Unix seconds of its end (00:00 UTC on the first day after it).
    pub fn end_seconds(&self) -> i64 {
        midnight(self.end())
    }

    /// Its name in words: `November 2026`, `Q4 2026`.
    pub fn title(&self) -> String {
        match *self {
            Period::Month(year, month) => format!("{} {year}", MONTHS[month as usize - 1]),
            Period::Quarter(year, quarter) => format!("Q{quarter} {year}"),
        }
    }

    /// Every day in it, in order.
    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> {
        let end = self.end();
        self.start().iter_days().take_while(move |d| *d < end)
    }
}

/// The UTC date of Unix second `at`.
pub(crate) fn date_of(at: i64) -> NaiveDate {
    DateTime::from_timestamp(at.div_euclid(86_400) * 86_400, 0)
        .map_or(NaiveDate::MIN, |t| t.date_naive())
}

/// Unix seconds at 00:00 UTC of `date`.
pub(crate) fn midnight(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp()
}

impl fmt::Display for Period {
    /// `2026-11` or `2026-Q4`: what [`FromStr`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Month(year, month) => write!(f, "{year:04}-{month:02}"),
            Period::Quarter(year, quarter) => write!(f, "{year:04}-Q{quarter}"),
        }
    }
}

impl FromStr for Period {
    type Err = Error;

    /// `YYYY-MM` for a month, `YYYY-Qn` for a quarter.
    fn from_str(text: &str) -> Result<Period, Error> {
        let invalid = || Error::InvalidPeriod(text.chars().take(32).collect());
        let (year, rest) = text.trim().split_once('-').ok_or_else(invalid)?;
        if year.len() != 4 {
            return Err(invalid());
        }
        let year: i32 = year.parse().map_err(|_| invalid())?;
        let period = if let Some(quarter) = rest.strip_prefix(['Q', 'q']) {
            match quarter.parse() {
                Ok(q @ 1..=4) if quarter.len() == 1 => Period::Quarter(year, q),
                _ => return Err(invalid()),
            }
        } else {
            match rest.parse() {
                Ok(m @ 1..=12) if rest.len() == 2 => Period::Month(year, m),
                _ => return Err(invalid()),
            }
        };
        // Years chrono can place, with room for the next period.
        if !(1970..=9998).contains(&year) {
            return Err(invalid());
        }
        Ok(period)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_quarters_parse_strictly_and_roll_over_years() {
        for bad in [
            "2026",
            "2026-13",
            "2026-00",
            "2026-1",
            "2026-Q5",
            "2026-Q0",
            "26-11",
            "2026-11-01",
            "november",
            "",
            "1969-01",
        ] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
        let jan: Period = "2027-01".parse().unwrap();
        assert_eq!(jan.previous(), Period::Month(2026, 12));
        assert_eq!(
            "2027-q1".parse::<Period>().unwrap().previous(),
            Period::Quarter(2026, 4)
        );
        let feb: Period = "2028-02".parse().unwrap();
        assert_eq!(feb.days(), 29, "a leap year");
        assert_eq!(feb.dates().count(), 29);
        assert_eq!(feb.end_seconds() - feb.start_seconds(), 29 * 86_400);
        let q1: Period = "2026-Q1".parse().unwrap();
        assert_eq!(q1.days(), 31 + 28 + 31);
        assert_eq!(q1.title(), "Q1 2026");
    }

    #[test]
    fn the_period_of_an_instant_is_taken_in_utc() {
        let at = DateTime::parse_from_rfc3339("2026-12-31T23:30:00-02:00")
            .unwrap()
            .with_timezone(&Utc);
        // 01:30 UTC on the 1st of January.
        assert_eq!(Period::month_of(at), Period::Month(2027, 1));
        assert_eq!(Period::quarter_of(at), Period::Quarter(2027, 1));
    }
}
