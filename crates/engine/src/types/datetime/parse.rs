//! Date/time text input, after PostgreSQL's `ParseDateTime` and
//! `DecodeDateTime` with `DateStyle = ISO, MDY`.
//!
//! The input is split into fields, then each field is interpreted:
//!
//! ```text
//!   2024-01-02  2024/01/02  1/2/2024  02-jan-2024   a date (y-m-d, or m/d/y)
//!   20240102                                        y m d run together
//!   Jan 2, 2024   2 January 2024                    month names + numbers
//!   13:45  13:45:00.123456  1:05 pm                 a time (rounded to µs)
//!   +02  -0530  +05:30  Z  UTC  GMT                 a UTC offset
//!   BC  AD  T (date/time separator)  weekday names  markers
//!   epoch infinity -infinity now today tomorrow yesterday allballs
//! ```
//!
//! `date` keeps only the date, `time` only the time, `timestamp` ignores an
//! offset, `timestamptz` applies it. Named time zones other than UTC are not
//! supported (memdb's session zone is always UTC).

use super::{
    DATE_INFINITY, DATE_NEG_INFINITY, TIMESTAMP_INFINITY, TIMESTAMP_NEG_INFINITY, date2j, days_in_month, is_valid_date,
    is_valid_timestamp, now_timestamp, timestamp_to_date,
};
use crate::error::{Error, Result};
use crate::types::interval::{USECS_PER_DAY, USECS_PER_HOUR, USECS_PER_MINUTE, USECS_PER_SEC};

use super::POSTGRES_EPOCH_JDATE;

/// The largest UTC offset PostgreSQL accepts, in hours.
const MAX_TZ_HOURS: i64 = 15;

/// A special word that stands for a whole value or its date part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Special {
    Infinity,
    NegInfinity,
    Now,
    /// `epoch`: 1970-01-01 00:00:00.
    Epoch,
    /// `today`, `tomorrow`, `yesterday`: today's date plus this many days.
    Today(i64),
    /// `allballs`: 00:00:00.
    Allballs,
}

/// The fields found in the input.
#[derive(Debug, Default)]
struct Fields {
    year: Option<i64>,
    /// Digits the year was written with (two-digit years are widened).
    year_digits: usize,
    month: Option<i64>,
    day: Option<i64>,
    /// Microseconds since midnight.
    time: Option<i64>,
    /// Seconds east of UTC.
    offset: Option<i64>,
    bc: bool,
    ad: bool,
    /// `Some(true)` for PM, `Some(false)` for AM.
    pm: Option<bool>,
    special: Option<Special>,
}

/// Why decoding failed.
enum Failure {
    /// Not recognizable: `invalid input syntax for type ...`.
    Syntax,
    /// A field out of range: `date/time field value out of range`.
    FieldRange,
    /// A UTC offset beyond ±15:59:59.
    TzRange,
}

type Decoded<T> = std::result::Result<T, Failure>;

/// The month of a month name (`jan`, `january`, `sept`).
fn month_named(word: &str) -> Option<i64> {
    const NAMES: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    if word == "sept" {
        return Some(9);
    }
    NAMES.iter().position(|n| word.len() >= 3 && n.starts_with(word)).map(|i| i as i64 + 1)
}

/// The UTC offset (seconds east) of common time zone abbreviations, as in
/// PostgreSQL's default abbreviation set.
fn zone_abbreviation(word: &str) -> Option<i64> {
    let hours: f64 = match word {
        "pst" => -8.0,
        "pdt" | "mst" => -7.0,
        "mdt" | "cst" => -6.0,
        "cdt" | "est" => -5.0,
        "edt" => -4.0,
        "akst" => -9.0,
        "akdt" => -8.0,
        "hst" => -10.0,
        "wet" => 0.0,
        "west" | "bst" | "cet" => 1.0,
        "cest" | "eet" => 2.0,
        "eest" | "msk" => 3.0,
        "jst" | "kst" => 9.0,
        "aest" => 10.0,
        "aedt" => 11.0,
        "nzst" => 12.0,
        "nzdt" => 13.0,
        _ => return None,
    };
    Some((hours * 3600.0) as i64)
}

/// Whether a word names a day of the week (ignored, as PostgreSQL does).
fn is_weekday(word: &str) -> bool {
    const NAMES: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
    word.len() >= 3 && NAMES.iter().any(|n| n.starts_with(word)) || matches!(word, "tues" | "wednes" | "thur" | "thurs")
}

/// Parses a run of ASCII digits.
fn digits(s: &str) -> Decoded<i64> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Failure::Syntax);
    }
    s.parse().map_err(|_| Failure::Syntax)
}

/// Parses `h:m[:s[.frac]]` into microseconds since midnight.
fn decode_time(s: &str) -> Decoded<i64> {
    let mut parts = s.split(':');
    let h = digits(parts.next().unwrap_or(""))?;
    let m = digits(parts.next().unwrap_or(""))?;
    let micros = match parts.next() {
        None => 0,
        Some(sec) => {
            let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
            let whole = digits(whole)?;
            let frac = if frac.is_empty() {
                0
            } else {
                if !frac.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Failure::Syntax);
                }
                let f: f64 = format!("0.{frac}").parse().map_err(|_| Failure::Syntax)?;
                (f * 1e6).round_ties_even() as i64
            };
            if whole > 60 {
                return Err(Failure::FieldRange);
            }
            whole * USECS_PER_SEC + frac
        }
    };
    if parts.next().is_some() {
        return Err(Failure::Syntax);
    }
    if m > 59 || h > 24 {
        return Err(Failure::FieldRange);
    }
    let total = h * USECS_PER_HOUR + m * USECS_PER_MINUTE + micros;
    if total > USECS_PER_DAY {
        return Err(Failure::FieldRange);
    }
    Ok(total)
}

/// Parses a UTC offset after its sign: `hh`, `hhmm`, `hh:mm`, `hh:mm:ss`.
fn decode_offset(negative: bool, s: &str) -> Decoded<i64> {
    let (h, m, sec) = if s.contains(':') {
        let mut parts = s.split(':');
        let h = digits(parts.next().unwrap_or(""))?;
        let m = digits(parts.next().unwrap_or(""))?;
        let sec = parts.next().map_or(Ok(0), digits)?;
        if parts.next().is_some() {
            return Err(Failure::Syntax);
        }
        (h, m, sec)
    } else {
        match s.len() {
            1 | 2 => (digits(s)?, 0, 0),
            3 | 4 => {
                let (h, m) = s.split_at(s.len() - 2);
                (digits(h)?, digits(m)?, 0)
            }
            _ => return Err(Failure::Syntax),
        }
    };
    if h > MAX_TZ_HOURS || m > 59 || sec > 59 {
        return Err(Failure::TzRange);
    }
    let secs = h * 3600 + m * 60 + sec;
    Ok(if negative { -secs } else { secs })
}

impl Fields {
    /// Sets the year from a numeric field, remembering its width.
    fn set_year(&mut self, text: &str) -> Decoded<()> {
        if self.year.is_some() {
            return Err(Failure::Syntax);
        }
        self.year = Some(digits(text)?);
        self.year_digits = text.len();
        Ok(())
    }

    /// Interprets a date field with `-`, `/` or `.` separators.
    fn decode_date(&mut self, s: &str) -> Decoded<()> {
        if self.month.is_some() || self.day.is_some() {
            return Err(Failure::Syntax);
        }
        let parts: Vec<&str> = s.split(['-', '/', '.']).collect();
        let [a, b, c] = parts.as_slice() else {
            return Err(Failure::Syntax);
        };
        let alpha = |p: &str| p.bytes().all(|ch| ch.is_ascii_alphabetic());
        if alpha(b) {
            // 2024-jan-02 or 02-jan-2024
            self.month = Some(month_named(b).ok_or(Failure::Syntax)?);
            let (year, day) = if a.len() > 2 { (a, c) } else { (c, a) };
            self.set_year(year)?;
            self.day = Some(digits(day)?);
        } else if alpha(a) {
            // jan-02-2024
            self.month = Some(month_named(a).ok_or(Failure::Syntax)?);
            self.day = Some(digits(b)?);
            self.set_year(c)?;
        } else if a.len() > 2 {
            // ISO: year first
            self.set_year(a)?;
            self.month = Some(digits(b)?);
            self.day = Some(digits(c)?);
        } else {
            // DateStyle MDY: month/day/year
            self.month = Some(digits(a)?);
            self.day = Some(digits(b)?);
            self.set_year(c)?;
        }
        Ok(())
    }

    /// Interprets a lone number: `YYYYMMDD`, or a day or year next to a
    /// month name.
    fn decode_number(&mut self, s: &str) -> Decoded<()> {
        if s.len() == 8 && self.year.is_none() && self.month.is_none() && self.day.is_none() {
            self.set_year(&s[..4])?;
            self.month = Some(digits(&s[4..6])?);
            self.day = Some(digits(&s[6..])?);
            return Ok(());
        }
        if s.len() <= 2 && self.day.is_none() {
            self.day = Some(digits(s)?);
        } else {
            self.set_year(s)?;
        }
        Ok(())
    }

    /// Interprets a word.
    fn decode_word(&mut self, word: &str) -> Decoded<()> {
        let special = match word {
            "infinity" | "+infinity" => Some(Special::Infinity),
            "-infinity" => Some(Special::NegInfinity),
            "now" => Some(Special::Now),
            "epoch" => Some(Special::Epoch),
            "today" => Some(Special::Today(0)),
            "tomorrow" => Some(Special::Today(1)),
            "yesterday" => Some(Special::Today(-1)),
            "allballs" => Some(Special::Allballs),
            _ => None,
        };
        if let Some(sp) = special {
            if self.special.is_some() {
                return Err(Failure::Syntax);
            }
            self.special = Some(sp);
            return Ok(());
        }
        match word {
            "am" | "a.m" => self.pm = Some(false),
            "pm" | "p.m" => self.pm = Some(true),
            "bc" | "b.c" => self.bc = true,
            "ad" | "a.d" => self.ad = true,
            "z" | "zulu" | "utc" | "gmt" | "ut" => self.offset = Some(0),
            w if zone_abbreviation(w).is_some() => self.offset = zone_abbreviation(w),
            "t" | "at" | "on" => {}
            w if is_weekday(w) => {}
            w => {
                if self.month.is_some() {
                    return Err(Failure::Syntax);
                }
                self.month = Some(month_named(w).ok_or(Failure::Syntax)?);
            }
        }
        Ok(())
    }
}

/// Splits and interprets the fields of `input` (already lower-cased).
fn decode(input: &str) -> Decoded<Fields> {
    let b = input.as_bytes();
    let mut f = Fields::default();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() || c == b',' {
            i += 1;
        } else if c.is_ascii_digit() {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            match b.get(i) {
                Some(b':') => {
                    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b':' || b[i] == b'.') {
                        i += 1;
                    }
                    if f.time.is_some() {
                        return Err(Failure::Syntax);
                    }
                    f.time = Some(decode_time(&input[start..i])?);
                }
                Some(&sep @ (b'-' | b'/' | b'.')) => {
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == sep) {
                        // `2024-01-02t13:45`: the `t` separates date from time.
                        if b[i] == b't' && i > 0 && b[i - 1].is_ascii_digit() {
                            break;
                        }
                        i += 1;
                    }
                    f.decode_date(&input[start..i])?;
                }
                _ => f.decode_number(&input[start..i])?,
            }
        } else if c.is_ascii_alphabetic() {
            while i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'.') {
                i += 1;
            }
            f.decode_word(input[start..i].trim_end_matches('.'))?;
        } else if c == b'+' || c == b'-' {
            i += 1;
            if b.get(i).is_some_and(u8::is_ascii_alphabetic) {
                while i < b.len() && b[i].is_ascii_alphabetic() {
                    i += 1;
                }
                f.decode_word(&input[start..i])?;
            } else {
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b':') {
                    i += 1;
                }
                if f.offset.is_some() {
                    return Err(Failure::Syntax);
                }
                f.offset = Some(decode_offset(c == b'-', &input[start + 1..i])?);
            }
        } else {
            return Err(Failure::Syntax);
        }
    }
    Ok(f)
}

impl Fields {
    /// The date value of the date fields, if any were given.
    fn date(&self) -> Decoded<Option<i64>> {
        let (Some(mut year), Some(month), Some(day)) = (self.year, self.month, self.day) else {
            if self.year.is_some() || self.month.is_some() || self.day.is_some() || self.bc || self.ad {
                return Err(Failure::Syntax);
            }
            return Ok(None);
        };
        if self.year_digits <= 2 && !self.bc {
            year += if year < 70 { 2000 } else { 1900 };
        }
        if year == 0 {
            return Err(Failure::FieldRange);
        }
        if self.bc {
            year = 1 - year;
        }
        let year = i32::try_from(year).map_err(|_| Failure::FieldRange)?;
        let month = u32::try_from(month).map_err(|_| Failure::FieldRange)?;
        let day = u32::try_from(day).map_err(|_| Failure::FieldRange)?;
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return Err(Failure::FieldRange);
        }
        Ok(Some(date2j(year, month, day) - POSTGRES_EPOCH_JDATE))
    }

    /// The time of day after applying AM/PM.
    fn time(&self) -> Decoded<Option<i64>> {
        let Some(t) = self.time else {
            return if self.pm.is_some() { Err(Failure::Syntax) } else { Ok(None) };
        };
        Ok(Some(match self.pm {
            None => t,
            Some(pm) => {
                let hour = t / USECS_PER_HOUR;
                if !(0..=12).contains(&hour) || t > 12 * USECS_PER_HOUR + USECS_PER_HOUR - 1 {
                    return Err(Failure::FieldRange);
                }
                let rest = t % USECS_PER_HOUR;
                let hour = match (pm, hour) {
                    (false, 12) => 0,
                    (true, h) if h < 12 => h + 12,
                    (_, h) => h,
                };
                hour * USECS_PER_HOUR + rest
            }
        }))
    }
}

/// The target of a parse, for its error messages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Date,
    Time,
    Timestamp,
    TimestampTz,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Date => "date",
            Target::Time => "time",
            Target::Timestamp => "timestamp",
            Target::TimestampTz => "timestamp with time zone",
        }
    }
}

/// Maps a decoding failure to PostgreSQL's error for `input`.
fn failure(target: Target, input: &str, f: Failure) -> Error {
    match f {
        Failure::Syntax => {
            Error::InvalidTextRepresentation { type_name: target.name().to_owned(), input: input.to_owned() }
        }
        Failure::FieldRange => Error::DatetimeOverflow(format!("date/time field value out of range: \"{input}\"")),
        Failure::TzRange => Error::DatetimeOverflow(format!("time zone displacement out of range: \"{input}\"")),
    }
}

/// Decodes `input` for `target` into (date in days, time in µs, offset in s)
/// or an infinity.
enum Parsed {
    Finite { date: Option<i64>, time: Option<i64>, offset: Option<i64> },
    Infinity,
    NegInfinity,
}

fn decode_for(target: Target, input: &str) -> Result<Parsed> {
    let lower = input.trim().to_ascii_lowercase();
    let fields = decode(&lower).map_err(|f| failure(target, input, f))?;
    let mut date = fields.date().map_err(|f| failure(target, input, f))?;
    let mut time = fields.time().map_err(|f| failure(target, input, f))?;
    let mut offset = fields.offset;
    let syntax = || failure(target, input, Failure::Syntax);
    match fields.special {
        None => {}
        Some(Special::Infinity | Special::NegInfinity) => {
            if date.is_some() || time.is_some() || offset.is_some() || target == Target::Time {
                return Err(syntax());
            }
            return Ok(if fields.special == Some(Special::Infinity) { Parsed::Infinity } else { Parsed::NegInfinity });
        }
        Some(Special::Now) => {
            if date.is_some() || time.is_some() {
                return Err(syntax());
            }
            let now = now_timestamp();
            date = Some(now.div_euclid(USECS_PER_DAY));
            time = Some(now.rem_euclid(USECS_PER_DAY));
            offset = Some(0);
        }
        Some(Special::Epoch) => {
            if date.is_some() || time.is_some() || target == Target::Time {
                return Err(syntax());
            }
            date = Some(super::UNIX_EPOCH_JDATE - POSTGRES_EPOCH_JDATE);
            time = Some(0);
            offset = Some(0);
        }
        Some(Special::Today(delta)) => {
            if date.is_some() || target == Target::Time {
                return Err(syntax());
            }
            date = Some(i64::from(timestamp_to_date(now_timestamp())) + delta);
        }
        Some(Special::Allballs) => {
            if time.is_some() {
                return Err(syntax());
            }
            time = Some(0);
            offset = Some(0);
        }
    }
    Ok(Parsed::Finite { date, time, offset })
}

/// Parses `date` text input (`2024-01-02`, `Jan 2, 2024`, `infinity`, ...).
/// A time of day in the input is accepted and ignored.
pub fn parse_date(input: &str) -> Result<i32> {
    match decode_for(Target::Date, input)? {
        Parsed::Infinity => Ok(DATE_INFINITY),
        Parsed::NegInfinity => Ok(DATE_NEG_INFINITY),
        Parsed::Finite { date: None, .. } => Err(failure(Target::Date, input, Failure::Syntax)),
        Parsed::Finite { date: Some(d), .. } => {
            if !is_valid_date(d) {
                return Err(Error::DatetimeOverflow(format!("date out of range: \"{input}\"")));
            }
            i32::try_from(d).map_err(|_| Error::DatetimeOverflow(format!("date out of range: \"{input}\"")))
        }
    }
}

/// Parses `time` text input (`13:45`, `13:45:00.5`, `1:45 pm`,
/// `allballs`, `24:00:00`). A date or UTC offset in the input is ignored.
pub fn parse_time(input: &str) -> Result<i64> {
    match decode_for(Target::Time, input)? {
        Parsed::Finite { time: Some(t), .. } => Ok(t),
        _ => Err(failure(Target::Time, input, Failure::Syntax)),
    }
}

/// Shared tail of the timestamp parsers.
fn parse_ts(target: Target, input: &str) -> Result<i64> {
    match decode_for(target, input)? {
        Parsed::Infinity => Ok(TIMESTAMP_INFINITY),
        Parsed::NegInfinity => Ok(TIMESTAMP_NEG_INFINITY),
        Parsed::Finite { date: None, .. } => Err(failure(target, input, Failure::Syntax)),
        Parsed::Finite { date: Some(date), time, offset } => {
            let out_of_range = || Error::DatetimeOverflow(format!("timestamp out of range: \"{input}\""));
            let mut ts = date
                .checked_mul(USECS_PER_DAY)
                .and_then(|d| d.checked_add(time.unwrap_or(0)))
                .ok_or_else(out_of_range)?;
            if target == Target::TimestampTz {
                ts = ts.checked_sub(offset.unwrap_or(0) * USECS_PER_SEC).ok_or_else(out_of_range)?;
            }
            if !is_valid_timestamp(ts) {
                return Err(out_of_range());
            }
            Ok(ts)
        }
    }
}

/// Parses `timestamp` text input (`2024-01-02 13:45:00`,
/// `2024-01-02T13:45:00.5`, `infinity`, `epoch`, ...). A UTC offset in the
/// input is ignored, as PostgreSQL does for `timestamp without time zone`.
pub fn parse_timestamp(input: &str) -> Result<i64> {
    parse_ts(Target::Timestamp, input)
}

/// Parses `timestamptz` text input; an offset (`+02`, `-05:30`, `Z`)
/// converts the local time given to UTC, no offset means UTC.
pub fn parse_timestamptz(input: &str) -> Result<i64> {
    parse_ts(Target::TimestampTz, input)
}

#[cfg(test)]
mod tests {
    use super::super::{format_date, format_time, format_timestamp, format_timestamptz};
    use super::*;

    fn d(s: &str) -> String {
        format_date(parse_date(s).unwrap())
    }
    fn t(s: &str) -> String {
        format_time(parse_time(s).unwrap())
    }
    fn ts(s: &str) -> String {
        format_timestamp(parse_timestamp(s).unwrap())
    }
    fn tz(s: &str) -> String {
        format_timestamptz(parse_timestamptz(s).unwrap())
    }

    #[test]
    fn dates() {
        assert_eq!(d("2024-01-02"), "2024-01-02");
        assert_eq!(d(" 2024-01-02 "), "2024-01-02");
        assert_eq!(d("20240102"), "2024-01-02");
        assert_eq!(d("Jan 2, 2024"), "2024-01-02");
        assert_eq!(d("January 2 2024"), "2024-01-02");
        assert_eq!(d("2 January 2024"), "2024-01-02");
        assert_eq!(d("1/2/2024"), "2024-01-02");
        assert_eq!(d("2024/01/02"), "2024-01-02");
        assert_eq!(d("02-jan-2024"), "2024-01-02");
        assert_eq!(d("2024-Jan-02"), "2024-01-02");
        assert_eq!(d("1/2/24"), "2024-01-02");
        assert_eq!(d("1/2/99"), "1999-01-02");
        assert_eq!(d("2024-01-02 13:45:00+02"), "2024-01-02");
        assert_eq!(d("0001-01-01 BC"), "0001-01-01 BC");
        assert_eq!(d("4714-11-24 BC"), "4714-11-24 BC");
        assert_eq!(d("5874897-12-31"), "5874897-12-31");
        assert_eq!(d("infinity"), "infinity");
        assert_eq!(d("-infinity"), "-infinity");
        assert_eq!(d("epoch"), "1970-01-01");
        assert_eq!(d("Tuesday, Jan 2, 2024"), "2024-01-02");
        assert!(parse_date("today").is_ok());
        assert!(parse_date("tomorrow").unwrap() - parse_date("yesterday").unwrap() == 2);
    }

    #[test]
    fn date_errors() {
        let msg = |s: &str| parse_date(s).unwrap_err().to_string();
        assert_eq!(msg("2024-13-01"), "date/time field value out of range: \"2024-13-01\"");
        assert_eq!(msg("2024-02-30"), "date/time field value out of range: \"2024-02-30\"");
        assert_eq!(msg("0000-01-01"), "date/time field value out of range: \"0000-01-01\"");
        assert_eq!(msg("4714-11-23 BC"), "date out of range: \"4714-11-23 BC\"");
        assert_eq!(msg("abc"), "invalid input syntax for type date: \"abc\"");
        assert_eq!(msg(""), "invalid input syntax for type date: \"\"");
        assert_eq!(msg("2024-01"), "invalid input syntax for type date: \"2024-01\"");
        assert_eq!(msg("13:45"), "invalid input syntax for type date: \"13:45\"");
        assert_eq!(msg("infinity 2024-01-01"), "invalid input syntax for type date: \"infinity 2024-01-01\"");
    }

    #[test]
    fn times() {
        assert_eq!(t("13:45"), "13:45:00");
        assert_eq!(t("13:45:00.1234567"), "13:45:00.123457");
        assert_eq!(t("1:05 pm"), "13:05:00");
        assert_eq!(t("12:30 am"), "00:30:00");
        assert_eq!(t("12:30 pm"), "12:30:00");
        assert_eq!(t("24:00:00"), "24:00:00");
        assert_eq!(t("allballs"), "00:00:00");
        assert_eq!(t("2024-01-02 13:45:00+02"), "13:45:00");
        assert_eq!(t("13:45:00 UTC"), "13:45:00");
        assert!(parse_time("now").is_ok());
        assert!(parse_time("24:00:01").is_err());
        assert!(parse_time("13:60").is_err());
        assert!(parse_time("2024-01-02").is_err());
        assert!(parse_time("13 pm").is_err());
        assert!(parse_time("infinity").is_err());
    }

    #[test]
    fn timestamps() {
        assert_eq!(ts("2024-01-02 13:45:00.123456"), "2024-01-02 13:45:00.123456");
        assert_eq!(ts("2024-01-02T13:45:00+02"), "2024-01-02 13:45:00");
        assert_eq!(ts("2024-01-02"), "2024-01-02 00:00:00");
        assert_eq!(ts("2024-01-02 24:00"), "2024-01-03 00:00:00");
        assert_eq!(ts("epoch"), "1970-01-01 00:00:00");
        assert_eq!(ts("0001-01-01 BC"), "0001-01-01 00:00:00 BC");
        assert_eq!(ts("294276-12-31 23:59:59.999999"), "294276-12-31 23:59:59.999999");
        assert_eq!(ts("-infinity"), "-infinity");
        assert_eq!(ts("today 13:00").len(), 19);
        assert_eq!(
            parse_timestamp("294277-01-01").unwrap_err().to_string(),
            "timestamp out of range: \"294277-01-01\""
        );
        assert_eq!(parse_timestamp("x").unwrap_err().to_string(), "invalid input syntax for type timestamp: \"x\"");
        assert!(parse_timestamp("13:45").is_err());
    }

    #[test]
    fn timestamptz_offsets() {
        assert_eq!(tz("2024-01-02 13:45:00+02"), "2024-01-02 11:45:00+00");
        assert_eq!(tz("2024-01-02 13:45+02:30"), "2024-01-02 11:15:00+00");
        assert_eq!(tz("2024-01-02 13:45 -0530"), "2024-01-02 19:15:00+00");
        assert_eq!(tz("2024-01-02T13:45:00Z"), "2024-01-02 13:45:00+00");
        assert_eq!(tz("2024-01-02 13:45:00 UTC"), "2024-01-02 13:45:00+00");
        assert_eq!(tz("2024-01-02 13:45:00"), "2024-01-02 13:45:00+00");
        assert_eq!(tz("epoch"), "1970-01-01 00:00:00+00");
        assert_eq!(tz("infinity"), "infinity");
        assert_eq!(
            parse_timestamptz("2024-01-02 13:45+16").unwrap_err().to_string(),
            "time zone displacement out of range: \"2024-01-02 13:45+16\""
        );
        assert_eq!(tz("2024-01-02 13:45:00 PST"), "2024-01-02 21:45:00+00");
        assert_eq!(ts("2024-01-02 13:45:00 CEST"), "2024-01-02 13:45:00");
        assert!(parse_timestamptz("2024-01-02 13:45 Mars/Olympus").is_err());
        let err = parse_timestamptz("2024-01-02 x").unwrap_err();
        assert_eq!(err.to_string(), "invalid input syntax for type timestamp with time zone: \"2024-01-02 x\"");
    }
}
