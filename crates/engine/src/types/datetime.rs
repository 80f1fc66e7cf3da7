//! Dates and times on PostgreSQL's epoch, with PostgreSQL's calendar rules.
//!
//! memdb stores date/time values exactly as PostgreSQL does:
//!
//! ```text
//!   date         i32  days since 2000-01-01           ±infinity = i32::MAX / i32::MIN
//!   time         i64  µs since midnight, 0..=24:00:00
//!   timestamp    i64  µs since 2000-01-01 00:00:00    ±infinity = i64::MAX / i64::MIN
//!   timestamptz  i64  µs since 2000-01-01 00:00:00 UTC
//! ```
//!
//! Calendar arithmetic goes through Julian day numbers (PostgreSQL's
//! `date2j`/`j2date`), proleptic Gregorian, astronomical years (1 BC is year
//! 0 internally, printed as `0001 BC`). The valid ranges are PostgreSQL's:
//! dates from 4714-11-24 BC to 5874897-12-31, timestamps from 4714-11-24 BC
//! to 294276-12-31 23:59:59.999999. chrono types are offered for convenience
//! at the edges but cannot hold the whole range, so the conversions to
//! chrono return `Option`.
//!
//! The session time zone is UTC, so `timestamptz` prints with `+00` and
//! calendar arithmetic on it is the same as on `timestamp`.
//!
//! Submodules: `parse` (text input) and `fields` (`extract`, `date_part`,
//! `date_trunc`).

mod fields;
mod parse;

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};

use super::interval::{USECS_PER_DAY, USECS_PER_HOUR, USECS_PER_MINUTE, USECS_PER_SEC};
use crate::error::{Error, Result};
use crate::types::Interval;

pub use fields::{
    DateField, date_part, date_trunc, date_trunc_interval, date_trunc_timestamp, extract, extract_date,
    extract_interval, extract_time, extract_timestamp,
};
pub use parse::{parse_date, parse_time, parse_timestamp, parse_timestamptz};

/// `date 'infinity'`.
pub const DATE_INFINITY: i32 = i32::MAX;
/// `date '-infinity'`.
pub const DATE_NEG_INFINITY: i32 = i32::MIN;
/// `timestamp 'infinity'` (also for `timestamptz`).
pub const TIMESTAMP_INFINITY: i64 = i64::MAX;
/// `timestamp '-infinity'` (also for `timestamptz`).
pub const TIMESTAMP_NEG_INFINITY: i64 = i64::MIN;

/// The Julian day number of 2000-01-01, memdb's and PostgreSQL's epoch.
pub const POSTGRES_EPOCH_JDATE: i64 = 2_451_545;
/// The Julian day number of 1970-01-01, the Unix epoch.
pub const UNIX_EPOCH_JDATE: i64 = 2_440_588;
/// First Julian day a date or timestamp may have (4714-11-24 BC).
const DATETIME_MIN_JULIAN: i64 = 0;
/// First Julian day past the date range (5874898-01-01).
const DATE_END_JULIAN: i64 = 2_147_483_494;
/// First Julian day past the timestamp range (294277-01-01).
const TIMESTAMP_END_JULIAN: i64 = 109_203_528;
/// The smallest valid timestamp (4714-11-24 00:00:00 BC).
const MIN_TIMESTAMP: i64 = -211_813_488_000_000_000;
/// The first timestamp past the valid range (294277-01-01 00:00:00).
const END_TIMESTAMP: i64 = 9_223_371_331_200_000_000;
/// Microseconds between the Unix epoch and memdb's epoch.
const UNIX_TO_POSTGRES_MICROS: i64 = (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;

/// A broken-down date and time of day. `year` is astronomical (1 BC = 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTimeParts {
    /// Astronomical year: 2024, or 0 for 1 BC, -1 for 2 BC.
    pub year: i32,
    /// Month, 1..=12.
    pub month: u32,
    /// Day of the month, 1..=31.
    pub day: u32,
    /// Hour, 0..=23.
    pub hour: u32,
    /// Minute, 0..=59.
    pub minute: u32,
    /// Second, 0..=59.
    pub second: u32,
    /// Microseconds within the second, 0..=999_999.
    pub micros: u32,
}

/// `timestamp out of range`.
pub(crate) fn timestamp_out_of_range() -> Error {
    Error::DatetimeOverflow("timestamp out of range".to_owned())
}

/// `date out of range`.
pub(crate) fn date_out_of_range() -> Error {
    Error::DatetimeOverflow("date out of range".to_owned())
}

/// Whether `year` (astronomical) is a Gregorian leap year.
pub fn is_leap_year(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// The number of days in `month` (1..=12) of `year`.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        _ => 28,
    }
}

/// The Julian day number of a date (PostgreSQL's `date2j`), for any year.
pub fn date2j(year: i32, month: u32, day: u32) -> i64 {
    let (mut y, mut m) = (i64::from(year), i64::from(month));
    if m > 2 {
        m += 1;
        y += 4800;
    } else {
        m += 13;
        y += 4799;
    }
    let century = y.div_euclid(100);
    let mut julian = y * 365 - 32167;
    julian += y.div_euclid(4) - century + century.div_euclid(4);
    julian + 7834 * m / 256 + i64::from(day)
}

/// The largest Julian day magnitude [`j2date`] converts exactly: its year
/// still fits `i32`. Beyond, the day is clamped to this bound.
const J2DATE_LIMIT: i64 = i32::MAX as i64 * 365;

/// The date of a Julian day number (PostgreSQL's `j2date`), proleptic
/// Gregorian for any day whose year fits `i32` (days before 4714-11-24 BC
/// included, though no valid date has them); days further out are clamped.
pub fn j2date(jd: i64) -> (i32, u32, u32) {
    // PostgreSQL's arithmetic needs a non-negative day: move negative days
    // forward by whole 400-year cycles (146 097 days) and the year back.
    const CYCLE_DAYS: i64 = 146_097;
    let jd = jd.clamp(-J2DATE_LIMIT, J2DATE_LIMIT);
    let cycles = if jd < 0 { -jd / CYCLE_DAYS + 1 } else { 0 };
    let mut julian = jd + cycles * CYCLE_DAYS + 32044;
    let quad = julian / 146_097;
    let extra = (julian - quad * 146_097) * 4 + 3;
    julian += 60 + quad * 3 + extra / 146_097;
    let quad = julian / 1461;
    julian -= quad * 1461;
    let mut y = julian * 4 / 1461;
    julian = if y != 0 { (julian + 305) % 365 } else { (julian + 306) % 366 } + 123;
    y += quad * 4;
    let year = y - 4800 - cycles * 400;
    let quad = julian * 2141 / 65536;
    let day = julian - 7834 * quad / 256;
    let month = (quad + 10) % 12 + 1;
    // The clamp keeps the year within i32; month and day are always in
    // 1..=12 and 1..=31.
    (i32::try_from(year).unwrap_or(if year < 0 { i32::MIN } else { i32::MAX }), month as u32, day as u32)
}

/// The day of the week of a Julian day, 0 = Sunday (PostgreSQL's `j2day`).
pub fn j2day(jd: i64) -> u32 {
    ((jd.rem_euclid(7) + 1) % 7) as u32
}

/// Whether a date is neither `infinity` nor `-infinity`.
pub fn date_is_finite(date: i32) -> bool {
    date != DATE_INFINITY && date != DATE_NEG_INFINITY
}

/// Whether a timestamp is neither `infinity` nor `-infinity`.
pub fn timestamp_is_finite(ts: i64) -> bool {
    ts != TIMESTAMP_INFINITY && ts != TIMESTAMP_NEG_INFINITY
}

/// Whether a finite date value lies in PostgreSQL's date range.
fn is_valid_date(date: i64) -> bool {
    (DATETIME_MIN_JULIAN - POSTGRES_EPOCH_JDATE..DATE_END_JULIAN - POSTGRES_EPOCH_JDATE).contains(&date)
}

/// Whether a finite timestamp lies in PostgreSQL's timestamp range.
fn is_valid_timestamp(ts: i64) -> bool {
    (MIN_TIMESTAMP..END_TIMESTAMP).contains(&ts)
}

/// The date value of a calendar date (astronomical year), or `date out of
/// range`. Fails with `date/time field value out of range` for a month or
/// day that does not exist.
pub fn date_from_ymd(year: i32, month: u32, day: u32) -> Result<i32> {
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(Error::DatetimeOverflow(format!(
            "date/time field value out of range: \"{year}-{month:02}-{day:02}\""
        )));
    }
    let date = date2j(year, month, day) - POSTGRES_EPOCH_JDATE;
    if !is_valid_date(date) {
        return Err(date_out_of_range());
    }
    i32::try_from(date).map_err(|_| date_out_of_range())
}

/// The calendar date (astronomical year, month, day) of a finite date value.
pub fn date_to_ymd(date: i32) -> Option<(i32, u32, u32)> {
    date_is_finite(date).then(|| j2date(i64::from(date) + POSTGRES_EPOCH_JDATE))
}

/// The timestamp of broken-down fields, or `timestamp out of range`.
pub fn timestamp_from_parts(p: &DateTimeParts) -> Result<i64> {
    if !(1..=12).contains(&p.month) || p.day < 1 || p.day > days_in_month(p.year, p.month) {
        return Err(Error::DatetimeOverflow("date/time field value out of range".to_owned()));
    }
    let date = date2j(p.year, p.month, p.day) - POSTGRES_EPOCH_JDATE;
    // In i128: the time fields are not range checked, so any u32 may come.
    let time = i128::from(p.hour) * i128::from(USECS_PER_HOUR)
        + i128::from(p.minute) * i128::from(USECS_PER_MINUTE)
        + i128::from(p.second) * i128::from(USECS_PER_SEC)
        + i128::from(p.micros);
    let ts = i128::from(date) * i128::from(USECS_PER_DAY) + time;
    i64::try_from(ts).ok().filter(|ts| is_valid_timestamp(*ts)).ok_or_else(timestamp_out_of_range)
}

/// The broken-down fields of a finite timestamp (`None` for ±infinity).
pub fn timestamp_to_parts(ts: i64) -> Option<DateTimeParts> {
    if !timestamp_is_finite(ts) {
        return None;
    }
    let date = ts.div_euclid(USECS_PER_DAY);
    let time = ts.rem_euclid(USECS_PER_DAY);
    let (year, month, day) = j2date(date + POSTGRES_EPOCH_JDATE);
    Some(DateTimeParts {
        year,
        month,
        day,
        hour: (time / USECS_PER_HOUR) as u32,
        minute: (time % USECS_PER_HOUR / USECS_PER_MINUTE) as u32,
        second: (time % USECS_PER_MINUTE / USECS_PER_SEC) as u32,
        micros: (time % USECS_PER_SEC) as u32,
    })
}

// ---- conversions between the date/time types ----

/// `date::timestamp`: midnight of the date; infinities map to infinities.
/// Fails with `date out of range for timestamp` past 294276 AD (and for a
/// raw value before 4714-11-24 BC, which no valid date is).
pub fn date_to_timestamp(date: i32) -> Result<i64> {
    match date {
        DATE_INFINITY => Ok(TIMESTAMP_INFINITY),
        DATE_NEG_INFINITY => Ok(TIMESTAMP_NEG_INFINITY),
        d if !(DATETIME_MIN_JULIAN - POSTGRES_EPOCH_JDATE..TIMESTAMP_END_JULIAN - POSTGRES_EPOCH_JDATE)
            .contains(&i64::from(d)) =>
        {
            Err(Error::DatetimeOverflow("date out of range for timestamp".to_owned()))
        }
        // In range, so the product is at most END_TIMESTAMP.
        d => Ok(i64::from(d) * USECS_PER_DAY),
    }
}

/// `timestamp::date` as PostgreSQL's cast computes it: the date part,
/// infinities mapping to infinities, `timestamp out of range` for a raw
/// value outside the timestamp range.
pub fn timestamp_to_date_checked(ts: i64) -> Result<i32> {
    if timestamp_is_finite(ts) && !is_valid_timestamp(ts) {
        return Err(timestamp_out_of_range());
    }
    Ok(timestamp_to_date(ts))
}

/// `timestamp::date`: the date part; infinities map to infinities. A raw
/// value outside the timestamp range gives its proleptic date, which may
/// lie outside the date range (see [`timestamp_to_date_checked`]).
pub fn timestamp_to_date(ts: i64) -> i32 {
    match ts {
        TIMESTAMP_INFINITY => DATE_INFINITY,
        TIMESTAMP_NEG_INFINITY => DATE_NEG_INFINITY,
        // |i64| / USECS_PER_DAY is below 2^27: every timestamp's date fits.
        t => t.div_euclid(USECS_PER_DAY) as i32,
    }
}

/// `timestamp::time`: the time of day, `None` for ±infinity.
pub fn timestamp_to_time(ts: i64) -> Option<i64> {
    timestamp_is_finite(ts).then(|| ts.rem_euclid(USECS_PER_DAY))
}

/// `date + time`: the timestamp at that time of day.
pub fn date_add_time(date: i32, time: i64) -> Result<i64> {
    let ts = date_to_timestamp(date)?;
    if !timestamp_is_finite(ts) {
        return Ok(ts);
    }
    ts.checked_add(time).filter(|t| is_valid_timestamp(*t)).ok_or_else(timestamp_out_of_range)
}

// ---- arithmetic ----

/// `date + integer` (and `date - integer` with a negated count); infinite
/// dates stay infinite, results outside the date range fail with
/// `date out of range`.
pub fn date_add_days(date: i32, days: i64) -> Result<i32> {
    if !date_is_finite(date) {
        return Ok(date);
    }
    let result = i64::from(date).checked_add(days).filter(|d| is_valid_date(*d)).ok_or_else(date_out_of_range)?;
    i32::try_from(result).map_err(|_| date_out_of_range())
}

/// `date - date`: the number of days between them.
pub fn date_sub_date(a: i32, b: i32) -> Result<i32> {
    if !date_is_finite(a) || !date_is_finite(b) {
        return Err(Error::DatetimeOverflow("cannot subtract infinite dates".to_owned()));
    }
    // Valid dates' difference fits; raw values outside the range may not.
    i32::try_from(i64::from(a) - i64::from(b)).map_err(|_| date_out_of_range())
}

/// `timestamp + interval` (and `timestamptz + interval`, the session zone
/// being UTC) as PostgreSQL computes it: months first, clamping the day to
/// the end of the month (`2024-01-31 + 1 mon = 2024-02-29`), then days,
/// then the time. Infinite timestamps stay infinite.
pub fn timestamp_add_interval(ts: i64, iv: &Interval) -> Result<i64> {
    if !timestamp_is_finite(ts) {
        return Ok(ts);
    }
    let mut ts = ts;
    if iv.months != 0 {
        let mut p = timestamp_to_parts(ts).ok_or_else(timestamp_out_of_range)?;
        let total = i64::from(p.year) * 12 + i64::from(p.month) - 1 + i64::from(iv.months);
        p.year = i32::try_from(total.div_euclid(12)).map_err(|_| timestamp_out_of_range())?;
        p.month = (total.rem_euclid(12) + 1) as u32;
        p.day = p.day.min(days_in_month(p.year, p.month));
        ts = timestamp_from_parts(&p)?;
    }
    if iv.days != 0 {
        let date = ts.div_euclid(USECS_PER_DAY) + i64::from(iv.days);
        if !(DATETIME_MIN_JULIAN - POSTGRES_EPOCH_JDATE..TIMESTAMP_END_JULIAN - POSTGRES_EPOCH_JDATE).contains(&date) {
            return Err(timestamp_out_of_range());
        }
        ts = date * USECS_PER_DAY + ts.rem_euclid(USECS_PER_DAY);
    }
    ts.checked_add(iv.micros).filter(|t| is_valid_timestamp(*t)).ok_or_else(timestamp_out_of_range)
}

/// `timestamp - interval`.
pub fn timestamp_sub_interval(ts: i64, iv: &Interval) -> Result<i64> {
    timestamp_add_interval(ts, &iv.checked_neg()?)
}

/// `timestamp - timestamp` as PostgreSQL computes it: days and time, never
/// months (`59 days 12:00:00`), both parts of the same sign.
pub fn timestamp_sub_timestamp(a: i64, b: i64) -> Result<Interval> {
    if !timestamp_is_finite(a) || !timestamp_is_finite(b) {
        return Err(Error::DatetimeOverflow("cannot subtract infinite timestamps".to_owned()));
    }
    let micros = a.checked_sub(b).ok_or_else(super::interval::interval_out_of_range)?;
    Interval::from_micros(micros).justify_hours()
}

/// `date + interval`: the date at midnight plus the interval, a timestamp.
pub fn date_add_interval(date: i32, iv: &Interval) -> Result<i64> {
    timestamp_add_interval(date_to_timestamp(date)?, iv)
}

/// `time + interval`: only the interval's time part counts, and the result
/// wraps around midnight.
pub fn time_add_interval(time: i64, iv: &Interval) -> i64 {
    (i128::from(time) + i128::from(iv.micros)).rem_euclid(i128::from(USECS_PER_DAY)) as i64
}

/// `time - time`: an interval of the difference in microseconds.
pub fn time_sub_time(a: i64, b: i64) -> Interval {
    match a.checked_sub(b) {
        // Always, for times within 0..=24h.
        Some(micros) => Interval::from_micros(micros),
        // Raw values far outside a day: whole days move to the day field
        // (|a - b| < 2^64 µs, about 2.1e8 days, so they fit).
        None => {
            let diff = i128::from(a) - i128::from(b);
            let day = i128::from(USECS_PER_DAY);
            Interval::new(0, (diff / day) as i32, (diff % day) as i64)
        }
    }
}

/// The current time as a timestamp (µs since 2000-01-01 UTC), read from
/// the system clock; what `now`, `today` and friends resolve against.
pub fn now_timestamp() -> i64 {
    let now = Utc::now();
    now.timestamp_micros().saturating_sub(UNIX_TO_POSTGRES_MICROS)
}

// ---- chrono conversions ----

/// Days between 0001-01-01 (chrono's day 1 of the common era) and 2000-01-01.
const CE_TO_POSTGRES_DAYS: i64 = 730_119;

/// The chrono date of a finite date value within chrono's range.
pub fn date_to_chrono(date: i32) -> Option<NaiveDate> {
    if !date_is_finite(date) {
        return None;
    }
    let ce = i32::try_from(i64::from(date) + CE_TO_POSTGRES_DAYS + 1).ok()?;
    NaiveDate::from_num_days_from_ce_opt(ce)
}

/// The date value of a chrono date (always within PostgreSQL's range
/// except before 4714-11-24 BC).
pub fn date_from_chrono(date: NaiveDate) -> Result<i32> {
    let d = i64::from(date.num_days_from_ce()) - CE_TO_POSTGRES_DAYS - 1;
    if !is_valid_date(d) {
        return Err(date_out_of_range());
    }
    i32::try_from(d).map_err(|_| date_out_of_range())
}

/// The chrono time of a time value (`24:00:00` has no chrono equivalent).
pub fn time_to_chrono(time: i64) -> Option<NaiveTime> {
    if !(0..USECS_PER_DAY).contains(&time) {
        return None;
    }
    let secs = u32::try_from(time / USECS_PER_SEC).ok()?;
    let nanos = u32::try_from(time % USECS_PER_SEC * 1000).ok()?;
    NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos)
}

/// The time value of a chrono time (nanoseconds are truncated; a leap
/// second counts as the 59th).
pub fn time_from_chrono(time: NaiveTime) -> i64 {
    let nanos = i64::from(time.nanosecond().min(999_999_999));
    i64::from(time.num_seconds_from_midnight()) * USECS_PER_SEC + nanos / 1000
}

/// The chrono date-time of a finite timestamp within chrono's range.
pub fn timestamp_to_chrono(ts: i64) -> Option<NaiveDateTime> {
    if !timestamp_is_finite(ts) {
        return None;
    }
    let date = date_to_chrono(i32::try_from(ts.div_euclid(USECS_PER_DAY)).ok()?)?;
    let time = time_to_chrono(ts.rem_euclid(USECS_PER_DAY))?;
    Some(date.and_time(time))
}

/// The timestamp of a chrono date-time, or `timestamp out of range`.
pub fn timestamp_from_chrono(dt: NaiveDateTime) -> Result<i64> {
    let date = i64::from(date_from_chrono(dt.date()).map_err(|_| timestamp_out_of_range())?);
    date.checked_mul(USECS_PER_DAY)
        .and_then(|d| d.checked_add(time_from_chrono(dt.time())))
        .filter(|t| is_valid_timestamp(*t))
        .ok_or_else(timestamp_out_of_range)
}

/// The chrono UTC instant of a finite timestamptz within chrono's range.
pub fn timestamptz_to_chrono(ts: i64) -> Option<DateTime<Utc>> {
    timestamp_to_chrono(ts).map(|naive| Utc.from_utc_datetime(&naive))
}

/// The timestamptz of an instant in any chrono time zone.
pub fn timestamptz_from_chrono<Tz: TimeZone>(dt: &DateTime<Tz>) -> Result<i64> {
    timestamp_from_chrono(dt.naive_utc())
}

// ---- text output (ISO DateStyle) ----

/// Writes `YYYY-MM-DD` (years past 9999 in full) without the era suffix;
/// returns whether the date is BC.
fn write_ymd(f: &mut fmt::Formatter<'_>, year: i32, month: u32, day: u32) -> Result<bool, fmt::Error> {
    let bc = year <= 0;
    let shown = if bc { 1 - i64::from(year) } else { i64::from(year) };
    write!(f, "{shown:04}-{month:02}-{day:02}")?;
    Ok(bc)
}

/// Writes `HH:MM:SS[.ffffff]` with trailing zeros of the fraction removed.
/// A raw time outside `0..=24:00:00` (which no valid time is) is written
/// the same way, with a leading `-` when negative and hours past 24.
fn write_hms(f: &mut fmt::Formatter<'_>, time: i64) -> fmt::Result {
    if time < 0 {
        f.write_str("-")?;
    }
    let t = time.unsigned_abs();
    let (per_hour, per_minute, per_sec) = (USECS_PER_HOUR as u64, USECS_PER_MINUTE as u64, USECS_PER_SEC as u64);
    let hour = t / per_hour;
    let minute = t % per_hour / per_minute;
    write!(f, "{hour:02}:{minute:02}:")?;
    // Both below a minute's worth, so they fit i64.
    super::interval::write_seconds(f, (t % per_minute / per_sec) as i64, (t % per_sec) as i64)
}

/// Writes a date as PostgreSQL's ISO style does: `2024-01-02`,
/// `0044-03-15 BC`, `infinity`.
pub fn write_date(f: &mut fmt::Formatter<'_>, date: i32) -> fmt::Result {
    match date_to_ymd(date) {
        None if date == DATE_INFINITY => f.write_str("infinity"),
        None => f.write_str("-infinity"),
        Some((y, m, d)) => {
            if write_ymd(f, y, m, d)? {
                f.write_str(" BC")?;
            }
            Ok(())
        }
    }
}

/// Writes a time of day: `13:45:00`, `13:45:00.5`, `24:00:00`.
pub fn write_time(f: &mut fmt::Formatter<'_>, time: i64) -> fmt::Result {
    write_hms(f, time)
}

/// Writes a timestamp (`2024-01-02 13:45:00.123456`); with `tz`, a
/// timestamptz in UTC (`2024-01-02 13:45:00+00`).
pub fn write_timestamp(f: &mut fmt::Formatter<'_>, ts: i64, tz: bool) -> fmt::Result {
    let Some(p) = timestamp_to_parts(ts) else {
        return f.write_str(if ts == TIMESTAMP_INFINITY { "infinity" } else { "-infinity" });
    };
    let bc = write_ymd(f, p.year, p.month, p.day)?;
    f.write_str(" ")?;
    write_hms(f, ts.rem_euclid(USECS_PER_DAY))?;
    if tz {
        f.write_str("+00")?;
    }
    if bc {
        f.write_str(" BC")?;
    }
    Ok(())
}

/// Adapts one of the `write_*` functions to [`fmt::Display`].
struct Show<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result>(F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Show<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

/// A date as text (`2024-01-02`).
pub fn format_date(date: i32) -> String {
    Show(|f: &mut fmt::Formatter<'_>| write_date(f, date)).to_string()
}

/// A time as text (`13:45:00`).
pub fn format_time(time: i64) -> String {
    Show(|f: &mut fmt::Formatter<'_>| write_time(f, time)).to_string()
}

/// A timestamp as text (`2024-01-02 13:45:00`).
pub fn format_timestamp(ts: i64) -> String {
    Show(|f: &mut fmt::Formatter<'_>| write_timestamp(f, ts, false)).to_string()
}

/// A timestamptz as text in UTC (`2024-01-02 13:45:00+00`).
pub fn format_timestamptz(ts: i64) -> String {
    Show(|f: &mut fmt::Formatter<'_>| write_timestamp(f, ts, true)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn julian_round_trip() {
        assert_eq!(date2j(2000, 1, 1), POSTGRES_EPOCH_JDATE);
        assert_eq!(date2j(1970, 1, 1), UNIX_EPOCH_JDATE);
        assert_eq!(date2j(-4713, 11, 24), 0);
        for jd in [0, 1, 1_721_426, 2_451_545, 2_460_312, 109_203_527, 2_147_483_493] {
            let (y, m, d) = j2date(jd);
            assert_eq!(date2j(y, m, d), jd, "{jd} -> {y}-{m}-{d}");
        }
        assert_eq!(j2date(2_147_483_493), (5_874_897, 12, 31));
        assert_eq!(j2day(POSTGRES_EPOCH_JDATE), 6); // 2000-01-01 was a Saturday
    }

    #[test]
    fn formatting() {
        assert_eq!(format_date(0), "2000-01-01");
        assert_eq!(format_date(DATE_INFINITY), "infinity");
        assert_eq!(format_date(DATE_NEG_INFINITY), "-infinity");
        assert_eq!(format_date(date_from_ymd(0, 1, 1).unwrap()), "0001-01-01 BC");
        assert_eq!(format_date(date_from_ymd(5_874_897, 12, 31).unwrap()), "5874897-12-31");
        assert_eq!(format_time(USECS_PER_DAY), "24:00:00");
        assert_eq!(format_time(13 * USECS_PER_HOUR + 500_000), "13:00:00.5");
        assert_eq!(format_timestamp(ts("2024-01-02 13:45:00.123456")), "2024-01-02 13:45:00.123456");
        assert_eq!(format_timestamptz(ts("0001-01-01 BC")), "0001-01-01 00:00:00+00 BC");
        assert_eq!(format_timestamp(TIMESTAMP_NEG_INFINITY), "-infinity");
    }

    #[test]
    fn ranges() {
        assert_eq!(format_timestamp(ts("294276-12-31 23:59:59.999999")), "294276-12-31 23:59:59.999999");
        assert!(date_from_ymd(5_874_898, 1, 1).is_err());
        assert!(date_from_ymd(-4713, 11, 23).is_err());
        assert!(date_from_ymd(-4713, 11, 24).is_ok());
        assert!(date_to_timestamp(date_from_ymd(294_277, 1, 1).unwrap()).is_err());
        assert_eq!(date_to_timestamp(DATE_INFINITY).unwrap(), TIMESTAMP_INFINITY);
        assert_eq!(timestamp_to_date(ts("1999-12-31 23:00")), -1);
    }

    #[test]
    fn interval_arithmetic() {
        let mon = Interval::from_months(1);
        let show = |t: Result<i64>| format_timestamp(t.unwrap());
        assert_eq!(show(timestamp_add_interval(ts("2024-01-31"), &mon)), "2024-02-29 00:00:00");
        assert_eq!(show(timestamp_add_interval(ts("2023-01-31"), &mon)), "2023-02-28 00:00:00");
        assert_eq!(show(timestamp_sub_interval(ts("2024-03-31"), &mon)), "2024-02-29 00:00:00");
        assert_eq!(show(timestamp_add_interval(ts("2024-12-15"), &Interval::from_months(-13))), "2023-11-15 00:00:00");
        let iv = Interval::new(14, 3, USECS_PER_HOUR);
        assert_eq!(show(timestamp_add_interval(ts("2024-01-02 13:45"), &iv)), "2025-03-05 14:45:00");
        assert_eq!(timestamp_add_interval(TIMESTAMP_INFINITY, &iv).unwrap(), TIMESTAMP_INFINITY);
        assert!(timestamp_add_interval(ts("294276-12-31"), &Interval::from_days(1)).is_err());
        assert!(timestamp_sub_interval(ts("4714-11-24 BC"), &Interval::from_days(1)).is_err());
        assert_eq!(show(timestamp_add_interval(ts("2024-02-29"), &Interval::from_months(12))), "2025-02-28 00:00:00");
        assert_eq!(show(timestamp_sub_interval(ts("2024-01-31"), &Interval::new(1, 1, 0))), "2023-12-30 00:00:00");
        assert_eq!(
            show(timestamp_add_interval(ts("2024-03-31 10:00"), &Interval::new(-1, -1, -11 * USECS_PER_HOUR))),
            "2024-02-27 23:00:00"
        );
        assert_eq!(
            timestamp_sub_timestamp(ts("2024-03-01"), ts("2024-01-01 12:00")).unwrap().to_string(),
            "59 days 12:00:00"
        );
        assert_eq!(
            timestamp_sub_timestamp(ts("2024-01-01"), ts("2024-03-01 12:00")).unwrap().to_string(),
            "-60 days -12:00:00"
        );
        assert!(timestamp_sub_timestamp(TIMESTAMP_INFINITY, 0).is_err());
        assert_eq!(show(date_add_interval(0, &Interval::from_micros(USECS_PER_HOUR))), "2000-01-01 01:00:00");
    }

    #[test]
    fn date_and_time_arithmetic() {
        let d = parse_date("2024-03-01").unwrap();
        assert_eq!(date_sub_date(d, parse_date("2024-01-01").unwrap()).unwrap(), 60);
        assert_eq!(format_date(date_add_days(d, -1).unwrap()), "2024-02-29");
        assert!(date_add_days(d, 3_000_000_000).is_err());
        assert!(date_sub_date(DATE_INFINITY, d).is_err());
        assert_eq!(date_add_days(DATE_INFINITY, 1).unwrap(), DATE_INFINITY);
        let t = parse_time("23:00").unwrap();
        assert_eq!(format_time(time_add_interval(t, &Interval::from_micros(2 * USECS_PER_HOUR))), "01:00:00");
        assert_eq!(format_time(time_add_interval(t, &Interval::from_micros(-24 * USECS_PER_HOUR))), "23:00:00");
        assert_eq!(time_sub_time(0, t).to_string(), "-23:00:00");
        assert_eq!(format_timestamp(date_add_time(d, t).unwrap()), "2024-03-01 23:00:00");
    }

    #[test]
    fn raw_values_outside_the_ranges() {
        // j2date is the inverse of date2j well outside the valid range.
        for jd in [
            -1,
            -146_097,
            -146_098,
            -2_145_032_102,
            i64::from(i32::MIN) * 300,
            2_149_935_192,
            J2DATE_LIMIT,
            -J2DATE_LIMIT,
        ] {
            let (y, m, d) = j2date(jd);
            assert_eq!(date2j(y, m, d), jd, "{jd} -> {y}-{m}-{d}");
        }
        assert_eq!(j2date(i64::MAX), j2date(J2DATE_LIMIT));
        assert_eq!(j2date(i64::MIN), j2date(-J2DATE_LIMIT));
        let _ = (j2day(i64::MIN), j2day(i64::MAX));
        assert_eq!(j2day(-1), j2day(6));
        assert_eq!(format_date(-2_451_546), "4714-11-23 BC");
        assert!(format_date(i32::MIN + 1).ends_with(" BC"));
        let err = date_to_timestamp(i32::MIN + 1).unwrap_err();
        assert_eq!(err.to_string(), "date out of range for timestamp");
        assert_eq!(err.sqlstate(), "22008");
        assert!(date_to_timestamp(-2_451_546).is_err());
        assert_eq!(date_to_timestamp(-2_451_545).unwrap(), MIN_TIMESTAMP);
        assert_eq!(timestamp_to_date_checked(i64::MIN + 1).unwrap_err().to_string(), "timestamp out of range");
        assert_eq!(timestamp_to_date_checked(TIMESTAMP_INFINITY).unwrap(), DATE_INFINITY);
        assert_eq!(timestamp_to_date_checked(END_TIMESTAMP - 1).unwrap(), TIMESTAMP_END_JULIAN as i32 - 2_451_546);
        assert!(format_timestamp(i64::MIN + 1).ends_with(" BC"));
        assert_eq!(format_timestamp(i64::MAX - 1), "294277-01-09 04:00:54.775806");
        assert_eq!(format_time(-1), "-00:00:00.000001");
        assert_eq!(format_time(i64::MIN), "-2562047788:00:54.775808");
        assert_eq!(format_time(25 * USECS_PER_HOUR), "25:00:00");
        assert_eq!(time_sub_time(i64::MAX, i64::MIN).to_string(), "213503982 days 08:01:49.551615");
        assert!(date_sub_date(i32::MAX - 1, i32::MIN + 1).is_err());
        let p = DateTimeParts { year: 2000, month: 1, day: 1, hour: u32::MAX, minute: u32::MAX, second: 0, micros: 0 };
        assert!(timestamp_from_parts(&p).is_err());
        assert!(timestamp_add_interval(i64::MIN + 1, &Interval::new(1, 1, 1)).is_err());
        assert!(date_add_interval(i32::MIN + 1, &Interval::ZERO).is_err());
    }

    #[test]
    fn chrono_round_trip() {
        let nd = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        let d = date_from_chrono(nd).unwrap();
        assert_eq!(format_date(d), "2024-01-02");
        assert_eq!(date_to_chrono(d), Some(nd));
        assert_eq!(date_to_chrono(0), NaiveDate::from_ymd_opt(2000, 1, 1));
        let ndt = nd.and_hms_micro_opt(13, 45, 0, 123_456).unwrap();
        let t = timestamp_from_chrono(ndt).unwrap();
        assert_eq!(format_timestamp(t), "2024-01-02 13:45:00.123456");
        assert_eq!(timestamp_to_chrono(t), Some(ndt));
        assert_eq!(timestamptz_to_chrono(t).unwrap().naive_utc(), ndt);
        assert_eq!(time_from_chrono(ndt.time()), t.rem_euclid(USECS_PER_DAY));
        assert_eq!(time_to_chrono(USECS_PER_DAY), None);
        assert_eq!(timestamp_to_chrono(TIMESTAMP_INFINITY), None);
        let unix = DateTime::from_timestamp(0, 0).unwrap();
        assert_eq!(format_timestamptz(timestamptz_from_chrono(&unix).unwrap()), "1970-01-01 00:00:00+00");
        assert!(now_timestamp() > 0);
    }
}
