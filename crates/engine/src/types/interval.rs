//! PostgreSQL's `interval`: months, days and microseconds kept apart.
//!
//! An interval has three fields because their lengths are not fixed: a month
//! is 28 to 31 days and a day is 23 to 25 hours across a daylight-saving
//! change. Calendar arithmetic (`timestamp + interval`) uses each field as
//! written. Comparison, hashing and sorting use PostgreSQL's linear span
//! instead, counting a month as 30 days and a day as 24 hours, so
//! `'1 mon' = '30 days'` and `'1 day' = '24 hours'` are true even though the
//! fields differ:
//!
//! ```text
//!   span (µs) = (months * 30 + days) * 86_400_000_000 + micros     (i128)
//! ```
//!
//! Text input (`1 year 2 mons`, `04:05:06`, `P1Y2M`) lives in the `parse`
//! submodule; the output follows PostgreSQL's default `IntervalStyle`
//! (`postgres`): `1 year 2 mons 3 days 04:05:06.5`, `-1 days +02:00:00`.

mod parse;

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Microseconds in a second.
pub(crate) const USECS_PER_SEC: i64 = 1_000_000;
/// Microseconds in a minute.
pub(crate) const USECS_PER_MINUTE: i64 = 60 * USECS_PER_SEC;
/// Microseconds in an hour.
pub(crate) const USECS_PER_HOUR: i64 = 60 * USECS_PER_MINUTE;
/// Microseconds in a day.
pub(crate) const USECS_PER_DAY: i64 = 24 * USECS_PER_HOUR;
/// Days in a month, for the linear span (PostgreSQL's `DAYS_PER_MONTH`).
pub(crate) const DAYS_PER_MONTH: i32 = 30;
/// Seconds in a day, as `f64` for the fractional arithmetic.
const SECS_PER_DAY_F: f64 = 86_400.0;

/// A PostgreSQL `interval`: months, days and microseconds.
///
/// The fields are independent and may have different signs
/// (`-1 days +02:00:00`). Equality, ordering and hashing use the linear span
/// described in the module documentation.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Interval {
    /// Whole months (a year is 12 months).
    pub months: i32,
    /// Whole days.
    pub days: i32,
    /// Microseconds (may exceed a day: `25:00:00` stays 25 hours).
    pub micros: i64,
}

/// The error PostgreSQL gives when interval arithmetic overflows.
pub(crate) fn interval_out_of_range() -> Error {
    Error::DatetimeOverflow("interval out of range".to_owned())
}

/// PostgreSQL's `TSROUND`: round to microsecond precision.
fn tsround(x: f64) -> f64 {
    (x * 1_000_000.0).round_ties_even() / 1_000_000.0
}

/// Truncates an `f64` to `i32` as C does, failing when it does not fit
/// (PostgreSQL's `FLOAT8_FITS_IN_INT32` check).
fn f64_to_i32(x: f64) -> Result<i32> {
    if !(-2_147_483_648.0..2_147_483_648.0).contains(&x) {
        return Err(interval_out_of_range());
    }
    Ok(x as i32)
}

/// Converts an already-rounded `f64` to `i64`, failing when it does not fit.
fn f64_to_i64(x: f64) -> Result<i64> {
    // -2^63 is exact in f64; 2^63 is the first value that does not fit.
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&x) {
        return Err(interval_out_of_range());
    }
    Ok(x as i64)
}

impl Interval {
    /// The zero interval, `00:00:00`.
    pub const ZERO: Interval = Interval { months: 0, days: 0, micros: 0 };

    /// An interval from its three fields.
    pub const fn new(months: i32, days: i32, micros: i64) -> Interval {
        Interval { months, days, micros }
    }

    /// An interval of whole months.
    pub const fn from_months(months: i32) -> Interval {
        Interval { months, days: 0, micros: 0 }
    }

    /// An interval of whole days.
    pub const fn from_days(days: i32) -> Interval {
        Interval { months: 0, days, micros: 0 }
    }

    /// An interval of microseconds (kept in the time field, not cascaded).
    pub const fn from_micros(micros: i64) -> Interval {
        Interval { months: 0, days: 0, micros }
    }

    /// The linear span in microseconds, a month counting 30 days and a day
    /// 24 hours. This is what comparison and hashing use.
    pub fn span_micros(&self) -> i128 {
        let days = i128::from(self.months) * i128::from(DAYS_PER_MONTH) + i128::from(self.days);
        days * i128::from(USECS_PER_DAY) + i128::from(self.micros)
    }

    /// Whether every field is zero.
    pub fn is_zero(&self) -> bool {
        self.months == 0 && self.days == 0 && self.micros == 0
    }

    /// `self + other`, field by field; `interval out of range` on overflow.
    pub fn checked_add(&self, other: &Interval) -> Result<Interval> {
        Ok(Interval {
            months: self.months.checked_add(other.months).ok_or_else(interval_out_of_range)?,
            days: self.days.checked_add(other.days).ok_or_else(interval_out_of_range)?,
            micros: self.micros.checked_add(other.micros).ok_or_else(interval_out_of_range)?,
        })
    }

    /// `self - other`, field by field; `interval out of range` on overflow.
    pub fn checked_sub(&self, other: &Interval) -> Result<Interval> {
        Ok(Interval {
            months: self.months.checked_sub(other.months).ok_or_else(interval_out_of_range)?,
            days: self.days.checked_sub(other.days).ok_or_else(interval_out_of_range)?,
            micros: self.micros.checked_sub(other.micros).ok_or_else(interval_out_of_range)?,
        })
    }

    /// `-self`; `interval out of range` when a field is its type's minimum.
    pub fn checked_neg(&self) -> Result<Interval> {
        Ok(Interval {
            months: self.months.checked_neg().ok_or_else(interval_out_of_range)?,
            days: self.days.checked_neg().ok_or_else(interval_out_of_range)?,
            micros: self.micros.checked_neg().ok_or_else(interval_out_of_range)?,
        })
    }

    /// `self * factor` as PostgreSQL's `interval_mul`: the whole parts of
    /// months and days are scaled, their fractions cascade down (a month to
    /// 30 days, a day to 24 hours) and never up.
    /// `interval '1 mon' * 1.5` is `1 mon 15 days`.
    pub fn checked_mul_f64(&self, factor: f64) -> Result<Interval> {
        let orig_month = f64::from(self.months);
        let orig_day = f64::from(self.days);
        let months = f64_to_i32(orig_month * factor)?;
        let days = f64_to_i32(orig_day * factor)?;
        let time = self.micros as f64 * factor;
        Self::cascade(orig_month * factor, orig_day * factor, months, days, time)
    }

    /// `self / factor` as PostgreSQL's `interval_div`; `division by zero`
    /// when `factor` is zero.
    pub fn checked_div_f64(&self, factor: f64) -> Result<Interval> {
        if factor == 0.0 {
            return Err(Error::DivisionByZero);
        }
        let orig_month = f64::from(self.months);
        let orig_day = f64::from(self.days);
        let months = f64_to_i32(orig_month / factor)?;
        let days = f64_to_i32(orig_day / factor)?;
        let time = self.micros as f64 / factor;
        Self::cascade(orig_month / factor, orig_day / factor, months, days, time)
    }

    /// The shared tail of multiplication and division: cascades the
    /// fractional months and days (`month_f`, `day_f` are the exact
    /// products, `months`, `days` their truncations) into days and time.
    fn cascade(month_f: f64, day_f: f64, months: i32, mut days: i32, time: f64) -> Result<Interval> {
        let month_remainder_days = tsround((month_f - f64::from(months)) * f64::from(DAYS_PER_MONTH));
        let whole_remainder_days = month_remainder_days.trunc();
        let mut sec_remainder =
            tsround((day_f - f64::from(days) + month_remainder_days - whole_remainder_days) * SECS_PER_DAY_F);
        if sec_remainder.abs() >= SECS_PER_DAY_F {
            let extra = (sec_remainder / SECS_PER_DAY_F).trunc();
            days = days.checked_add(f64_to_i32(extra)?).ok_or_else(interval_out_of_range)?;
            sec_remainder -= extra * SECS_PER_DAY_F;
        }
        days = days.checked_add(f64_to_i32(whole_remainder_days)?).ok_or_else(interval_out_of_range)?;
        let micros = f64_to_i64((time + sec_remainder * 1_000_000.0).round_ties_even())?;
        Ok(Interval { months, days, micros })
    }

    /// PostgreSQL's `justify_hours`: whole days move from the time field to
    /// the day field, and the two fields are given the same sign.
    pub fn justify_hours(&self) -> Result<Interval> {
        let whole_days = self.micros / USECS_PER_DAY;
        let mut micros = self.micros % USECS_PER_DAY;
        let extra = i32::try_from(whole_days).map_err(|_| interval_out_of_range())?;
        let mut days = self.days.checked_add(extra).ok_or_else(interval_out_of_range)?;
        if days > 0 && micros < 0 {
            micros += USECS_PER_DAY;
            days -= 1;
        } else if days < 0 && micros > 0 {
            micros -= USECS_PER_DAY;
            days += 1;
        }
        Ok(Interval { months: self.months, days, micros })
    }

    /// PostgreSQL's `justify_days`: whole 30-day groups move to the month
    /// field, and the two fields are given the same sign.
    pub fn justify_days(&self) -> Result<Interval> {
        let whole_months = self.days / DAYS_PER_MONTH;
        let mut days = self.days % DAYS_PER_MONTH;
        let mut months = self.months.checked_add(whole_months).ok_or_else(interval_out_of_range)?;
        if months > 0 && days < 0 {
            days += DAYS_PER_MONTH;
            months -= 1;
        } else if months < 0 && days > 0 {
            days -= DAYS_PER_MONTH;
            months += 1;
        }
        Ok(Interval { months, days, micros: self.micros })
    }

    /// Parses PostgreSQL's interval input: `1 year 2 mons 3 days 04:05:06.5`,
    /// `-2 hours`, `1 12:00:00`, ISO 8601 `P1Y2M3DT4H5M6S`, and the
    /// `@ 1 minute ago` form.
    pub fn parse(input: &str) -> Result<Interval> {
        parse::parse_interval(input)
    }
}

impl PartialEq for Interval {
    fn eq(&self, other: &Self) -> bool {
        self.span_micros() == other.span_micros()
    }
}

impl Eq for Interval {}

impl PartialOrd for Interval {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Interval {
    fn cmp(&self, other: &Self) -> Ordering {
        self.span_micros().cmp(&other.span_micros())
    }
}

impl Hash for Interval {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.span_micros().hash(state);
    }
}

/// Writes `sec` and the microseconds `usec` as PostgreSQL does: two digits,
/// then the fraction without trailing zeros.
pub(crate) fn write_seconds(f: &mut fmt::Formatter<'_>, sec: i64, usec: i64) -> fmt::Result {
    write!(f, "{sec:02}")?;
    if usec != 0 {
        let frac = format!("{usec:06}");
        write!(f, ".{}", frac.trim_end_matches('0'))?;
    }
    Ok(())
}

/// Appends one `postgres`-style field (`3 days`, `-1 days`, `+1 year`).
fn write_part(
    f: &mut fmt::Formatter<'_>,
    value: i64,
    unit: &str,
    is_zero: &mut bool,
    is_before: &mut bool,
) -> fmt::Result {
    if value == 0 {
        return Ok(());
    }
    let space = if *is_zero { "" } else { " " };
    let plus = if *is_before && value > 0 { "+" } else { "" };
    let plural = if value != 1 { "s" } else { "" };
    write!(f, "{space}{plus}{value} {unit}{plural}")?;
    *is_before = value < 0;
    *is_zero = false;
    Ok(())
}

impl fmt::Display for Interval {
    /// PostgreSQL's `postgres` IntervalStyle: `1 year 2 mons 3 days
    /// 04:05:06.5`, `00:00:00`, `-1 days +02:00:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let years = i64::from(self.months / 12);
        let mons = i64::from(self.months % 12);
        let mut is_zero = true;
        let mut is_before = false;
        write_part(f, years, "year", &mut is_zero, &mut is_before)?;
        write_part(f, mons, "mon", &mut is_zero, &mut is_before)?;
        write_part(f, i64::from(self.days), "day", &mut is_zero, &mut is_before)?;
        let t = self.micros;
        let hour = t / USECS_PER_HOUR;
        let min = (t % USECS_PER_HOUR) / USECS_PER_MINUTE;
        let sec = (t % USECS_PER_MINUTE) / USECS_PER_SEC;
        let usec = t % USECS_PER_SEC;
        if is_zero || t != 0 {
            let minus = t < 0;
            let space = if is_zero { "" } else { " " };
            let sign = if minus {
                "-"
            } else if is_before {
                "+"
            } else {
                ""
            };
            write!(f, "{space}{sign}{:02}:{:02}:", hour.unsigned_abs(), min.unsigned_abs())?;
            write_seconds(f, sec.abs(), usec.abs())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(s: &str) -> Interval {
        Interval::parse(s).unwrap()
    }

    #[test]
    fn span_equality_and_order() {
        assert_eq!(Interval::from_months(1), Interval::from_days(30));
        assert_eq!(Interval::from_days(1), Interval::from_micros(USECS_PER_DAY));
        assert!(Interval::from_days(31) > Interval::from_months(1));
        assert!(Interval::new(0, -1, 0) < Interval::ZERO);
        use std::collections::hash_map::DefaultHasher;
        let h = |i: &Interval| {
            let mut s = DefaultHasher::new();
            i.hash(&mut s);
            s.finish()
        };
        assert_eq!(h(&Interval::from_months(1)), h(&Interval::from_days(30)));
    }

    #[test]
    fn display_postgres_style() {
        let cases = [
            (Interval::ZERO, "00:00:00"),
            (
                Interval::new(14, 3, 4 * USECS_PER_HOUR + 5 * USECS_PER_MINUTE + 6_500_000),
                "1 year 2 mons 3 days 04:05:06.5",
            ),
            (Interval::new(0, -1, 2 * USECS_PER_HOUR), "-1 days +02:00:00"),
            (Interval::new(1, 1, 0), "1 mon 1 day"),
            (Interval::new(-13, 0, 0), "-1 years -1 mons"),
            (Interval::new(0, 0, -USECS_PER_MINUTE), "-00:01:00"),
            (Interval::new(0, 0, 50 * USECS_PER_HOUR), "50:00:00"),
            (Interval::new(0, 0, 1), "00:00:00.000001"),
            (Interval::new(0, -60, -12 * USECS_PER_HOUR), "-60 days -12:00:00"),
            (Interval::new(-1, 5, 0), "-1 mons +5 days"),
        ];
        for (i, want) in cases {
            assert_eq!(i.to_string(), want);
        }
    }

    #[test]
    fn multiply_and_divide_like_postgres() {
        assert_eq!(iv("1 mon").checked_mul_f64(1.5).unwrap().to_string(), "1 mon 15 days");
        assert_eq!(iv("1 day").checked_div_f64(7.0).unwrap().to_string(), "03:25:42.857143");
        assert_eq!(iv("1 mon").checked_div_f64(3.0).unwrap().to_string(), "10 days");
        assert_eq!(iv("1 year").checked_mul_f64(0.3333).unwrap().to_string(), "3 mons 29 days 23:42:43.2");
        assert_eq!(iv("25:00:00").checked_mul_f64(2.0).unwrap().to_string(), "50:00:00");
        assert_eq!(iv("1 day").checked_mul_f64(1.5).unwrap().to_string(), "1 day 12:00:00");
        assert_eq!(iv("1 mon 1 day").checked_mul_f64(-0.5).unwrap().to_string(), "-15 days -12:00:00");
        assert_eq!(iv("-1 mon").checked_div_f64(7.0).unwrap().to_string(), "-4 days -06:51:25.6896");
        assert_eq!(
            iv("1 year 1 mon 1 day 1 hour").checked_mul_f64(2.345).unwrap().to_string(),
            "2 years 6 mons 16 days 23:49:30"
        );
        assert_eq!(iv("123456789 days").checked_mul_f64(17.3).unwrap().to_string(), "2135802449 days 16:48:00.00412");
        assert!(iv("1 day").checked_mul_f64(1e10).is_err());
        assert!(iv("1 day").checked_div_f64(0.0).is_err());
        assert!(iv("1 mon").checked_mul_f64(1e10).is_err());
        assert!(iv("1 mon").checked_mul_f64(f64::NAN).is_err());
    }

    #[test]
    fn checked_arithmetic() {
        let a = Interval::new(i32::MAX, 0, 0);
        assert!(a.checked_add(&Interval::from_months(1)).is_err());
        assert!(Interval::new(i32::MIN, 0, 0).checked_neg().is_err());
        assert_eq!(iv("1 day").checked_sub(&iv("2 hours")).unwrap().to_string(), "1 day -02:00:00");
    }

    #[test]
    fn justify() {
        let i = Interval::new(0, 0, 27 * USECS_PER_HOUR);
        assert_eq!(i.justify_hours().unwrap().to_string(), "1 day 03:00:00");
        let i = Interval::new(0, 1, -USECS_PER_HOUR);
        assert_eq!(i.justify_hours().unwrap().to_string(), "23:00:00");
        assert_eq!(Interval::from_days(65).justify_days().unwrap().to_string(), "2 mons 5 days");
    }
}
