//! `extract` / `date_part` and `date_trunc`, field by field as PostgreSQL
//! 15 computes them.
//!
//! `extract` returns `numeric` in PostgreSQL 14+, with a scale that depends
//! on the field (`second` has 6 digits, `milliseconds` 3, `epoch` of a
//! timestamp 6, most others 0), so the functions here return a [`Decimal`]
//! with exactly that scale; `date_part` is the same value as `f64`.
//!
//! For `infinity`/`-infinity` PostgreSQL answers `NULL` for fields that do
//! not grow with time (`month`, `dow`, ...) and ±Infinity for those that do
//! (`year`, `epoch`, ...). `numeric` infinities cannot be represented by
//! memdb's decimal, so the latter are reported as an error.

use rust_decimal::{Decimal, RoundingStrategy};

use super::{
    DateTimeParts, POSTGRES_EPOCH_JDATE, UNIX_EPOCH_JDATE, date_to_ymd, date2j, j2date, j2day, timestamp_from_parts,
    timestamp_is_finite, timestamp_to_parts,
};
use crate::error::{Error, Result};
use crate::types::interval::{USECS_PER_DAY, USECS_PER_HOUR, USECS_PER_MINUTE, USECS_PER_SEC};
use crate::types::{Interval, Value};

/// A field name accepted by `extract`, `date_part` and `date_trunc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DateField {
    /// `microseconds`: seconds including fraction, times 1 000 000.
    Microseconds,
    /// `milliseconds`: seconds including fraction, times 1 000.
    Milliseconds,
    /// `second`, with its fraction.
    Second,
    /// `minute`
    Minute,
    /// `hour`
    Hour,
    /// `day` of the month.
    Day,
    /// `week`: ISO 8601 week number.
    Week,
    /// `month`
    Month,
    /// `quarter`
    Quarter,
    /// `year` (no year 0: 1 BC is -1).
    Year,
    /// `decade`: year / 10.
    Decade,
    /// `century`
    Century,
    /// `millennium`
    Millennium,
    /// `dow`: day of week, Sunday = 0.
    Dow,
    /// `isodow`: day of week, Monday = 1 .. Sunday = 7.
    IsoDow,
    /// `doy`: day of the year, 1..=366.
    Doy,
    /// `isoyear`: ISO 8601 week-numbering year.
    IsoYear,
    /// `julian`: Julian day, with the time as a fraction.
    Julian,
    /// `epoch`: seconds since 1970-01-01 00:00:00 UTC (or of an interval).
    Epoch,
    /// `timezone`: UTC offset in seconds (always 0 here).
    Timezone,
    /// `timezone_hour`
    TimezoneHour,
    /// `timezone_minute`
    TimezoneMinute,
}

impl DateField {
    /// Looks up a field name case-insensitively, with PostgreSQL's
    /// abbreviations and plurals (`yr`, `mons`, `usec`, ...). `type_name`
    /// names the source type for the error message.
    pub fn parse(name: &str, type_name: &str) -> Result<DateField> {
        let lower = name.trim().to_ascii_lowercase();
        let key: String = lower.chars().take(10).collect();
        Ok(match key.as_str() {
            "microsecon" | "us" | "usec" | "usecs" | "usecond" | "useconds" => DateField::Microseconds,
            "millisecon" | "ms" | "msec" | "msecs" | "msecond" | "mseconds" => DateField::Milliseconds,
            "second" | "seconds" | "s" | "sec" | "secs" => DateField::Second,
            "minute" | "minutes" | "m" | "min" | "mins" => DateField::Minute,
            "hour" | "hours" | "h" | "hr" | "hrs" => DateField::Hour,
            "day" | "days" | "d" => DateField::Day,
            "week" | "weeks" | "w" => DateField::Week,
            "month" | "months" | "mon" | "mons" => DateField::Month,
            "quarter" | "qtr" => DateField::Quarter,
            "year" | "years" | "y" | "yr" | "yrs" => DateField::Year,
            "decade" | "decades" | "dec" | "decs" => DateField::Decade,
            "century" | "centuries" | "c" | "cent" => DateField::Century,
            "millennium" | "millennia" | "mil" | "mils" => DateField::Millennium,
            "dow" => DateField::Dow,
            "isodow" => DateField::IsoDow,
            "doy" => DateField::Doy,
            "isoyear" => DateField::IsoYear,
            "julian" | "j" => DateField::Julian,
            "epoch" => DateField::Epoch,
            "timezone" => DateField::Timezone,
            "timezone_h" => DateField::TimezoneHour,
            "timezone_m" => DateField::TimezoneMinute,
            _ => {
                return Err(Error::InvalidParameter(format!("unit \"{lower}\" not recognized for type {type_name}")));
            }
        })
    }

    /// PostgreSQL's name for the field, as used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            DateField::Microseconds => "microseconds",
            DateField::Milliseconds => "milliseconds",
            DateField::Second => "second",
            DateField::Minute => "minute",
            DateField::Hour => "hour",
            DateField::Day => "day",
            DateField::Week => "week",
            DateField::Month => "month",
            DateField::Quarter => "quarter",
            DateField::Year => "year",
            DateField::Decade => "decade",
            DateField::Century => "century",
            DateField::Millennium => "millennium",
            DateField::Dow => "dow",
            DateField::IsoDow => "isodow",
            DateField::Doy => "doy",
            DateField::IsoYear => "isoyear",
            DateField::Julian => "julian",
            DateField::Epoch => "epoch",
            DateField::Timezone => "timezone",
            DateField::TimezoneHour => "timezone_hour",
            DateField::TimezoneMinute => "timezone_minute",
        }
    }

    /// Whether the field keeps growing with time, so `infinity` has an
    /// infinite value for it rather than none.
    fn is_monotonic(self) -> bool {
        matches!(
            self,
            DateField::Year
                | DateField::Decade
                | DateField::Century
                | DateField::Millennium
                | DateField::IsoYear
                | DateField::Julian
                | DateField::Epoch
        )
    }
}

/// `unit "x" not supported for type y`.
fn unsupported(field: DateField, type_name: &str) -> Error {
    Error::InvalidParameter(format!("unit \"{}\" not supported for type {type_name}", field.name()))
}

/// The answer for an infinite input: `NULL`, or an error where PostgreSQL
/// returns a numeric infinity.
fn infinite_part(field: DateField) -> Result<Option<Decimal>> {
    if field.is_monotonic() {
        Err(Error::NumericOverflow(format!("cannot represent infinite \"{}\" as numeric", field.name())))
    } else {
        Ok(None)
    }
}

/// The ISO 8601 week number of a date (PostgreSQL's `date2isoweek`).
fn iso_week(year: i32, month: u32, day: u32) -> i64 {
    let dayn = date2j(year, month, day);
    let mut day4 = date2j(year, 1, 4);
    let mut day0 = i64::from(j2day(day4 - 1));
    if dayn < day4 - day0 {
        day4 = date2j(year - 1, 1, 4);
        day0 = i64::from(j2day(day4 - 1));
    }
    let mut result = (dayn - (day4 - day0)) / 7 + 1;
    if result >= 52 {
        day4 = date2j(year + 1, 1, 4);
        day0 = i64::from(j2day(day4 - 1));
        if dayn >= day4 - day0 {
            result = (dayn - (day4 - day0)) / 7 + 1;
        }
    }
    result
}

/// The ISO 8601 week-numbering year of a date (`date2isoyear`).
fn iso_year(year: i32, month: u32, day: u32) -> i64 {
    let mut year = i64::from(year);
    let dayn = date2j(year as i32, month, day);
    let mut day4 = date2j(year as i32, 1, 4);
    let mut day0 = i64::from(j2day(day4 - 1));
    if dayn < day4 - day0 {
        day4 = date2j(year as i32 - 1, 1, 4);
        day0 = i64::from(j2day(day4 - 1));
        year -= 1;
    }
    let result = (dayn - (day4 - day0)) / 7 + 1;
    if result >= 52 {
        day4 = date2j(year as i32 + 1, 1, 4);
        day0 = i64::from(j2day(day4 - 1));
        if dayn >= day4 - day0 {
            year += 1;
        }
    }
    year
}

/// The fields every date-bearing type shares, from an astronomical date.
fn date_fields(field: DateField, year: i32, month: u32, day: u32) -> Option<i64> {
    let y = i64::from(year);
    Some(match field {
        DateField::Day => i64::from(day),
        DateField::Month => i64::from(month),
        DateField::Quarter => (i64::from(month) - 1) / 3 + 1,
        DateField::Week => iso_week(year, month, day),
        DateField::Year => {
            if y > 0 {
                y
            } else {
                y - 1
            }
        }
        DateField::Decade => {
            if y >= 0 {
                y / 10
            } else {
                -((8 - (y - 1)) / 10)
            }
        }
        DateField::Century => {
            if y > 0 {
                (y + 99) / 100
            } else {
                -((99 - (y - 1)) / 100)
            }
        }
        DateField::Millennium => {
            if y > 0 {
                (y + 999) / 1000
            } else {
                -((999 - (y - 1)) / 1000)
            }
        }
        DateField::Dow => i64::from(j2day(date2j(year, month, day))),
        DateField::IsoDow => match j2day(date2j(year, month, day)) {
            0 => 7,
            d => i64::from(d),
        },
        DateField::Doy => date2j(year, month, day) - date2j(year, 1, 1) + 1,
        DateField::IsoYear => match iso_year(year, month, day) {
            r if r <= 0 => r - 1,
            r => r,
        },
        _ => return None,
    })
}

/// The scale PostgreSQL's `numeric_div` gives `micros / 86_400_000_000`
/// (its `select_div_scale`), capped so the Julian day still fits.
fn julian_fraction_scale(micros: i64, jd: i64) -> u32 {
    // Base-10000 weight and leading digit of the numerator.
    let (mut weight, mut first) = (0i32, micros);
    while first >= 10_000 {
        first /= 10_000;
        weight += 1;
    }
    let mut qweight = weight - 2;
    if first <= 864 {
        qweight -= 1;
    }
    let rscale = (16 - qweight * 4).clamp(0, 1000) as u32;
    let jd_digits = jd.max(1).ilog10() + 1;
    rscale.min(28u32.saturating_sub(jd_digits))
}

/// `extract(field from timestamp)`; `with_tz` for `timestamptz` (UTC).
/// `Ok(None)` is SQL `NULL` (a non-monotonic field of an infinity).
pub fn extract_timestamp(field: DateField, ts: i64, with_tz: bool) -> Result<Option<Decimal>> {
    let type_name = if with_tz { "timestamp with time zone" } else { "timestamp without time zone" };
    if matches!(field, DateField::Timezone | DateField::TimezoneHour | DateField::TimezoneMinute) && !with_tz {
        return Err(unsupported(field, type_name));
    }
    let Some(p) = timestamp_to_parts(ts) else {
        return infinite_part(field);
    };
    let sec_micros = i64::from(p.second) * USECS_PER_SEC + i64::from(p.micros);
    let time = ts.rem_euclid(USECS_PER_DAY);
    Ok(Some(match field {
        DateField::Microseconds => Decimal::from(sec_micros),
        DateField::Milliseconds => Decimal::new(sec_micros, 3),
        DateField::Second => Decimal::new(sec_micros, 6),
        DateField::Minute => Decimal::from(p.minute),
        DateField::Hour => Decimal::from(p.hour),
        DateField::Timezone | DateField::TimezoneHour | DateField::TimezoneMinute => Decimal::ZERO,
        DateField::Epoch => {
            let unix = i128::from(ts) + i128::from((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY);
            Decimal::try_from_i128_with_scale(unix, 6).map_err(|e| Error::NumericOverflow(e.to_string()))?
        }
        DateField::Julian => {
            let jd = date2j(p.year, p.month, p.day);
            let scale = julian_fraction_scale(time, jd);
            let frac = (Decimal::from(time) / Decimal::from(USECS_PER_DAY))
                .round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
            let mut v = Decimal::from(jd)
                .checked_add(frac)
                .ok_or_else(|| Error::NumericOverflow("value overflows numeric format".to_owned()))?;
            v.rescale(scale);
            v
        }
        f => Decimal::from(date_fields(f, p.year, p.month, p.day).ok_or_else(|| unsupported(f, type_name))?),
    }))
}

/// `extract(field from date)`: integer results; time fields are errors.
pub fn extract_date(field: DateField, date: i32) -> Result<Option<Decimal>> {
    const TYPE: &str = "date";
    let time_field = matches!(
        field,
        DateField::Microseconds
            | DateField::Milliseconds
            | DateField::Second
            | DateField::Minute
            | DateField::Hour
            | DateField::Timezone
            | DateField::TimezoneHour
            | DateField::TimezoneMinute
    );
    if time_field {
        return Err(unsupported(field, TYPE));
    }
    let Some((y, m, d)) = date_to_ymd(date) else {
        return infinite_part(field);
    };
    Ok(Some(match field {
        DateField::Epoch => Decimal::from((i64::from(date) + POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * 86_400),
        DateField::Julian => Decimal::from(i64::from(date) + POSTGRES_EPOCH_JDATE),
        f => Decimal::from(date_fields(f, y, m, d).ok_or_else(|| unsupported(f, TYPE))?),
    }))
}

/// `extract(field from time)`.
pub fn extract_time(field: DateField, time: i64) -> Result<Option<Decimal>> {
    let sec_micros = time % USECS_PER_MINUTE;
    Ok(Some(match field {
        DateField::Microseconds => Decimal::from(sec_micros),
        DateField::Milliseconds => Decimal::new(sec_micros, 3),
        DateField::Second => Decimal::new(sec_micros, 6),
        DateField::Minute => Decimal::from(time % USECS_PER_HOUR / USECS_PER_MINUTE),
        DateField::Hour => Decimal::from(time / USECS_PER_HOUR),
        DateField::Epoch => Decimal::new(time, 6),
        f => return Err(unsupported(f, "time without time zone")),
    }))
}

/// `extract(field from interval)`, from PostgreSQL's breakdown: years and
/// months from the month field, days, then hours/minutes/seconds of the
/// time field; `epoch` counts a year as 365.25 days and a month as 30.
pub fn extract_interval(field: DateField, iv: &Interval) -> Result<Option<Decimal>> {
    let years = i64::from(iv.months / 12);
    let months = i64::from(iv.months % 12);
    let sec_micros = iv.micros % USECS_PER_MINUTE;
    Ok(Some(match field {
        DateField::Microseconds => Decimal::from(sec_micros),
        DateField::Milliseconds => Decimal::new(sec_micros, 3),
        DateField::Second => Decimal::new(sec_micros, 6),
        DateField::Minute => Decimal::from(iv.micros % USECS_PER_HOUR / USECS_PER_MINUTE),
        DateField::Hour => Decimal::from(iv.micros / USECS_PER_HOUR),
        DateField::Day => Decimal::from(iv.days),
        DateField::Month => Decimal::from(months),
        DateField::Quarter => Decimal::from(months / 3 + 1),
        DateField::Year => Decimal::from(years),
        DateField::Decade => Decimal::from(years / 10),
        DateField::Century => Decimal::from(years / 100),
        DateField::Millennium => Decimal::from(years / 1000),
        DateField::Epoch => {
            // 4 * 365.25 = 1461 days per 4 years; SECS_PER_DAY / 4 = 21600.
            let quarter_days = 1461 * years + 4 * 30 * months + 4 * i64::from(iv.days);
            let micros = i128::from(quarter_days) * 21_600 * 1_000_000 + i128::from(iv.micros);
            Decimal::try_from_i128_with_scale(micros, 6).map_err(|e| Error::NumericOverflow(e.to_string()))?
        }
        f => return Err(unsupported(f, "interval")),
    }))
}

/// `date_trunc(field, timestamp)`: the timestamp rounded down to the start
/// of its `field` (`week` starts on Monday). `with_tz` only changes the type
/// named in errors, the session zone being UTC. Infinities stay as they are.
pub fn date_trunc_timestamp(field: DateField, ts: i64, with_tz: bool) -> Result<i64> {
    let type_name = if with_tz { "timestamp with time zone" } else { "timestamp without time zone" };
    let valid = matches!(
        field,
        DateField::Microseconds
            | DateField::Milliseconds
            | DateField::Second
            | DateField::Minute
            | DateField::Hour
            | DateField::Day
            | DateField::Week
            | DateField::Month
            | DateField::Quarter
            | DateField::Year
            | DateField::Decade
            | DateField::Century
            | DateField::Millennium
    );
    if !valid {
        return Err(unsupported(field, type_name));
    }
    if !timestamp_is_finite(ts) {
        return Ok(ts);
    }
    let Some(mut p) = timestamp_to_parts(ts) else {
        return Ok(ts);
    };
    if field == DateField::Week {
        let jd = date2j(p.year, p.month, p.day);
        let monday = jd - (i64::from(j2day(jd)) + 6) % 7;
        let (year, month, day) = j2date(monday);
        let parts = DateTimeParts { year, month, day, hour: 0, minute: 0, second: 0, micros: 0 };
        return timestamp_from_parts(&parts);
    }
    let y = p.year;
    use DateField as F;
    match field {
        F::Millennium => {
            p.year = if y > 0 { ((y + 999) / 1000) * 1000 - 999 } else { -((999 - (y - 1)) / 1000) * 1000 + 1 };
        }
        F::Century => {
            p.year = if y > 0 { ((y + 99) / 100) * 100 - 99 } else { -((99 - (y - 1)) / 100) * 100 + 1 };
        }
        F::Decade => {
            p.year = if y > 0 { (y / 10) * 10 } else { -((8 - (y - 1)) / 10) * 10 };
        }
        _ => {}
    }
    if matches!(field, F::Millennium | F::Century | F::Decade | F::Year) {
        p.month = 1;
    }
    if matches!(field, F::Millennium | F::Century | F::Decade | F::Year | F::Quarter) {
        p.month = 3 * ((p.month - 1) / 3) + 1;
    }
    if matches!(field, F::Millennium | F::Century | F::Decade | F::Year | F::Quarter | F::Month) {
        p.day = 1;
    }
    let coarse = matches!(field, F::Millennium | F::Century | F::Decade | F::Year | F::Quarter | F::Month);
    if coarse || field == F::Day {
        p.hour = 0;
    }
    if coarse || matches!(field, F::Day | F::Hour) {
        p.minute = 0;
    }
    if coarse || matches!(field, F::Day | F::Hour | F::Minute) {
        p.second = 0;
    }
    match field {
        F::Microseconds => {}
        F::Milliseconds => p.micros = p.micros / 1000 * 1000,
        _ => p.micros = 0,
    }
    timestamp_from_parts(&p)
}

/// `date_trunc(field, interval)`: drops the parts of the interval below
/// `field` (`week` is not allowed, months having fractional weeks).
pub fn date_trunc_interval(field: DateField, iv: &Interval) -> Result<Interval> {
    use DateField as F;
    let mut years = iv.months / 12;
    let mut months = iv.months % 12;
    let mut days = iv.days;
    let mut hours = iv.micros / USECS_PER_HOUR;
    let mut minutes = iv.micros % USECS_PER_HOUR / USECS_PER_MINUTE;
    let mut secs = iv.micros % USECS_PER_MINUTE / USECS_PER_SEC;
    let mut usecs = iv.micros % USECS_PER_SEC;
    let rank = match field {
        F::Millennium => 0,
        F::Century => 1,
        F::Decade => 2,
        F::Year => 3,
        F::Quarter => 4,
        F::Month => 5,
        F::Day => 6,
        F::Hour => 7,
        F::Minute => 8,
        F::Second => 9,
        F::Milliseconds => 10,
        F::Microseconds => 11,
        F::Week => {
            return Err(Error::InvalidParameter(
                "interval units \"week\" not supported because months usually have fractional weeks".to_owned(),
            ));
        }
        f => return Err(unsupported(f, "interval")),
    };
    // PostgreSQL's fall-through switch: each unit applies its own step and
    // every finer one, except that `second` (and coarser) zero the
    // microseconds outright.
    if rank <= 0 {
        years = years / 1000 * 1000;
    }
    if rank <= 1 {
        years = years / 100 * 100;
    }
    if rank <= 2 {
        years = years / 10 * 10;
    }
    if rank <= 3 {
        months = 0;
    }
    if rank <= 4 {
        months = 3 * (months / 3);
    }
    if rank <= 5 {
        days = 0;
    }
    if rank <= 6 {
        hours = 0;
    }
    if rank <= 7 {
        minutes = 0;
    }
    if rank <= 8 {
        secs = 0;
    }
    if rank <= 9 {
        usecs = 0;
    } else if rank == 10 {
        usecs = usecs / 1000 * 1000;
    }
    let micros = hours * USECS_PER_HOUR + minutes * USECS_PER_MINUTE + secs * USECS_PER_SEC + usecs;
    Ok(Interval { months: years * 12 + months, days, micros })
}

/// PostgreSQL's name of a value's type for the messages of the
/// `extract`/`date_part`/`date_trunc` dispatchers.
fn type_name_of(value: &Value) -> String {
    value.data_type().map_or_else(|| "unknown".to_owned(), |t| t.to_string())
}

/// `extract(field FROM value)` on a `date`, `time`, `timestamp`,
/// `timestamptz` or `interval` value: a `numeric`, or `NULL` (for a NULL
/// value, or a non-monotonic field of an infinite timestamp).
pub fn extract(field: &str, value: &Value) -> Result<Value> {
    let type_name = type_name_of(value);
    let part = match value {
        Value::Null => return Ok(Value::Null),
        Value::Date(d) => extract_date(DateField::parse(field, &type_name)?, *d)?,
        Value::Time(t) => extract_time(DateField::parse(field, &type_name)?, *t)?,
        Value::Timestamp(t) => extract_timestamp(DateField::parse(field, &type_name)?, *t, false)?,
        Value::TimestampTz(t) => extract_timestamp(DateField::parse(field, &type_name)?, *t, true)?,
        Value::Interval(i) => extract_interval(DateField::parse(field, &type_name)?, i)?,
        _ => return Err(Error::DatatypeMismatch(format!("cannot extract fields from type {type_name}"))),
    };
    Ok(part.map_or(Value::Null, Value::Numeric))
}

/// `date_part(field, value)`: like [`extract`] but `double precision`, and
/// a `date` counts as its midnight timestamp (so `hour` is 0). For an
/// infinite timestamp, fields that grow with time (`year`, `epoch`, ...)
/// are `Infinity`/`-Infinity`, as in PostgreSQL.
pub fn date_part(field: &str, value: &Value) -> Result<Value> {
    let (with_tz, ts) = match value {
        Value::Null => return Ok(Value::Null),
        Value::Date(d) => (false, super::date_to_timestamp(*d)?),
        Value::Timestamp(t) => (false, *t),
        Value::TimestampTz(t) => (true, *t),
        Value::Time(_) | Value::Interval(_) => {
            let part = extract(field, value)?;
            return Ok(match part {
                Value::Numeric(d) => Value::Float8(d.to_string().parse().unwrap_or(f64::NAN)),
                other => other,
            });
        }
        _ => {
            return Err(Error::DatatypeMismatch(format!("cannot extract fields from type {}", type_name_of(value))));
        }
    };
    let name = if with_tz { "timestamp with time zone" } else { "timestamp without time zone" };
    let f = DateField::parse(field, name)?;
    if !timestamp_is_finite(ts) {
        if matches!(f, DateField::Timezone | DateField::TimezoneHour | DateField::TimezoneMinute) && !with_tz {
            return Err(unsupported(f, name));
        }
        let inf = if ts > 0 { f64::INFINITY } else { f64::NEG_INFINITY };
        return Ok(if f.is_monotonic() { Value::Float8(inf) } else { Value::Null });
    }
    Ok(match extract_timestamp(f, ts, with_tz)? {
        Some(d) => Value::Float8(d.to_string().parse().unwrap_or(f64::NAN)),
        None => Value::Null,
    })
}

/// `date_trunc(field, value)` on a `timestamp`, `timestamptz` or
/// `interval`; a `date` is truncated as a `timestamptz` (PostgreSQL's
/// implicit cast), giving a `timestamptz`.
pub fn date_trunc(field: &str, value: &Value) -> Result<Value> {
    let type_name = type_name_of(value);
    Ok(match value {
        Value::Null => Value::Null,
        Value::Timestamp(t) => Value::Timestamp(date_trunc_timestamp(DateField::parse(field, &type_name)?, *t, false)?),
        Value::TimestampTz(t) => {
            Value::TimestampTz(date_trunc_timestamp(DateField::parse(field, &type_name)?, *t, true)?)
        }
        Value::Date(d) => {
            let f = DateField::parse(field, "timestamp with time zone")?;
            Value::TimestampTz(date_trunc_timestamp(f, super::date_to_timestamp(*d)?, true)?)
        }
        Value::Interval(i) => Value::Interval(date_trunc_interval(DateField::parse(field, &type_name)?, i)?),
        _ => return Err(Error::DatatypeMismatch(format!("cannot truncate a value of type {type_name}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::super::{format_timestamp, parse_date, parse_time, parse_timestamp};
    use super::*;

    fn ts(s: &str) -> i64 {
        parse_timestamp(s).unwrap()
    }
    fn ex(field: &str, s: &str) -> String {
        let f = DateField::parse(field, "timestamp").unwrap();
        extract_timestamp(f, ts(s), false).unwrap().unwrap().to_string()
    }
    fn trunc(field: &str, s: &str) -> String {
        let f = DateField::parse(field, "timestamp").unwrap();
        format_timestamp(date_trunc_timestamp(f, ts(s), false).unwrap())
    }

    #[test]
    fn extract_from_timestamp_like_postgres() {
        assert_eq!(ex("second", "2024-01-02 13:45:00"), "0.000000");
        assert_eq!(ex("epoch", "2024-01-02 13:45:00.5"), "1704203100.500000");
        assert_eq!(ex("julian", "2024-01-02 12:00"), "2460312.50000000000000000000");
        assert_eq!(ex("julian", "2024-01-02 13:45:01.123457"), "2460312.57292966964120370370");
        assert_eq!(ex("milliseconds", "2024-01-02 13:45:01.5"), "1500.000");
        assert_eq!(ex("microseconds", "2024-01-02 13:45:01.5"), "1500000");
        assert_eq!(ex("YEAR", "2024-01-02"), "2024");
        assert_eq!(ex("year", "0001-06-01 BC"), "-1");
        assert_eq!(ex("century", "2000-01-01"), "20");
        assert_eq!(ex("century", "2001-01-01"), "21");
        assert_eq!(ex("millennium", "2001-01-01"), "3");
        assert_eq!(ex("decade", "2024-01-01"), "202");
        assert_eq!(ex("dow", "2024-01-07"), "0");
        assert_eq!(ex("isodow", "2024-01-07"), "7");
        assert_eq!(ex("doy", "2024-12-31"), "366");
        assert_eq!(ex("week", "2024-12-30"), "1");
        assert_eq!(ex("isoyear", "2024-12-30"), "2025");
        assert_eq!(ex("week", "2021-01-01"), "53");
        assert_eq!(ex("isoyear", "2021-01-01"), "2020");
        assert_eq!(ex("quarter", "2024-08-01"), "3");
        assert_eq!(ex("century", "0001-01-01 BC"), "-1");
        assert_eq!(ex("decade", "0011-01-01 BC"), "-1");
        assert_eq!(ex("millennium", "1000-01-01 BC"), "-1");
        assert_eq!(ex("isoyear", "0001-01-01 BC"), "-2");
        assert_eq!(ex("week", "0001-01-01 BC"), "52");
        assert_eq!(ex("dow", "0001-01-01 BC"), "6");
        assert_eq!(ex("julian", "2024-01-02 00:00:00.001"), "2460312.000000011574074074074");
        let f = DateField::parse("timezone", "x").unwrap();
        assert!(extract_timestamp(f, 0, false).is_err());
        assert_eq!(extract_timestamp(f, 0, true).unwrap().unwrap(), Decimal::ZERO);
        assert_eq!(extract_timestamp(DateField::Month, i64::MAX, false).unwrap(), None);
        assert!(extract_timestamp(DateField::Year, i64::MAX, false).is_err());
        assert!(DateField::parse("fortnight", "timestamp").is_err());
    }

    #[test]
    fn extract_from_date_time_interval() {
        let d = parse_date("2024-01-02").unwrap();
        assert_eq!(extract_date(DateField::Epoch, d).unwrap().unwrap().to_string(), "1704153600");
        assert_eq!(extract_date(DateField::Julian, d).unwrap().unwrap().to_string(), "2460312");
        assert_eq!(extract_date(DateField::Doy, d).unwrap().unwrap().to_string(), "2");
        assert_eq!(
            extract_date(DateField::Hour, d).unwrap_err().to_string(),
            "unit \"hour\" not supported for type date"
        );
        let t = parse_time("01:00:00.25").unwrap();
        assert_eq!(extract_time(DateField::Epoch, t).unwrap().unwrap().to_string(), "3600.250000");
        assert_eq!(extract_time(DateField::Second, t).unwrap().unwrap().to_string(), "0.250000");
        let iv = Interval::parse("1 year 1 mon 1 day 1 second").unwrap();
        assert_eq!(extract_interval(DateField::Epoch, &iv).unwrap().unwrap().to_string(), "34236001.000000");
        let iv = Interval::parse("13 months").unwrap();
        assert_eq!(extract_interval(DateField::Year, &iv).unwrap().unwrap().to_string(), "1");
        assert_eq!(extract_interval(DateField::Month, &iv).unwrap().unwrap().to_string(), "1");
        let iv = Interval::parse("1.5 seconds").unwrap();
        assert_eq!(extract_interval(DateField::Second, &iv).unwrap().unwrap().to_string(), "1.500000");
    }

    #[test]
    fn trunc_timestamp_like_postgres() {
        let s = "2024-08-17 13:45:12.345678";
        assert_eq!(trunc("microseconds", s), "2024-08-17 13:45:12.345678");
        assert_eq!(trunc("milliseconds", s), "2024-08-17 13:45:12.345");
        assert_eq!(trunc("second", s), "2024-08-17 13:45:12");
        assert_eq!(trunc("minute", s), "2024-08-17 13:45:00");
        assert_eq!(trunc("hour", s), "2024-08-17 13:00:00");
        assert_eq!(trunc("day", s), "2024-08-17 00:00:00");
        assert_eq!(trunc("week", s), "2024-08-12 00:00:00");
        assert_eq!(trunc("month", s), "2024-08-01 00:00:00");
        assert_eq!(trunc("quarter", s), "2024-07-01 00:00:00");
        assert_eq!(trunc("year", s), "2024-01-01 00:00:00");
        assert_eq!(trunc("decade", s), "2020-01-01 00:00:00");
        assert_eq!(trunc("century", s), "2001-01-01 00:00:00");
        assert_eq!(trunc("millennium", s), "2001-01-01 00:00:00");
        assert_eq!(trunc("week", "2024-01-01 10:00"), "2024-01-01 00:00:00");
        assert_eq!(trunc("century", "0150-01-01 BC"), "0200-01-01 00:00:00 BC");
        assert_eq!(trunc("decade", "0015-01-01 BC"), "0021-01-01 00:00:00 BC");
        assert_eq!(trunc("millennium", "2000-06-01"), "1001-01-01 00:00:00");
        assert_eq!(trunc("decade", "0005-06-01"), "0001-01-01 00:00:00 BC");
        assert!(date_trunc_timestamp(DateField::Dow, 0, false).is_err());
        assert_eq!(date_trunc_timestamp(DateField::Day, i64::MIN, false).unwrap(), i64::MIN);
    }

    #[test]
    fn value_dispatchers() {
        let ts = Value::Timestamp(ts("2024-01-02 13:45:30.5"));
        assert_eq!(extract("second", &ts).unwrap().to_string(), "30.500000");
        assert_eq!(date_part("second", &ts).unwrap(), Value::Float8(30.5));
        let d = Value::Date(parse_date("2024-01-02").unwrap());
        assert_eq!(date_part("hour", &d).unwrap(), Value::Float8(0.0));
        assert!(extract("hour", &d).is_err());
        assert_eq!(date_part("year", &Value::Timestamp(i64::MAX)).unwrap(), Value::Float8(f64::INFINITY));
        assert_eq!(date_part("epoch", &Value::Date(i32::MIN)).unwrap(), Value::Float8(f64::NEG_INFINITY));
        assert!(date_part("month", &Value::Timestamp(i64::MAX)).unwrap().is_null());
        assert!(extract("month", &Value::Null).unwrap().is_null());
        assert_eq!(date_trunc("month", &d).unwrap().to_string(), "2024-01-01 00:00:00+00");
        assert_eq!(date_trunc("hour", &ts).unwrap().to_string(), "2024-01-02 13:00:00");
        assert_eq!(extract("dow", &Value::Int4(1)).unwrap_err().to_string(), "cannot extract fields from type integer");
        assert_eq!(
            extract("fortnight", &ts).unwrap_err().to_string(),
            "unit \"fortnight\" not recognized for type timestamp without time zone"
        );
    }

    #[test]
    fn trunc_interval() {
        let iv = Interval::parse("1234 years 5 mons 6 days 07:08:09.123456").unwrap();
        let t = |f: DateField| date_trunc_interval(f, &iv).unwrap().to_string();
        assert_eq!(t(DateField::Millennium), "1000 years");
        assert_eq!(t(DateField::Quarter), "1234 years 3 mons");
        assert_eq!(t(DateField::Day), "1234 years 5 mons 6 days");
        assert_eq!(t(DateField::Hour), "1234 years 5 mons 6 days 07:00:00");
        assert_eq!(t(DateField::Second), "1234 years 5 mons 6 days 07:08:09");
        assert_eq!(t(DateField::Milliseconds), "1234 years 5 mons 6 days 07:08:09.123");
        assert!(date_trunc_interval(DateField::Week, &iv).is_err());
        let neg = Interval::parse("-1 day -25:30:10.5").unwrap();
        assert_eq!(date_trunc_interval(DateField::Hour, &neg).unwrap().to_string(), "-1 days -25:00:00");
        let neg = Interval::parse("-15 months").unwrap();
        assert_eq!(date_trunc_interval(DateField::Year, &neg).unwrap().to_string(), "-1 years");
        assert_eq!(extract_interval(DateField::Quarter, &Interval::from_months(-5)).unwrap().unwrap().to_string(), "0");
    }
}
