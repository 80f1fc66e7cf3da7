//! Interval text input, after PostgreSQL's `DecodeInterval` and
//! `DecodeISO8601Interval`.
//!
//! Accepted forms (case-insensitive, any mix of the first three):
//!
//! ```text
//!   1 year 2 mons 3 days       number + unit, units singular, plural or short
//!   04:05:06.5  -1:30  1:30.5  a time: h:m, h:m:s[.frac], or m:s.frac
//!   1 12:00:00                 a bare number before a time counts days
//!   10                         a bare number elsewhere counts seconds
//!   1-2                        SQL-standard years-months
//!   @ 1 minute ago             PostgreSQL's verbose form (`ago` negates)
//!   P1Y2M3DT4H5M6S  P1W  PT1.5S ISO 8601 with designators
//! ```
//!
//! Fractions cascade down as in PostgreSQL: `1.5 years` is `1 year 6 mons`,
//! `1.5 mons` is `1 mon 15 days`, `1.5 days` is `1 day 12:00:00`.

use super::{DAYS_PER_MONTH, Interval, USECS_PER_DAY, USECS_PER_HOUR, USECS_PER_MINUTE, USECS_PER_SEC};
use crate::error::{Error, Result};

/// The units an interval field can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Microsecond,
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
    Decade,
    Century,
    Millennium,
}

/// Looks up a unit name as PostgreSQL does (names longer than ten
/// characters are compared on their first ten).
fn unit_named(word: &str) -> Option<Unit> {
    let key: String = word.chars().take(10).collect();
    Some(match key.as_str() {
        "microsecon" | "us" | "usec" | "usecs" | "usecond" | "useconds" => Unit::Microsecond,
        "millisecon" | "ms" | "msec" | "msecs" | "msecond" | "mseconds" => Unit::Millisecond,
        "s" | "sec" | "secs" | "second" | "seconds" => Unit::Second,
        "m" | "min" | "mins" | "minute" | "minutes" => Unit::Minute,
        "h" | "hr" | "hrs" | "hour" | "hours" => Unit::Hour,
        "d" | "day" | "days" => Unit::Day,
        "w" | "week" | "weeks" => Unit::Week,
        "mon" | "mons" | "month" | "months" => Unit::Month,
        "y" | "yr" | "yrs" | "year" | "years" => Unit::Year,
        "dec" | "decs" | "decade" | "decades" => Unit::Decade,
        "c" | "cent" | "century" | "centuries" => Unit::Century,
        "mil" | "mils" | "millennia" | "millennium" => Unit::Millennium,
        _ => return None,
    })
}

/// One lexical field of the input.
#[derive(Debug)]
enum Token<'a> {
    /// A signed decimal number, as written.
    Number(&'a str),
    /// `h:m[:s]` with an optional sign.
    Time(&'a str),
    /// `y-m`, years and months.
    YearMonth(&'a str),
    /// A word: a unit or `ago`.
    Word(&'a str),
}

/// The interval being built, with room to detect overflow at the end.
#[derive(Default)]
struct Acc {
    months: i128,
    days: i128,
    micros: i128,
}

/// `invalid input syntax for type interval: "..."`.
fn syntax(input: &str) -> Error {
    Error::InvalidTextRepresentation { type_name: "interval".to_owned(), input: input.to_owned() }
}

/// `interval field value out of range: "..."`.
fn field_overflow(input: &str) -> Error {
    Error::DatetimeOverflow(format!("interval field value out of range: \"{input}\""))
}

/// Splits the input into tokens: whitespace separates fields, and a number
/// glued to a word (`10min`) is two fields.
fn tokenize(s: &str) -> Option<Vec<Token<'_>>> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() || c == b',' {
            i += 1;
            continue;
        }
        let start = i;
        if c.is_ascii_alphabetic() {
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push(Token::Word(&s[start..i]));
        } else if c == b'@' {
            i += 1;
        } else if c.is_ascii_digit() || c == b'.' || c == b'+' || c == b'-' {
            i += 1;
            let mut colon = false;
            let mut dash = false;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || matches!(bytes[i], b'.' | b':' | b'-')) {
                colon |= bytes[i] == b':';
                dash |= bytes[i] == b'-';
                i += 1;
            }
            let text = &s[start..i];
            out.push(if colon {
                Token::Time(text)
            } else if dash {
                Token::YearMonth(text)
            } else {
                Token::Number(text)
            });
        } else {
            return None;
        }
    }
    Some(out)
}

/// Splits a signed decimal into its signed integer part and signed fraction.
fn split_number(text: &str) -> Option<(i128, f64)> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if int_part.is_empty() && frac_part.is_none_or(str::is_empty) {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i128 = if int_part.is_empty() { 0 } else { int_part.parse().ok()? };
    let frac = match frac_part {
        Some(f) if !f.is_empty() => {
            if !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            format!("0.{f}").parse::<f64>().ok()?
        }
        _ => 0.0,
    };
    Some(if neg { (-whole, -frac) } else { (whole, frac) })
}

/// Rounds an `f64` to the nearest integer (ties to even, like `rint`).
fn rint(x: f64) -> i128 {
    // Callers pass bounded fractions times unit sizes: far inside i128.
    x.round_ties_even() as i128
}

impl Acc {
    /// Adds `whole + frac` of `unit`, cascading the fraction down.
    fn add(&mut self, unit: Unit, whole: i128, frac: f64) -> Option<()> {
        let usec_day = i128::from(USECS_PER_DAY);
        let add_micros = |acc: &mut Acc, per: i64| -> Option<()> {
            acc.micros = acc.micros.checked_add(whole.checked_mul(i128::from(per))?)?;
            acc.micros = acc.micros.checked_add(rint(frac * per as f64))?;
            Some(())
        };
        let add_fract_days = |acc: &mut Acc, days_per_unit: f64| -> Option<()> {
            let extra_days = frac * days_per_unit;
            let whole_days = extra_days.trunc();
            acc.days = acc.days.checked_add(whole_days as i128)?;
            acc.micros = acc.micros.checked_add(rint((extra_days - whole_days) * USECS_PER_DAY as f64))?;
            Some(())
        };
        let add_months = |acc: &mut Acc, per: i128| -> Option<()> {
            acc.months = acc.months.checked_add(whole.checked_mul(per)?)?;
            acc.months = acc.months.checked_add(rint(frac * per as f64))?;
            Some(())
        };
        match unit {
            Unit::Microsecond => {
                self.micros = self.micros.checked_add(rint(whole as f64 + frac))?;
            }
            Unit::Millisecond => {
                self.micros = self.micros.checked_add(rint((whole as f64 + frac) * 1000.0))?;
            }
            Unit::Second => add_micros(self, USECS_PER_SEC)?,
            Unit::Minute => add_micros(self, USECS_PER_MINUTE)?,
            Unit::Hour => add_micros(self, USECS_PER_HOUR)?,
            Unit::Day => {
                self.days = self.days.checked_add(whole)?;
                self.micros = self.micros.checked_add(rint(frac * usec_day as f64))?;
            }
            Unit::Week => {
                self.days = self.days.checked_add(whole.checked_mul(7)?)?;
                add_fract_days(self, 7.0)?;
            }
            Unit::Month => {
                self.months = self.months.checked_add(whole)?;
                add_fract_days(self, f64::from(DAYS_PER_MONTH))?;
            }
            Unit::Year => add_months(self, 12)?,
            Unit::Decade => add_months(self, 120)?,
            Unit::Century => add_months(self, 1200)?,
            Unit::Millennium => add_months(self, 12_000)?,
        }
        Some(())
    }

    /// Adds a time field: `h:m`, `h:m:s[.frac]` or `m:s.frac`.
    fn add_time(&mut self, text: &str) -> Option<()> {
        let (neg, body) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let parts: Vec<&str> = body.split(':').collect();
        let int = |p: &str| -> Option<i128> {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        let secs = |p: &str| -> Option<i128> {
            let (whole, frac) = split_number(p)?;
            if p.starts_with(['+', '-']) {
                return None;
            }
            whole.checked_mul(i128::from(USECS_PER_SEC))?.checked_add(rint(frac * USECS_PER_SEC as f64))
        };
        let (h, m, s) = match parts.as_slice() {
            [m, s] if s.contains('.') => (0, int(m)?, secs(s)?),
            [h, m] => (int(h)?, int(m)?, 0),
            [h, m, s] => (int(h)?, int(m)?, secs(s)?),
            _ => return None,
        };
        if m > 59 || s >= 60 * i128::from(USECS_PER_SEC) {
            return None;
        }
        let total =
            h.checked_mul(i128::from(USECS_PER_HOUR))?.checked_add(m * i128::from(USECS_PER_MINUTE))?.checked_add(s)?;
        self.micros = self.micros.checked_add(if neg { -total } else { total })?;
        Some(())
    }

    /// Negates everything (the trailing `ago`); `None` on overflow.
    fn negate(&mut self) -> Option<()> {
        self.months = self.months.checked_neg()?;
        self.days = self.days.checked_neg()?;
        self.micros = self.micros.checked_neg()?;
        Some(())
    }

    /// The finished interval, or `None` when a field does not fit.
    fn finish(&self) -> Option<Interval> {
        Some(Interval {
            months: i32::try_from(self.months).ok()?,
            days: i32::try_from(self.days).ok()?,
            micros: i64::try_from(self.micros).ok()?,
        })
    }
}

/// Why a parse failed: bad syntax or a value too large.
enum Failure {
    Syntax,
    Overflow,
}

/// Parses interval text (see the module documentation).
pub(super) fn parse_interval(input: &str) -> Result<Interval> {
    let lower = input.trim().to_ascii_lowercase();
    let result = if lower.starts_with('p') { parse_iso8601(&lower) } else { parse_postgres(&lower) };
    match result {
        Ok(acc) => acc.finish().ok_or_else(|| field_overflow(input)),
        Err(Failure::Syntax) => Err(syntax(input)),
        Err(Failure::Overflow) => Err(field_overflow(input)),
    }
}

/// The PostgreSQL (and SQL-standard) forms.
fn parse_postgres(s: &str) -> std::result::Result<Acc, Failure> {
    let tokens = tokenize(s).ok_or(Failure::Syntax)?;
    let mut acc = Acc::default();
    // Each unit may be given once (PostgreSQL's field mask).
    let mut seen: u32 = 0;
    let mut claim = |bits: u32| -> std::result::Result<(), Failure> {
        if seen & bits != 0 {
            return Err(Failure::Syntax);
        }
        seen |= bits;
        Ok(())
    };
    let bit = |u: Unit| 1u32 << (u as u32);
    let time_bits = bit(Unit::Hour) | bit(Unit::Minute) | bit(Unit::Second);
    let mut seen_field = false;
    let mut ago = false;
    let mut i = 0;
    while i < tokens.len() {
        if ago {
            // `ago` must be last.
            return Err(Failure::Syntax);
        }
        match &tokens[i] {
            Token::Number(text) => {
                let (whole, frac) = split_number(text).ok_or(Failure::Syntax)?;
                let unit = match tokens.get(i + 1) {
                    Some(Token::Word(w)) if *w != "ago" => {
                        i += 1;
                        unit_named(w).ok_or(Failure::Syntax)?
                    }
                    Some(Token::Time(_)) => Unit::Day,
                    _ => Unit::Second,
                };
                claim(bit(unit))?;
                acc.add(unit, whole, frac).ok_or(Failure::Overflow)?;
            }
            Token::Time(text) => {
                claim(time_bits)?;
                acc.add_time(text).ok_or(Failure::Syntax)?;
            }
            Token::YearMonth(text) => {
                let (neg, body) = match text.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, text.strip_prefix('+').unwrap_or(text)),
                };
                let (y, m) = body.split_once('-').ok_or(Failure::Syntax)?;
                let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
                if !digits(y) || !digits(m) {
                    return Err(Failure::Syntax);
                }
                let y: i128 = y.parse().map_err(|_| Failure::Overflow)?;
                let m: i128 = m.parse().map_err(|_| Failure::Overflow)?;
                if m > 11 {
                    return Err(Failure::Overflow);
                }
                claim(bit(Unit::Year) | bit(Unit::Month))?;
                let total = y.checked_mul(12).and_then(|v| v.checked_add(m)).ok_or(Failure::Overflow)?;
                acc.months = acc.months.checked_add(if neg { -total } else { total }).ok_or(Failure::Overflow)?;
            }
            Token::Word("ago") if seen_field => ago = true,
            Token::Word(_) => return Err(Failure::Syntax),
        }
        seen_field = true;
        i += 1;
    }
    if !seen_field {
        return Err(Failure::Syntax);
    }
    if ago {
        acc.negate().ok_or(Failure::Overflow)?;
    }
    Ok(acc)
}

/// ISO 8601 with designators: `P[nY][nM][nW][nD][T[nH][nM][nS]]`.
fn parse_iso8601(s: &str) -> std::result::Result<Acc, Failure> {
    let body = s.strip_prefix('p').ok_or(Failure::Syntax)?;
    if body.is_empty() {
        return Err(Failure::Syntax);
    }
    let mut acc = Acc::default();
    let mut in_time = false;
    let mut rest = body;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('t') {
            if in_time || r.is_empty() {
                return Err(Failure::Syntax);
            }
            in_time = true;
            rest = r;
            continue;
        }
        let end = rest
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && (c == '-' || c == '+'))))
            .map_or(rest.len(), |(i, _)| i);
        let (num, tail) = rest.split_at(end);
        let (whole, frac) = split_number(num).ok_or(Failure::Syntax)?;
        let designator = tail.chars().next().ok_or(Failure::Syntax)?;
        let unit = match (in_time, designator) {
            (false, 'y') => Unit::Year,
            (false, 'm') => Unit::Month,
            (false, 'w') => Unit::Week,
            (false, 'd') => Unit::Day,
            (true, 'h') => Unit::Hour,
            (true, 'm') => Unit::Minute,
            (true, 's') => Unit::Second,
            _ => return Err(Failure::Syntax),
        };
        acc.add(unit, whole, frac).ok_or(Failure::Overflow)?;
        rest = &tail[designator.len_utf8()..];
    }
    Ok(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(s: &str) -> String {
        parse_interval(s).unwrap().to_string()
    }

    #[test]
    fn postgres_forms() {
        let cases = [
            ("1 year 2 mons 3 days 04:05:06.5", "1 year 2 mons 3 days 04:05:06.5"),
            ("-1 day 2 hours", "-1 days +02:00:00"),
            ("1.5 years", "1 year 6 mons"),
            ("1.5 months", "1 mon 15 days"),
            ("1.5 days", "1 day 12:00:00"),
            ("1.5 weeks", "10 days 12:00:00"),
            ("@ 1 minute ago", "-00:01:00"),
            ("1 12:00:00", "1 day 12:00:00"),
            ("1:30.5", "00:01:30.5"),
            ("-1:30", "-01:30:00"),
            ("10", "00:00:10"),
            ("1 day 2", "1 day 00:00:02"),
            ("  2 HOURS 30 MINUTES ", "02:30:00"),
            ("10min", "00:10:00"),
            ("1 millisecond", "00:00:00.001"),
            ("3 microseconds", "00:00:00.000003"),
            ("1-2", "1 year 2 mons"),
            ("2 decades", "20 years"),
            ("1 century", "100 years"),
            ("0", "00:00:00"),
            ("-2 hours", "-02:00:00"),
            ("1 day -02:00:00", "1 day -02:00:00"),
            ("25:00:00", "25:00:00"),
            ("1 mon 1 day ago", "-1 mons -1 days"),
        ];
        for (input, want) in cases {
            assert_eq!(show(input), want, "input {input:?}");
        }
    }

    #[test]
    fn iso8601() {
        assert_eq!(show("P1Y2M3DT4H5M6S"), "1 year 2 mons 3 days 04:05:06");
        assert_eq!(show("P1W"), "7 days");
        assert_eq!(show("PT1.5S"), "00:00:01.5");
        assert_eq!(show("PT36H"), "36:00:00");
        assert_eq!(show("P-1D"), "-1 days");
    }

    #[test]
    fn errors() {
        for bad in [
            "",
            "x",
            "1 fortnight",
            "P",
            "PT",
            "1:2:3:4",
            "ago",
            "1 day ago 2",
            "P1H",
            "1:60",
            "1 day 1 day",
            "1 hour 01:00",
        ] {
            let err = parse_interval(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidTextRepresentation { .. }), "{bad:?} gave {err:?}");
        }
        assert_eq!(
            parse_interval("3000000000 days").unwrap_err().to_string(),
            "interval field value out of range: \"3000000000 days\""
        );
        // The accumulator reaches i128::MIN; `ago` must not overflow negating it.
        for big in ["-170141183460469231731687303715884105727 us ago", "-170141183460469231731687303715884105727 us"] {
            let err = parse_interval(big).unwrap_err();
            assert!(matches!(err, Error::DatetimeOverflow(_)), "{big:?} gave {err:?}");
        }
    }
}
