//! PostgreSQL's data-type formatting functions: `to_char` for date/times
//! and numbers, and their inverses `to_date`, `to_timestamp` and
//! `to_number`, with the template patterns in common use (YYYY, MM, Mon,
//! DD, HH24, MI, SS, MS, US, AM, Q, IW, FM and TH modifiers, quoted text;
//! 9, 0, `.`, D, `,`, G, S, MI, PL, SG, PR for numbers).

use memdb_engine::Value;
use memdb_engine::types::datetime::{self, DateTimeParts};
use rust_decimal::Decimal;

use crate::error::{Result, SqlError, data_exception};

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
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// The date/time template patterns, longest first so that a prefix match
/// finds the longest pattern.
const PATTERNS: [&str; 48] = [
    "HH24", "HH12", "YYYY", "IYYY", "MONTH", "Month", "month", "A.M.", "P.M.", "a.m.", "p.m.", "SSSSS", "SSSS", "YYY",
    "IYY", "MON", "Mon", "mon", "DAY", "Day", "day", "DDD", "IDDD", "HH", "MI", "SS", "MS", "US", "YY", "IY", "MM",
    "DD", "DY", "Dy", "dy", "AM", "PM", "am", "pm", "CC", "WW", "IW", "ID", "TZ", "tz", "Y", "D", "Q",
];

fn case_like(name: &str, pattern: &str) -> String {
    if pattern.chars().all(|c| !c.is_ascii_lowercase()) {
        name.to_uppercase()
    } else if pattern.chars().all(|c| !c.is_ascii_uppercase()) {
        name.to_lowercase()
    } else {
        name.to_owned()
    }
}

fn ordinal_suffix(n: i64, upper: bool) -> &'static str {
    let s = match (n % 100, n % 10) {
        (11..=13, _) => "th",
        (_, 1) => "st",
        (_, 2) => "nd",
        (_, 3) => "rd",
        _ => "th",
    };
    if upper {
        match s {
            "st" => "ST",
            "nd" => "ND",
            "rd" => "RD",
            _ => "TH",
        }
    } else {
        s
    }
}

/// One piece of a date/time template.
enum Piece<'a> {
    Field { pattern: &'static str, fill_mode: bool, ordinal: Option<bool> },
    Literal(&'a str),
    Char(char),
}

/// Patterns PostgreSQL also takes in lower case (the ones without a
/// spelled-out name, whose case would matter), with their upper-case form.
const LOWER_PATTERNS: [(&str, &str); 24] = [
    ("hh24", "HH24"),
    ("hh12", "HH12"),
    ("yyyy", "YYYY"),
    ("iyyy", "IYYY"),
    ("sssss", "SSSSS"),
    ("ssss", "SSSS"),
    ("yyy", "YYY"),
    ("iyy", "IYY"),
    ("ddd", "DDD"),
    ("iddd", "IDDD"),
    ("hh", "HH"),
    ("mi", "MI"),
    ("ss", "SS"),
    ("ms", "MS"),
    ("us", "US"),
    ("yy", "YY"),
    ("iy", "IY"),
    ("mm", "MM"),
    ("dd", "DD"),
    ("cc", "CC"),
    ("ww", "WW"),
    ("iw", "IW"),
    ("id", "ID"),
    ("q", "Q"),
];

fn parse_template(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        let mut fill_mode = false;
        if let Some(r) = rest.strip_prefix("FM").or_else(|| rest.strip_prefix("fm")) {
            fill_mode = true;
            rest = r;
        }
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').unwrap_or(r.len());
            out.push(Piece::Literal(&r[..end]));
            rest = r.get(end + 1..).unwrap_or("");
            continue;
        }
        if let Some(r) = rest.strip_prefix('\\')
            && let Some(c) = r.chars().next()
        {
            out.push(Piece::Char(c));
            rest = &r[c.len_utf8()..];
            continue;
        }
        let found = PATTERNS.iter().find(|p| rest.starts_with(**p)).map(|p| (p.len(), *p)).or_else(|| {
            LOWER_PATTERNS.iter().find(|(lower, _)| rest.starts_with(lower)).map(|(lower, upper)| (lower.len(), *upper))
        });
        if let Some((len, p)) = found {
            rest = &rest[len..];
            let ordinal = if rest.starts_with("TH") {
                Some(true)
            } else if rest.starts_with("th") {
                Some(false)
            } else {
                None
            };
            if ordinal.is_some() {
                rest = &rest[2..];
            }
            out.push(Piece::Field { pattern: p, fill_mode, ordinal });
            continue;
        }
        if let Some(c) = rest.chars().next() {
            out.push(Piece::Char(c));
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// `to_char(timestamp | timestamptz | date, template)`
pub(crate) fn timestamp_to_char(ts: i64, template: &str) -> Result<Value> {
    let Some(p) = datetime::timestamp_to_parts(ts) else { return Ok(Value::Null) };
    let jd = datetime::date2j(p.year, p.month, p.day);
    let dow = datetime::j2day(jd) as usize;
    let doy = jd - datetime::date2j(p.year, 1, 1) + 1;
    let iso = datetime::date_to_chrono(datetime::timestamp_to_date(ts));
    let (iso_year, iso_week) =
        iso.map_or((p.year, 1), |d| (chrono::Datelike::iso_week(&d).year(), chrono::Datelike::iso_week(&d).week()));
    let hour12 = match p.hour % 12 {
        0 => 12,
        h => h,
    };
    let mut out = String::new();
    for piece in parse_template(template) {
        match piece {
            Piece::Literal(s) => out.push_str(s),
            Piece::Char(c) => out.push(c),
            Piece::Field { pattern, fill_mode, ordinal } => {
                let num = |n: i64, width: usize| -> String {
                    let mut s = if fill_mode { n.to_string() } else { format!("{n:0width$}") };
                    if let Some(upper) = ordinal {
                        s.push_str(ordinal_suffix(n, upper));
                    }
                    s
                };
                let name = |full: &str, short: bool| -> String {
                    let n = if short { &full[..3] } else { full };
                    let n = case_like(n, pattern);
                    if short || fill_mode { n } else { format!("{n:<9}") }
                };
                let year = i64::from(if p.year <= 0 { 1 - p.year } else { p.year });
                out.push_str(&match pattern {
                    "YYYY" => num(year, 4),
                    "YYY" => num(year % 1000, 3),
                    "YY" => num(year % 100, 2),
                    "Y" => num(year % 10, 1),
                    "IYYY" => num(i64::from(iso_year), 4),
                    "IYY" => num(i64::from(iso_year) % 1000, 3),
                    "IY" => num(i64::from(iso_year) % 100, 2),
                    "CC" => num(i64::from(if p.year > 0 { (p.year + 99) / 100 } else { p.year / 100 - 1 }), 2),
                    "MM" => num(i64::from(p.month), 2),
                    "MONTH" | "Month" | "month" => name(MONTHS[p.month as usize - 1], false),
                    "MON" | "Mon" | "mon" => name(MONTHS[p.month as usize - 1], true),
                    "DD" => num(i64::from(p.day), 2),
                    "DDD" => num(doy, 3),
                    "IDDD" => {
                        let start = iso.and_then(|d| {
                            chrono::NaiveDate::from_isoywd_opt(iso_year, 1, chrono::Weekday::Mon)
                                .map(|s| (d - s).num_days())
                        });
                        num(start.unwrap_or(0) + 1, 3)
                    }
                    "D" => num(dow as i64 + 1, 1),
                    "ID" => num(if dow == 0 { 7 } else { dow as i64 }, 1),
                    "DAY" | "Day" | "day" => name(DAYS[dow], false),
                    "DY" | "Dy" | "dy" => name(DAYS[dow], true),
                    "WW" => num((doy - 1) / 7 + 1, 2),
                    "IW" => num(i64::from(iso_week), 2),
                    "Q" => num(i64::from((p.month - 1) / 3 + 1), 1),
                    "HH" | "HH12" => num(i64::from(hour12), 2),
                    "HH24" => num(i64::from(p.hour), 2),
                    "MI" => num(i64::from(p.minute), 2),
                    "SS" => num(i64::from(p.second), 2),
                    "MS" => num(i64::from(p.micros / 1000), 3),
                    "US" => num(i64::from(p.micros), 6),
                    "SSSS" | "SSSSS" => num(i64::from(p.hour * 3600 + p.minute * 60 + p.second), 1),
                    "AM" | "PM" => (if p.hour < 12 { "AM" } else { "PM" }).to_owned(),
                    "am" | "pm" => (if p.hour < 12 { "am" } else { "pm" }).to_owned(),
                    "A.M." | "P.M." => (if p.hour < 12 { "A.M." } else { "P.M." }).to_owned(),
                    "a.m." | "p.m." => (if p.hour < 12 { "a.m." } else { "p.m." }).to_owned(),
                    "TZ" => "UTC".to_owned(),
                    "tz" => "utc".to_owned(),
                    _ => String::new(),
                });
            }
        }
    }
    Ok(Value::Text(out))
}

/// `to_char(interval, template)`: the fields of the interval (hours may
/// exceed a day, as PostgreSQL shows them).
pub(crate) fn interval_to_char(iv: &memdb_engine::types::Interval, template: &str) -> Result<Value> {
    let total = iv.micros;
    let mut out = String::new();
    for piece in parse_template(template) {
        match piece {
            Piece::Literal(s) => out.push_str(s),
            Piece::Char(c) => out.push(c),
            Piece::Field { pattern, fill_mode, .. } => {
                let num = |n: i64, width: usize| if fill_mode { n.to_string() } else { format!("{n:0width$}") };
                out.push_str(&match pattern {
                    "YYYY" => num(i64::from(iv.months / 12), 4),
                    "MM" => num(i64::from(iv.months % 12), 2),
                    "DD" => num(i64::from(iv.days), 2),
                    "DDD" => num(i64::from(iv.days), 3),
                    "HH" | "HH12" | "HH24" => num(total / 3_600_000_000, 2),
                    "MI" => num(total / 60_000_000 % 60, 2),
                    "SS" => num(total / 1_000_000 % 60, 2),
                    "MS" => num(total / 1000 % 1000, 3),
                    "US" => num(total % 1_000_000, 6),
                    _ => String::new(),
                });
            }
        }
    }
    Ok(Value::Text(out))
}

/// One piece of a number template.
#[derive(Clone, Copy, PartialEq, Debug)]
enum NumPiece {
    Nine,
    Zero,
    Point,
    Group,
    Sign,
    Minus,
    Plus,
    SignAlways,
    Brackets,
    Char(char),
}

/// `to_char(number, template)`
pub(crate) fn number_to_char(value: Decimal, template: &str) -> Result<Value> {
    let mut pieces = Vec::new();
    let mut fill_mode = false;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        let upper = rest.get(..2).map(str::to_ascii_uppercase);
        let (piece, len) = match (c, upper.as_deref()) {
            (_, Some("FM")) => {
                fill_mode = true;
                rest = &rest[2..];
                continue;
            }
            (_, Some("MI")) => (NumPiece::Minus, 2),
            (_, Some("PL")) => (NumPiece::Plus, 2),
            (_, Some("SG")) => (NumPiece::SignAlways, 2),
            (_, Some("PR")) => (NumPiece::Brackets, 2),
            ('9', _) => (NumPiece::Nine, 1),
            ('0', _) => (NumPiece::Zero, 1),
            ('.' | 'D' | 'd', _) => (NumPiece::Point, 1),
            (',' | 'G' | 'g', _) => (NumPiece::Group, 1),
            ('S' | 's', _) => (NumPiece::Sign, 1),
            _ => (NumPiece::Char(c), c.len_utf8()),
        };
        pieces.push(piece);
        rest = &rest[len..];
    }
    let point = pieces.iter().position(|p| *p == NumPiece::Point);
    let is_digit = |p: &NumPiece| matches!(p, NumPiece::Nine | NumPiece::Zero);
    let int_digits = pieces[..point.unwrap_or(pieces.len())].iter().filter(|p| is_digit(p)).count();
    let frac_digits = point.map_or(0, |at| pieces[at + 1..].iter().filter(|p| is_digit(p)).count());
    let negative = value.is_sign_negative() && !value.is_zero();
    // At most 28 fraction digits exist; the template's others print 0.
    let scale = u32::try_from(frac_digits.min(28)).unwrap_or(28);
    let mut rounded = value.abs().round_dp_with_strategy(scale, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(scale);
    let text = rounded.to_string();
    let (int_part, frac_part) = text.split_once('.').unwrap_or((&text, ""));
    let int_part = if int_part == "0" { "" } else { int_part };
    let overflow = int_part.len() > int_digits;
    let int_chars: Vec<char> = int_part.chars().collect();
    let frac_chars: Vec<char> = frac_part.chars().collect();
    // The first zero-fill position: leading positions from there on print 0.
    let zero_from = pieces[..point.unwrap_or(pieces.len())]
        .iter()
        .filter(|p| is_digit(p))
        .position(|p| *p == NumPiece::Zero)
        .unwrap_or(int_digits);
    let explicit_sign = pieces.iter().any(|p| {
        matches!(p, NumPiece::Sign | NumPiece::Minus | NumPiece::Plus | NumPiece::SignAlways | NumPiece::Brackets)
    });
    let mut body = String::new();
    let mut int_seen = 0;
    let mut frac_seen = 0;
    let mut started = false;
    // Where the last run of fraction zeros printed by a 9 sits in `body`:
    // FM drops them, even with a sign or text after them.
    let mut droppable: Vec<usize> = Vec::new();
    let mut lead_blanks = 0usize;
    for (i, piece) in pieces.iter().enumerate() {
        let in_frac = point.is_some_and(|at| i > at);
        match piece {
            NumPiece::Nine | NumPiece::Zero if !in_frac => {
                let offset = int_digits - int_seen;
                int_seen += 1;
                if overflow {
                    body.push('#');
                    started = true;
                } else if offset <= int_chars.len() {
                    body.push(int_chars[int_chars.len() - offset]);
                    started = true;
                } else if int_seen > zero_from {
                    body.push('0');
                    started = true;
                } else if !fill_mode {
                    body.push(' ');
                    lead_blanks += 1;
                }
            }
            NumPiece::Nine | NumPiece::Zero => {
                let c = if overflow { '#' } else { frac_chars.get(frac_seen).copied().unwrap_or('0') };
                frac_seen += 1;
                if *piece == NumPiece::Nine && c == '0' {
                    droppable.push(body.len());
                } else {
                    droppable.clear();
                }
                body.push(c);
            }
            NumPiece::Point => {
                body.push(if overflow { '#' } else { '.' });
                started = true;
                droppable.clear();
            }
            NumPiece::Group if started => body.push(','),
            NumPiece::Group => {
                if !fill_mode {
                    body.push(' ');
                    lead_blanks += 1;
                }
            }
            NumPiece::Sign => body.push(if negative { '-' } else { '+' }),
            NumPiece::Minus => body.push(if negative {
                '-'
            } else if fill_mode {
                '\0'
            } else {
                ' '
            }),
            NumPiece::Plus => body.push(if negative { ' ' } else { '+' }),
            NumPiece::SignAlways => body.push(if negative { '-' } else { '+' }),
            NumPiece::Brackets => {}
            NumPiece::Char(c) => body.push(*c),
        }
    }
    if fill_mode {
        for at in droppable {
            // An ASCII '0' becomes the NUL that is filtered out below.
            body.replace_range(at..at + 1, "\0");
        }
    }
    let mut body: String = body.chars().filter(|c| *c != '\0').collect();
    // An explicit sign right before the digits moves past the blanks, as
    // the default sign does.
    let body = if explicit_sign {
        let signed = pieces.first().is_some_and(|p| matches!(p, NumPiece::Sign | NumPiece::SignAlways));
        if signed && lead_blanks > 0 {
            let sign = body.remove(0);
            let digits = body.trim_start().to_owned();
            format!("{}{sign}{digits}", " ".repeat(body.len() - digits.len()))
        } else {
            body
        }
    } else {
        let sign = if negative {
            "-"
        } else if fill_mode {
            ""
        } else {
            " "
        };
        let digits = body.trim_start_matches(' ');
        format!("{}{sign}{digits}", " ".repeat(body.len() - digits.len()))
    };
    let body = if pieces.contains(&NumPiece::Brackets) {
        if negative {
            format!("<{body}>")
        } else if fill_mode {
            body
        } else {
            format!(" {body} ")
        }
    } else {
        body
    };
    Ok(Value::Text(body))
}

/// `to_number(text, template)`: the digits, sign and decimal point of the
/// text, read as the template's number.
pub(crate) fn to_number(text: &str, _template: &str) -> Result<Value> {
    let mut digits = String::new();
    let mut negative = false;
    for c in text.chars() {
        match c {
            '0'..='9' | '.' => digits.push(c),
            '-' | '<' => negative = true,
            _ => {}
        }
    }
    if digits.is_empty() || digits == "." {
        return Err(data_exception("22P02", format!("invalid input syntax for type numeric: \"{text}\"")));
    }
    let d: Decimal = digits
        .parse()
        .map_err(|_| data_exception("22P02", format!("invalid input syntax for type numeric: \"{text}\"")))?;
    Ok(Value::Numeric(if negative { -d } else { d }))
}

/// The fields read by `to_date` / `to_timestamp`.
#[derive(Default)]
struct Parsed {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    day_of_year: Option<u32>,
    hour: u32,
    minute: u32,
    second: u32,
    micros: u32,
    pm: Option<bool>,
}

fn read_number(input: &mut &str, max_digits: usize, field: &str) -> Result<i64> {
    let trimmed = input.trim_start();
    let negative = trimmed.starts_with('-');
    let body = if negative { &trimmed[1..] } else { trimmed };
    let len = body.bytes().take(max_digits).take_while(u8::is_ascii_digit).count();
    if len == 0 {
        return Err(data_exception(
            "22007",
            format!("invalid value \"{}\" for \"{field}\"", body.chars().take(max_digits.max(1)).collect::<String>()),
        ));
    }
    let n: i64 = body[..len].parse().map_err(|_| data_exception("22007", format!("invalid value for \"{field}\"")))?;
    *input = &body[len..];
    Ok(if negative { -n } else { n })
}

fn read_name(input: &mut &str, names: &[&str], short: bool, field: &str) -> Result<usize> {
    let trimmed = input.trim_start();
    for (i, n) in names.iter().enumerate() {
        let candidate = if short { &n[..3] } else { n };
        if trimmed.get(..candidate.len()).is_some_and(|head| head.eq_ignore_ascii_case(candidate)) {
            *input = &trimmed[candidate.len()..];
            return Ok(i);
        }
    }
    Err(data_exception(
        "22007",
        format!("invalid value \"{}\" for \"{field}\"", trimmed.chars().take(3).collect::<String>()),
    ))
}

fn parse_with_template(text: &str, template: &str) -> Result<Parsed> {
    let mut p = Parsed::default();
    let mut input = text;
    let fit = |n: i64, field: &str| -> Result<u32> {
        u32::try_from(n)
            .map_err(|_| data_exception("22008", format!("date/time field value out of range: \"{field}\"")))
    };
    for piece in parse_template(template) {
        match piece {
            Piece::Literal(s) => {
                let skip = s.chars().count();
                let at = input.char_indices().nth(skip).map_or(input.len(), |(i, _)| i);
                input = &input[at..];
            }
            Piece::Char(c) => {
                if c.is_whitespace() {
                    input = input.trim_start();
                } else if let Some(next) = input.chars().next()
                    && !next.is_ascii_alphanumeric()
                {
                    input = &input[next.len_utf8()..];
                }
            }
            Piece::Field { pattern, ordinal, .. } => {
                // Separators between fields are skipped, as PostgreSQL does
                // outside FX mode.
                if !matches!(pattern, "AM" | "PM" | "am" | "pm") {
                    input = input.trim_start_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-');
                }
                match pattern {
                    "YYYY" | "IYYY" => p.year = Some(i32::try_from(read_number(&mut input, 4, pattern)?).unwrap_or(0)),
                    "YYY" | "IYY" => {
                        let y = read_number(&mut input, 3, pattern)?;
                        p.year = Some(i32::try_from(if y < 100 { 2000 + y } else { 1000 + y }).unwrap_or(0));
                    }
                    "YY" | "IY" => {
                        let y = read_number(&mut input, 2, pattern)?;
                        p.year = Some(i32::try_from(if y < 70 { 2000 + y } else { 1900 + y }).unwrap_or(0));
                    }
                    "Y" => p.year = Some(2000 + i32::try_from(read_number(&mut input, 1, pattern)?).unwrap_or(0)),
                    "MM" => p.month = Some(fit(read_number(&mut input, 2, pattern)?, pattern)?),
                    "MONTH" | "Month" | "month" => {
                        p.month = Some(read_name(&mut input, &MONTHS, false, pattern)? as u32 + 1)
                    }
                    "MON" | "Mon" | "mon" => p.month = Some(read_name(&mut input, &MONTHS, true, pattern)? as u32 + 1),
                    "DAY" | "Day" | "day" => {
                        read_name(&mut input, &DAYS, false, pattern)?;
                    }
                    "DY" | "Dy" | "dy" => {
                        read_name(&mut input, &DAYS, true, pattern)?;
                    }
                    "DD" => p.day = Some(fit(read_number(&mut input, 2, pattern)?, pattern)?),
                    "DDD" | "IDDD" => p.day_of_year = Some(fit(read_number(&mut input, 3, pattern)?, pattern)?),
                    "HH" | "HH12" | "HH24" => p.hour = fit(read_number(&mut input, 2, pattern)?, pattern)?,
                    "MI" => p.minute = fit(read_number(&mut input, 2, pattern)?, pattern)?,
                    "SS" => p.second = fit(read_number(&mut input, 2, pattern)?, pattern)?,
                    "MS" | "US" => {
                        // Fraction digits: `.5` is half a second either way.
                        let before = input.trim_start().len();
                        let n = fit(read_number(&mut input, if pattern == "MS" { 3 } else { 6 }, pattern)?, pattern)?;
                        let digits = u32::try_from(before - input.len()).unwrap_or(6).min(6);
                        let scale =
                            if pattern == "MS" { 1000 * 10u32.pow(3 - digits.min(3)) } else { 10u32.pow(6 - digits) };
                        p.micros = n.saturating_mul(scale);
                    }
                    "AM" | "PM" | "am" | "pm" | "A.M." | "P.M." | "a.m." | "p.m." => {
                        let t = input.trim_start();
                        let upper = t.get(..2).map(str::to_ascii_uppercase);
                        p.pm = match upper.as_deref() {
                            Some("AM") => Some(false),
                            Some("PM") => Some(true),
                            _ => {
                                return Err(data_exception("22007", format!("invalid value for \"{pattern}\"")));
                            }
                        };
                        input = &t[2..];
                        input = input.strip_prefix('.').unwrap_or(input);
                    }
                    "TZ" | "tz" => {
                        input = input.trim_start().trim_start_matches(|c: char| c.is_ascii_alphabetic());
                    }
                    _ => {
                        read_number(&mut input, 2, pattern)?;
                    }
                }
                if ordinal.is_some() {
                    let t = input.trim_start_matches(|c: char| c.is_ascii_alphabetic());
                    input = t;
                }
            }
        }
    }
    if let Some(pm) = p.pm {
        if p.hour > 12 || p.hour == 0 {
            return Err(data_exception("22008", format!("hour \"{}\" is invalid for the 12-hour clock", p.hour)));
        }
        p.hour = p.hour % 12 + if pm { 12 } else { 0 };
    }
    Ok(p)
}

fn parsed_timestamp(p: &Parsed) -> Result<i64> {
    let year = p.year.unwrap_or(1);
    let (month, day) = match (p.day_of_year, p.month, p.day) {
        (Some(doy), None, None) => {
            let jd = datetime::date2j(year, 1, 1) + i64::from(doy) - 1;
            let (_, m, d) = datetime::j2date(jd);
            (m, d)
        }
        (_, m, d) => (m.unwrap_or(1), d.unwrap_or(1)),
    };
    if p.hour > 24 || p.minute > 59 || p.second > 60 {
        return Err(data_exception("22008", "date/time field value out of range"));
    }
    datetime::timestamp_from_parts(&DateTimeParts {
        year,
        month,
        day,
        hour: p.hour,
        minute: p.minute,
        second: p.second,
        micros: p.micros,
    })
    .map_err(|_| data_exception("22008", format!("date/time field value out of range: \"{year}-{month}-{day}\"")))
}

/// `to_date(text, template)`
pub(crate) fn to_date(text: &str, template: &str) -> Result<Value> {
    let p = parse_with_template(text, template)?;
    let ts = parsed_timestamp(&Parsed { hour: 0, minute: 0, second: 0, micros: 0, pm: None, ..p })?;
    Ok(Value::Date(datetime::timestamp_to_date(ts)))
}

/// `to_timestamp(text, template)` (timestamptz; memdb runs in UTC).
pub(crate) fn to_timestamp(text: &str, template: &str) -> Result<Value> {
    let p = parse_with_template(text, template)?;
    Ok(Value::TimestampTz(parsed_timestamp(&p)?))
}

/// `to_timestamp(double precision)`: seconds since the Unix epoch.
pub(crate) fn to_timestamp_epoch(seconds: f64) -> Result<Value> {
    if seconds.is_nan() {
        return Err(data_exception("22008", "timestamp cannot be NaN"));
    }
    if seconds.is_infinite() {
        return Ok(Value::TimestampTz(if seconds > 0.0 { i64::MAX } else { i64::MIN }));
    }
    let micros = (seconds - 946_684_800.0) * 1e6;
    if micros.abs() > 9.2e18 {
        return Err(data_exception("22008", format!("timestamp out of range: \"{seconds}\"")));
    }
    Ok(Value::TimestampTz(micros.round() as i64))
}

/// `make_date(year, month, day)`
pub(crate) fn make_date(year: i64, month: i64, day: i64) -> Result<Value> {
    let bad = || data_exception("22008", format!("date field value out of range: {year}-{month:02}-{day:02}"));
    let y = i32::try_from(year).map_err(|_| bad())?;
    if y == 0 {
        return Err(bad());
    }
    // Negative years are BC: -1 is 1 BC, astronomical year 0.
    let y = if y < 0 { y + 1 } else { y };
    let m = u32::try_from(month).map_err(|_| bad())?;
    let d = u32::try_from(day).map_err(|_| bad())?;
    datetime::date_from_ymd(y, m, d).map(Value::Date).map_err(|_| bad())
}

/// `make_timestamp(year, month, day, hour, min, sec)`
pub(crate) fn make_timestamp(fields: [i64; 5], seconds: f64) -> Result<Value> {
    let [year, month, day, hour, minute] = fields;
    let Value::Date(date) = make_date(year, month, day)? else {
        return Err(SqlError::InvalidParameter("make_timestamp".into()));
    };
    if !(0..=23).contains(&hour) || !(0..=59).contains(&minute) || !(0.0..60.0).contains(&seconds) {
        return Err(data_exception("22008", format!("time field value out of range: {hour}:{minute:02}:{seconds:02}")));
    }
    let time = hour * 3_600_000_000 + minute * 60_000_000 + (seconds * 1e6).round() as i64;
    Ok(Value::Timestamp(datetime::date_add_time(date, time)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> i64 {
        match Value::Text(text.into()).cast(&memdb_engine::DataType::Timestamp) {
            Ok(Value::Timestamp(t)) => t,
            other => panic!("{other:?}"),
        }
    }

    fn fmt(t: &str, template: &str) -> String {
        timestamp_to_char(ts(t), template).map(|v| v.to_string()).unwrap_or_default()
    }

    fn num(v: &str, template: &str) -> String {
        number_to_char(v.parse().unwrap_or_default(), template).map(|v| v.to_string()).unwrap_or_default()
    }

    #[test]
    fn dates_format_as_postgres_does() {
        assert_eq!(fmt("2024-03-05 14:07:09.123456", "YYYY-MM-DD HH24:MI:SS.MS"), "2024-03-05 14:07:09.123");
        assert_eq!(fmt("2024-03-05 14:07:09", "Day, DD Month YYYY"), "Tuesday  , 05 March     2024");
        assert_eq!(fmt("2024-03-05 14:07:09", "FMDay, FMDD FMMonth YYYY"), "Tuesday, 5 March 2024");
        assert_eq!(fmt("2024-03-05 14:07:09", "HH12:MI AM Mon dy"), "02:07 PM Mar tue");
        assert_eq!(fmt("2024-03-05 14:07:09", "yyyy-mm-dd hh24:mi:ss"), "2024-03-05 14:07:09");
        assert_eq!(fmt("2024-03-01 00:00:00", "DDth \"of\" MON, Q"), "01st of MAR, 1");
        assert_eq!(fmt("2024-12-30 00:00:00", "IYYY-IW-ID"), "2025-01-1");
    }

    #[test]
    fn numbers_format_as_postgres_does() {
        assert_eq!(num("123", "999"), " 123");
        assert_eq!(num("-123", "999"), "-123");
        assert_eq!(num("1234", "999"), " ###");
        assert_eq!(num("0.1", "99.99"), "   .10");
        assert_eq!(num("-0.1", "99.99"), "  -.10");
        assert_eq!(num("-0.1", "FM9.99"), "-.1");
        assert_eq!(num("-0.1", "FM90.99"), "-0.1");
        assert_eq!(num("0.1", "0.9"), " 0.1");
        assert_eq!(num("12345.678", "99,999.99"), " 12,345.68");
        assert_eq!(num("123", "99,999"), "    123");
        assert_eq!(num("5", "009"), " 005");
        assert_eq!(num("-12", "999MI"), " 12-");
        assert_eq!(num("12", "S999"), " +12");
        assert_eq!(num("-485", "999PR"), "<485>");
        assert_eq!(num("1.5", "FM9.99"), "1.5");
        assert_eq!(num("1234", "9999.99999999999999999999999999999"), " 1234.00000000000000000000000000000");
        assert_eq!(num("1.5", "FM9.99€"), "1.5€");
        assert_eq!(num("-1.5", "FM9.990MI"), "1.500-");
        assert_eq!(num("1.5", "FM9.99MI"), "1.5");
    }

    #[test]
    fn dates_parse_back() {
        assert_eq!(
            to_date("05 Mar 2024", "DD Mon YYYY").ok(),
            Some(Value::Date(datetime::timestamp_to_date(ts("2024-03-05 00:00:00"))))
        );
        assert_eq!(
            to_date("20240305", "YYYYMMDD").ok(),
            Some(Value::Date(datetime::timestamp_to_date(ts("2024-03-05 00:00:00"))))
        );
        assert_eq!(
            to_timestamp("2024-03-05 02:07:09 PM", "YYYY-MM-DD HH12:MI:SS AM").ok(),
            Some(Value::TimestampTz(ts("2024-03-05 14:07:09")))
        );
        assert!(to_date("2024-13-01", "YYYY-MM-DD").is_err());
        assert_eq!(
            to_timestamp("2024-03-05 14:07:09.5", "yyyy-mm-dd hh24:mi:ss.ms").ok(),
            Some(Value::TimestampTz(ts("2024-03-05 14:07:09.5")))
        );
        assert!(to_date("xx", "YYYY").is_err());
        assert!(to_date("éé 2024", "Mon YYYY").is_err());
        assert_eq!(
            to_number("-12,345.6", "99G999D9").ok(),
            Some(Value::Numeric("-12345.6".parse().unwrap_or_default()))
        );
    }
}
