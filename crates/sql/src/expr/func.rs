//! Built-in scalar functions: lookup by name, result types, evaluation.

use memdb_engine::types::datetime;
use memdb_engine::{Array, DataType, Value};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde_json::Value as Json;

use super::arith::{self, to_decimal, to_f64};
use crate::error::{Result, SqlError, data_exception};
use crate::exec::ExecCtx;

macro_rules! functions {
    ($($variant:ident => $($name:literal)|+),* $(,)?) => {
        /// A built-in scalar function.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Func {
            $(
                #[doc = concat!("`", $($name, " ",)+ "`")]
                $variant,
            )*
        }

        impl Func {
            /// Looks a function up by (lower-case) name.
            pub fn lookup(name: &str) -> Option<Func> {
                match name {
                    $($($name)|+ => Some(Func::$variant),)*
                    _ => None,
                }
            }

            /// The function's SQL name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Func::$variant => functions!(@first $($name)+),)*
                }
            }
        }
    };
    (@first $first:literal $($rest:literal)*) => { $first };
}

functions! {
    Abs => "abs",
    Coalesce => "coalesce",
    NullIf => "nullif",
    Greatest => "greatest",
    Least => "least",
    Lower => "lower",
    Upper => "upper",
    Length => "length" | "char_length" | "character_length",
    OctetLength => "octet_length",
    Substr => "substr" | "substring",
    Btrim => "btrim" | "trim",
    Ltrim => "ltrim",
    Rtrim => "rtrim",
    Replace => "replace",
    Concat => "concat",
    ConcatWs => "concat_ws",
    StrPos => "strpos" | "position",
    Left => "left",
    Right => "right",
    Repeat => "repeat",
    Reverse => "reverse",
    Lpad => "lpad",
    Rpad => "rpad",
    SplitPart => "split_part",
    Initcap => "initcap",
    StartsWith => "starts_with",
    Chr => "chr",
    Ascii => "ascii",
    ToHex => "to_hex",
    Round => "round",
    Ceil => "ceil" | "ceiling",
    Floor => "floor",
    Trunc => "trunc",
    Sqrt => "sqrt",
    Cbrt => "cbrt",
    Power => "power" | "pow",
    Exp => "exp",
    Ln => "ln",
    Log => "log" | "log10",
    Mod => "mod",
    Sign => "sign",
    Pi => "pi",
    Random => "random",
    PgSleep => "pg_sleep",
    Now => "now" | "current_timestamp" | "transaction_timestamp" | "statement_timestamp" | "localtimestamp",
    ClockTimestamp => "clock_timestamp",
    CurrentDate => "current_date",
    DatePart => "date_part" | "extract",
    DateTrunc => "date_trunc",
    Age => "age",
    Nextval => "nextval",
    Currval => "currval",
    Setval => "setval",
    Version => "version",
    CurrentDatabase => "current_database",
    CurrentSchema => "current_schema",
    CurrentUser => "current_user" | "session_user" | "user" | "current_role",
    JsonbBuildObject => "jsonb_build_object",
    JsonBuildObject => "json_build_object",
    JsonbBuildArray => "jsonb_build_array",
    JsonBuildArray => "json_build_array",
    ToJsonb => "to_jsonb",
    ToJson => "to_json",
    JsonbTypeof => "jsonb_typeof" | "json_typeof",
    JsonbArrayLength => "jsonb_array_length" | "json_array_length",
    JsonbExtractPath => "jsonb_extract_path" | "json_extract_path",
    JsonbExtractPathText => "jsonb_extract_path_text" | "json_extract_path_text",
    ArrayLength => "array_length",
    Cardinality => "cardinality",
    ArrayPosition => "array_position",
    ArrayAppend => "array_append",
    ArrayToString => "array_to_string",
    StringToArray => "string_to_array",
    GenRandomUuid => "gen_random_uuid",
    PgTypeof => "pg_typeof",
    PgTableIsVisible => "pg_table_is_visible" | "pg_type_is_visible" | "pg_function_is_visible",
    PgGetUserById => "pg_get_userbyid",
    FormatType => "format_type",
    PgGetExpr => "pg_get_expr",
    PgGetIndexdef => "pg_get_indexdef",
    PgGetConstraintdef => "pg_get_constraintdef",
    PgGetViewdef => "pg_get_viewdef",
    PgEncodingToChar => "pg_encoding_to_char",
    ObjDescription => "obj_description" | "col_description" | "shobj_description",
    PgRelationIsPublishable => "pg_relation_is_publishable",
    PgGetStatisticsobjdefColumns => "pg_get_statisticsobjdef_columns",
    PgGetTriggerdef => "pg_get_triggerdef",
    PgPartitionAncestors => "pg_partition_ancestors",
    CurrentSchemas => "current_schemas",
    ArrayUpper => "array_upper",
    HasPrivilege => "has_table_privilege" | "has_schema_privilege" | "has_database_privilege",
    ArraySubscript => "memdb_array_element",
    RegclassName => "memdb_regclass_name",
    QuoteIdent => "quote_ident",
    Md5 => "md5",
    Sha224 => "sha224",
    Sha256 => "sha256",
    Sha384 => "sha384",
    Sha512 => "sha512",
    Encode => "encode",
    Decode => "decode",
    Translate => "translate",
    Overlay => "overlay",
    QuoteLiteral => "quote_literal",
    QuoteNullable => "quote_nullable",
    Format => "format",
    BitLength => "bit_length",
    RegexpReplace => "regexp_replace",
    RegexpMatch => "regexp_match",
    RegexpSplitToArray => "regexp_split_to_array",
    RegexpCount => "regexp_count",
    RegexpLike => "regexp_like",
    LikeEscape => "memdb_like_escape",
    SimilarToRegex => "memdb_similar_to_regex",
    ToChar => "to_char",
    ToDate => "to_date",
    ToTimestamp => "to_timestamp",
    ToNumber => "to_number",
    MakeDate => "make_date",
    MakeTimestamp => "make_timestamp",
    IsFinite => "isfinite",
    Sin => "sin",
    Cos => "cos",
    Tan => "tan",
    Cot => "cot",
    Asin => "asin",
    Acos => "acos",
    Atan => "atan",
    Atan2 => "atan2",
    Degrees => "degrees",
    Radians => "radians",
    Gcd => "gcd",
    Lcm => "lcm",
    Div => "div",
    Factorial => "factorial",
    WidthBucket => "width_bucket",
    NumNulls => "num_nulls",
    NumNonnulls => "num_nonnulls",
    CurrentSetting => "current_setting",
    SetConfig => "set_config",
    Lastval => "lastval",
    ArrayRemove => "array_remove",
    ArrayReplace => "array_replace",
    ArrayCat => "array_cat",
    ArrayPrepend => "array_prepend",
    ArrayLower => "array_lower",
    JsonbSet => "jsonb_set",
    JsonbInsert => "jsonb_insert",
    JsonbStripNulls => "jsonb_strip_nulls",
    JsonStripNulls => "json_strip_nulls",
    JsonbPretty => "jsonb_pretty",
}

fn bad_args(f: Func, types: &[DataType]) -> SqlError {
    let list: Vec<String> = types.iter().map(ToString::to_string).collect();
    SqlError::UndefinedFunction(format!("function {}({}) does not exist", f.name(), list.join(", ")))
}

fn is_numeric(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int2 | DataType::Int4 | DataType::Int8 | DataType::Float4 | DataType::Float8 | DataType::Numeric(_)
    )
}

impl Func {
    /// Whether the function may return different results for the same
    /// arguments within a statement (never folded as a constant).
    pub fn is_volatile(self) -> bool {
        matches!(
            self,
            Func::Random
                | Func::PgSleep
                | Func::Nextval
                | Func::Currval
                | Func::Setval
                | Func::GenRandomUuid
                | Func::ClockTimestamp
                | Func::Now
                | Func::CurrentDate
                | Func::CurrentSetting
                | Func::SetConfig
                | Func::Lastval
        )
    }

    /// Whether a parallel worker thread may evaluate the function: it reads
    /// only its arguments and the statement's fixed state (timestamp,
    /// settings, user), not sequences, the session's random generator,
    /// changeable settings or the catalog through the transaction.
    pub fn is_parallel_safe(self) -> bool {
        !matches!(
            self,
            Func::Random
                | Func::GenRandomUuid
                | Func::PgSleep
                | Func::Nextval
                | Func::Currval
                | Func::Setval
                | Func::Lastval
                | Func::SetConfig
                | Func::PgTableIsVisible
                | Func::RegclassName
                | Func::PgGetIndexdef
                | Func::PgGetConstraintdef
                | Func::PgGetViewdef
        )
    }

    /// The argument count range the function takes.
    fn arity(self) -> (usize, usize) {
        use Func::*;
        match self {
            Pi | Random | Now | ClockTimestamp | CurrentDate | Version | CurrentDatabase | CurrentSchema
            | CurrentUser | GenRandomUuid | Lastval => (0, 0),
            NumNulls | NumNonnulls => (0, usize::MAX),
            Format => (1, usize::MAX),
            Encode | Decode | ToDate | ToNumber | Atan2 | Gcd | Lcm | Div | ArrayRemove | ArrayCat | ArrayPrepend
            | ArrayLower | ToChar | LikeEscape | SimilarToRegex => (2, 2),
            ToTimestamp | CurrentSetting => (1, 2),
            Translate | SetConfig | ArrayReplace | MakeDate => (3, 3),
            Overlay | RegexpReplace | JsonbSet | JsonbInsert => (3, 4),
            RegexpMatch | RegexpSplitToArray | RegexpLike => (2, 3),
            RegexpCount => (2, 4),
            MakeTimestamp => (6, 6),
            WidthBucket => (4, 4),
            Coalesce | Greatest | Least | Concat | JsonbBuildObject | JsonBuildObject | JsonbBuildArray
            | JsonBuildArray => (0, usize::MAX),
            ConcatWs => (1, usize::MAX),
            JsonbExtractPath | JsonbExtractPathText => (1, usize::MAX),
            NullIf => (2, 2),
            Replace => (3, 3),
            Substr => (2, 3),
            Btrim | Ltrim | Rtrim => (1, 2),
            StrPos | Left | Right | Repeat | Power | Mod | StartsWith | ArrayLength | ArrayPosition | ArrayAppend
            | DatePart | DateTrunc => (2, 2),
            ArrayToString | StringToArray => (2, 3),
            Lpad | Rpad => (2, 3),
            SplitPart => (3, 3),
            Round | Trunc => (1, 2),
            Log => (1, 2),
            Age => (1, 2),
            Setval => (2, 3),
            FormatType | ArrayUpper | ArraySubscript => (2, 2),
            PgGetExpr | HasPrivilege => (2, 3),
            PgGetIndexdef => (1, 3),
            PgGetConstraintdef | PgGetViewdef | ObjDescription | PgGetTriggerdef => (1, 2),
            _ => (1, 1),
        }
    }

    /// The result type for the argument types, or an error naming the
    /// function and types when there is no such function.
    pub fn return_type(self, args: &[DataType]) -> Result<DataType> {
        use DataType as T;
        use Func::*;
        let (lo, hi) = self.arity();
        if args.len() < lo || args.len() > hi {
            return Err(bad_args(self, args));
        }
        let first = args.first().cloned().unwrap_or(T::Text);
        Ok(match self {
            Abs | Sign => {
                if !is_numeric(&first) {
                    return Err(bad_args(self, args));
                }
                first
            }
            Coalesce | Greatest | Least | NullIf => first,
            Lower | Upper | Substr | Btrim | Ltrim | Rtrim | Replace | Concat | ConcatWs | Left | Right | Repeat
            | Reverse | Lpad | Rpad | SplitPart | Initcap | Chr | ToHex | Version | CurrentDatabase | CurrentSchema
            | CurrentUser | JsonbExtractPathText | ArrayToString | PgTypeof => T::Text,
            RegclassName | QuoteIdent => T::Text,
            PgGetUserById
            | FormatType
            | PgGetExpr
            | PgGetIndexdef
            | PgGetConstraintdef
            | PgGetViewdef
            | PgEncodingToChar
            | ObjDescription
            | PgGetStatisticsobjdefColumns
            | PgGetTriggerdef => T::Text,
            PgTableIsVisible | PgRelationIsPublishable | HasPrivilege => T::Bool,
            PgPartitionAncestors | ArrayUpper => T::Int4,
            CurrentSchemas => T::Array(Box::new(T::Text)),
            ArraySubscript => match first {
                T::Array(elem) => *elem,
                _ => return Err(bad_args(self, args)),
            },
            Length | OctetLength | StrPos | Ascii => T::Int4,
            StartsWith => T::Bool,
            Round | Trunc | Ceil | Floor => match first {
                T::Float4 | T::Float8 => T::Float8,
                t if is_numeric(&t) => T::Numeric(None),
                _ => return Err(bad_args(self, args)),
            },
            Sqrt | Cbrt | Exp | Ln | Log | Power => match first {
                T::Numeric(_) if self != Cbrt => T::Numeric(None),
                t if is_numeric(&t) => T::Float8,
                _ => return Err(bad_args(self, args)),
            },
            Mod => match (&args[0], &args[1]) {
                (a, b) if a.clone() == T::Int2 && *b == T::Int2 => T::Int2,
                (T::Int2 | T::Int4, T::Int2 | T::Int4) => T::Int4,
                (T::Int2 | T::Int4 | T::Int8, T::Int2 | T::Int4 | T::Int8) => T::Int8,
                (a, b) if is_numeric(a) && is_numeric(b) => T::Numeric(None),
                _ => return Err(bad_args(self, args)),
            },
            Pi | Random => T::Float8,
            // `void` in PostgreSQL; its one value reads as an empty cell.
            PgSleep if is_numeric(&first) => T::Text,
            PgSleep => return Err(bad_args(self, args)),
            Now => T::TimestampTz,
            ClockTimestamp => T::TimestampTz,
            CurrentDate => T::Date,
            DatePart => T::Float8,
            DateTrunc => match args.get(1) {
                Some(T::TimestampTz) => T::TimestampTz,
                Some(T::Interval) => T::Interval,
                _ => T::Timestamp,
            },
            Age => T::Interval,
            Nextval | Currval | Setval => T::Int8,
            JsonbBuildObject | JsonbBuildArray | ToJsonb | JsonbExtractPath => T::Jsonb,
            JsonBuildObject | JsonBuildArray | ToJson => T::Json,
            JsonbTypeof => T::Text,
            JsonbArrayLength | ArrayLength | Cardinality | ArrayPosition => T::Int4,
            ArrayAppend => first,
            StringToArray => T::Array(Box::new(T::Text)),
            GenRandomUuid => T::Uuid,
            Md5 | Encode | Translate | Overlay | QuoteLiteral | QuoteNullable | Format | RegexpReplace | ToChar
            | CurrentSetting | SetConfig | JsonbPretty | LikeEscape | SimilarToRegex => T::Text,
            Sha224 | Sha256 | Sha384 | Sha512 if first == T::Bytea => T::Bytea,
            Sha224 | Sha256 | Sha384 | Sha512 => return Err(bad_args(self, args)),
            Decode => T::Bytea,
            BitLength | RegexpCount | NumNulls | NumNonnulls | ArrayLower | WidthBucket => T::Int4,
            RegexpMatch | RegexpSplitToArray => T::Array(Box::new(T::Text)),
            RegexpLike | IsFinite => T::Bool,
            ToDate | MakeDate => T::Date,
            ToTimestamp => T::TimestampTz,
            MakeTimestamp => T::Timestamp,
            ToNumber | Div | Factorial => T::Numeric(None),
            Sin | Cos | Tan | Cot | Asin | Acos | Atan | Atan2 | Degrees | Radians => T::Float8,
            Gcd | Lcm => match (&args[0], &args[1]) {
                (T::Int2 | T::Int4, T::Int2 | T::Int4) => T::Int4,
                (T::Int2 | T::Int4 | T::Int8, T::Int2 | T::Int4 | T::Int8) => T::Int8,
                _ => return Err(bad_args(self, args)),
            },
            Lastval => T::Int8,
            ArrayRemove | ArrayReplace | ArrayCat => match (&first, args.get(1)) {
                (T::Array(_), _) => first,
                (_, Some(T::Array(e))) if self == ArrayCat => T::Array(e.clone()),
                _ => return Err(bad_args(self, args)),
            },
            ArrayPrepend => match args.get(1) {
                Some(T::Array(e)) => T::Array(e.clone()),
                _ => T::Array(Box::new(first)),
            },
            JsonbSet | JsonbInsert | JsonbStripNulls => T::Jsonb,
            JsonStripNulls => T::Json,
        })
    }

    /// The types the arguments should be cast to before the call (for
    /// functions with one signature), `None` to leave an argument as is.
    pub fn argument_types(self, args: &[DataType]) -> Vec<Option<DataType>> {
        use DataType as T;
        use Func::*;
        let text = Some(T::Text);
        let int = Some(T::Int4);
        let same = |v: Vec<Option<DataType>>| v.into_iter().chain(std::iter::repeat(None)).take(args.len()).collect();
        match self {
            Lower | Upper | Length | OctetLength | Initcap | Reverse | Ascii | Btrim | Ltrim | Rtrim => {
                same(vec![text.clone(), text])
            }
            Substr => same(vec![text, int.clone(), int]),
            Replace => same(vec![text.clone(), text.clone(), text]),
            StrPos | StartsWith => same(vec![text.clone(), text]),
            Left | Right | Repeat => same(vec![text, int]),
            Lpad | Rpad => same(vec![text.clone(), int, text]),
            SplitPart => same(vec![text.clone(), text, int]),
            Chr => same(vec![int]),
            PgSleep => same(vec![Some(T::Float8)]),
            Nextval | Currval => same(vec![text]),
            Setval => same(vec![text, Some(T::Int8), Some(T::Bool)]),
            DatePart | DateTrunc => same(vec![text]),
            JsonbExtractPath | JsonbExtractPathText => {
                std::iter::once(None).chain(std::iter::repeat(Some(T::Text))).take(args.len()).collect()
            }
            StringToArray | ArrayToString => {
                let mut v = vec![None, text.clone(), text];
                if self == StringToArray {
                    v[0] = Some(T::Text);
                }
                same(v)
            }
            Round | Trunc => same(vec![None, int]),
            PgTableIsVisible
            | PgGetUserById
            | PgRelationIsPublishable
            | PgPartitionAncestors
            | PgGetStatisticsobjdefColumns
            | PgEncodingToChar => same(vec![int]),
            FormatType => same(vec![int.clone(), int]),
            PgGetExpr => same(vec![text, int, Some(T::Bool)]),
            PgGetIndexdef => same(vec![int.clone(), int, Some(T::Bool)]),
            PgGetConstraintdef | PgGetViewdef | PgGetTriggerdef => same(vec![int, Some(T::Bool)]),
            ObjDescription => same(vec![int, text]),
            CurrentSchemas => same(vec![Some(T::Bool)]),
            ArrayUpper | ArrayLower => same(vec![None, int]),
            Sha224 | Sha256 | Sha384 | Sha512 => same(vec![Some(T::Bytea)]),
            Encode => same(vec![Some(T::Bytea), text]),
            Decode | ToDate | ToNumber | LikeEscape | SimilarToRegex => same(vec![text.clone(), text]),
            Translate => same(vec![text.clone(), text.clone(), text]),
            Overlay => same(vec![text.clone(), text, int.clone(), int]),
            Format => std::iter::once(text).chain(std::iter::repeat(None)).take(args.len()).collect(),
            RegexpReplace | RegexpMatch | RegexpSplitToArray | RegexpLike => {
                same(vec![text.clone(), text.clone(), text.clone(), text])
            }
            RegexpCount => same(vec![text.clone(), text.clone(), int, text]),
            ToChar => same(vec![None, text]),
            ToTimestamp if args.len() == 2 => same(vec![text.clone(), text]),
            ToTimestamp | Sin | Cos | Tan | Cot | Asin | Acos | Atan | Atan2 | Degrees | Radians => {
                same(vec![Some(T::Float8), Some(T::Float8)])
            }
            MakeDate => same(vec![int.clone(), int.clone(), int]),
            MakeTimestamp => same(vec![int.clone(), int.clone(), int.clone(), int.clone(), int, Some(T::Float8)]),
            Div => same(vec![Some(T::Numeric(None)), Some(T::Numeric(None))]),
            Factorial => same(vec![Some(T::Int8)]),
            WidthBucket => same(vec![Some(T::Float8), Some(T::Float8), Some(T::Float8), int]),
            CurrentSetting => same(vec![text, Some(T::Bool)]),
            SetConfig => same(vec![text.clone(), text, Some(T::Bool)]),
            JsonbSet | JsonbInsert => {
                same(vec![Some(T::Jsonb), Some(T::Array(Box::new(T::Text))), Some(T::Jsonb), Some(T::Bool)])
            }
            JsonbStripNulls | JsonbPretty => same(vec![Some(T::Jsonb)]),
            JsonStripNulls => same(vec![Some(T::Json)]),
            _ => vec![None; args.len()],
        }
    }
}

fn text_arg(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        other => other.to_string(),
    }
}

fn int_arg(v: &Value) -> Result<i64> {
    v.as_i64().ok_or_else(|| SqlError::DatatypeMismatch(format!("expected an integer, got {v}")))
}

fn usize_of(n: i64) -> usize {
    usize::try_from(n.max(0)).unwrap_or(usize::MAX)
}

fn to_i32(n: usize) -> Value {
    Value::Int4(i32::try_from(n).unwrap_or(i32::MAX))
}

/// Evaluates a function on evaluated arguments (COALESCE is evaluated
/// lazily by the caller and never reaches here).
pub(crate) fn call(f: Func, args: &[Value], cx: &mut ExecCtx<'_>) -> Result<Value> {
    use Func::*;
    let arg = |i: usize| args.get(i).unwrap_or(&Value::Null);
    // Functions that see NULL arguments themselves.
    match f {
        NullIf => {
            return Ok(match arg(0).sql_eq(arg(1)) {
                Some(true) => Value::Null,
                _ => arg(0).clone(),
            });
        }
        Greatest | Least => {
            let mut best: Option<&Value> = None;
            for v in args.iter().filter(|v| !v.is_null()) {
                best = match best {
                    None => Some(v),
                    Some(b) => {
                        let ord = v.total_cmp(b);
                        let better = if f == Greatest { ord.is_gt() } else { ord.is_lt() };
                        Some(if better { v } else { b })
                    }
                };
            }
            return Ok(best.cloned().unwrap_or(Value::Null));
        }
        Concat => return Ok(Value::Text(args.iter().filter(|v| !v.is_null()).map(text_arg).collect())),
        ConcatWs => {
            if arg(0).is_null() {
                return Ok(Value::Null);
            }
            let sep = text_arg(arg(0));
            let parts: Vec<String> = args[1..].iter().filter(|v| !v.is_null()).map(text_arg).collect();
            return Ok(Value::Text(parts.join(&sep)));
        }
        JsonbBuildObject | JsonBuildObject => {
            if !args.len().is_multiple_of(2) {
                return Err(SqlError::InvalidParameter("argument list must have even number of elements".into()));
            }
            if args.chunks(2).any(|pair| pair[0].is_null()) {
                return Err(SqlError::InvalidParameter("argument 1: key must not be null".into()));
            }
            if f == JsonBuildObject {
                // json keeps every key, in order, laid out as PostgreSQL
                // writes it: `{"a" : 1, "b" : [1, 2]}`.
                let pairs: Vec<String> = args
                    .chunks(2)
                    .map(|pair| format!("{} : {}", Json::String(text_arg(&pair[0])), json_text(&pair[1])))
                    .collect();
                return Ok(Value::Json(format!("{{{}}}", pairs.join(", "))));
            }
            let mut map = serde_json::Map::new();
            for pair in args.chunks(2) {
                map.insert(text_arg(&pair[0]), to_json(&pair[1]));
            }
            return Ok(json_value(Json::Object(map), true));
        }
        JsonBuildArray => {
            let items: Vec<String> = args.iter().map(json_text).collect();
            return Ok(Value::Json(format!("[{}]", items.join(", "))));
        }
        JsonbBuildArray => {
            let items = args.iter().map(to_json).collect();
            return Ok(json_value(Json::Array(items), true));
        }
        ToJsonb | ToJson if !arg(0).is_null() => return Ok(json_value(to_json(arg(0)), f == ToJsonb)),
        ArrayPosition => {
            let Value::Array(a) = arg(0) else { return Ok(Value::Null) };
            let pos = a.elements.iter().position(|e| match (e, arg(1)) {
                (Value::Null, Value::Null) => true,
                (e, v) => e.sql_eq(v) == Some(true),
            });
            return Ok(pos.map_or(Value::Null, |p| to_i32(p + 1)));
        }
        NumNulls | NumNonnulls => {
            let nulls = args.iter().filter(|v| v.is_null()).count();
            return Ok(to_i32(if f == NumNulls { nulls } else { args.len() - nulls }));
        }
        Format if !arg(0).is_null() => return super::strfn::format(&text_arg(arg(0)), &args[1..]).map(Value::Text),
        QuoteNullable => {
            return Ok(Value::Text(if arg(0).is_null() { "NULL".into() } else { super::strfn::quote_literal(arg(0)) }));
        }
        ArrayRemove => return Ok(super::arrayfn::remove(arg(0), arg(1))),
        ArrayReplace => return Ok(super::arrayfn::replace(arg(0), arg(1), arg(2))),
        ArrayCat => return Ok(super::arrayfn::cat(arg(0), arg(1))),
        ArrayPrepend => return Ok(super::arrayfn::prepend(arg(0), arg(1))),
        CurrentSetting => {
            if arg(0).is_null() {
                return Ok(Value::Null);
            }
            let name = text_arg(arg(0)).to_ascii_lowercase();
            return match cx.setting(&name) {
                Some(v) => Ok(Value::Text(v)),
                None if arg(1).as_bool() == Some(true) => Ok(Value::Null),
                None => Err(SqlError::UndefinedParameter(name)),
            };
        }
        SetConfig => {
            if arg(0).is_null() {
                return Err(SqlError::InvalidParameter("SET requires parameter name".into()));
            }
            let name = text_arg(arg(0)).to_ascii_lowercase();
            if !crate::session::is_known_setting(&name) {
                return Err(SqlError::UndefinedParameter(name));
            }
            let value = if arg(1).is_null() { String::new() } else { text_arg(arg(1)) };
            cx.set_setting(name, value.clone(), arg(2).as_bool() == Some(true));
            return Ok(Value::Text(value));
        }
        ArrayAppend => {
            let mut a = match arg(0) {
                Value::Array(a) => (**a).clone(),
                _ => Array { element_type: arg(1).data_type().unwrap_or(DataType::Text), elements: Vec::new() },
            };
            a.elements.push(arg(1).clone());
            return Ok(Value::Array(Box::new(a)));
        }
        _ => {}
    }
    if args.iter().any(Value::is_null) && !matches!(f, Setval | ArrayToString) {
        return Ok(Value::Null);
    }
    Ok(match f {
        Abs => match arg(0) {
            v if v.sql_cmp(&Value::Int4(0)).is_some_and(|o| o.is_lt()) => arith::negate(v)?,
            v => v.clone(),
        },
        Sign => match arg(0) {
            Value::Float4(x) => Value::Float4(if *x == 0.0 { 0.0 } else { x.signum() }),
            Value::Float8(x) => Value::Float8(if *x == 0.0 { 0.0 } else { x.signum() }),
            Value::Numeric(d) => Value::Numeric(if d.is_zero() {
                Decimal::ZERO
            } else if d.is_sign_negative() {
                Decimal::NEGATIVE_ONE
            } else {
                Decimal::ONE
            }),
            v => {
                let s = v.as_i64().unwrap_or(0).signum();
                match v {
                    Value::Int2(_) => Value::Int2(i16::try_from(s).unwrap_or(0)),
                    Value::Int4(_) => Value::Int4(i32::try_from(s).unwrap_or(0)),
                    _ => Value::Int8(s),
                }
            }
        },
        Lower => Value::Text(text_arg(arg(0)).to_lowercase()),
        Upper => Value::Text(text_arg(arg(0)).to_uppercase()),
        Initcap => {
            let mut out = String::new();
            let mut start = true;
            for c in text_arg(arg(0)).chars() {
                if c.is_alphanumeric() {
                    if start {
                        out.extend(c.to_uppercase());
                    } else {
                        out.extend(c.to_lowercase());
                    }
                    start = false;
                } else {
                    out.push(c);
                    start = true;
                }
            }
            Value::Text(out)
        }
        Length => match arg(0) {
            Value::Bytea(b) => to_i32(b.len()),
            v => to_i32(text_arg(v).chars().count()),
        },
        OctetLength => match arg(0) {
            Value::Bytea(b) => to_i32(b.len()),
            v => to_i32(text_arg(v).len()),
        },
        Substr => {
            let s: Vec<char> = text_arg(arg(0)).chars().collect();
            let start = int_arg(arg(1))?;
            let end = match args.get(2) {
                Some(len) => {
                    let len = int_arg(len)?;
                    if len < 0 {
                        return Err(data_exception("22011", "negative substring length not allowed"));
                    }
                    start.saturating_add(len)
                }
                None => i64::MAX,
            };
            let from = usize_of(start - 1).min(s.len());
            let to = usize_of(end.saturating_sub(1)).min(s.len());
            Value::Text(if from < to { s[from..to].iter().collect() } else { String::new() })
        }
        Btrim | Ltrim | Rtrim => {
            let s = text_arg(arg(0));
            let chars: Vec<char> = args.get(1).map_or_else(|| vec![' '], |c| text_arg(c).chars().collect());
            let pred = |c: char| chars.contains(&c);
            Value::Text(match f {
                Ltrim => s.trim_start_matches(pred).to_owned(),
                Rtrim => s.trim_end_matches(pred).to_owned(),
                _ => s.trim_matches(pred).to_owned(),
            })
        }
        Replace => {
            let from = text_arg(arg(1));
            let s = text_arg(arg(0));
            Value::Text(if from.is_empty() { s } else { s.replace(&from, &text_arg(arg(2))) })
        }
        StrPos => {
            let (s, sub) = (text_arg(arg(0)), text_arg(arg(1)));
            to_i32(s.find(&sub).map_or(0, |byte| s[..byte].chars().count() + 1))
        }
        StartsWith => Value::Bool(text_arg(arg(0)).starts_with(&text_arg(arg(1)))),
        Left | Right => {
            let s: Vec<char> = text_arg(arg(0)).chars().collect();
            let n = int_arg(arg(1))?;
            let count = if n >= 0 { usize_of(n).min(s.len()) } else { s.len().saturating_sub(usize_of(-n)) };
            Value::Text(if f == Left { s[..count].iter().collect() } else { s[s.len() - count..].iter().collect() })
        }
        Repeat => {
            let n = usize_of(int_arg(arg(1))?);
            let s = text_arg(arg(0));
            if s.len().saturating_mul(n) > 1 << 30 {
                return Err(data_exception("54000", "requested length too large"));
            }
            Value::Text(s.repeat(n))
        }
        Reverse => Value::Text(text_arg(arg(0)).chars().rev().collect()),
        Lpad | Rpad => {
            let s: Vec<char> = text_arg(arg(0)).chars().collect();
            let n = usize_of(int_arg(arg(1))?);
            if n > 1 << 28 {
                return Err(data_exception("54000", "requested length too large"));
            }
            let fill: Vec<char> = args.get(2).map_or_else(|| vec![' '], |c| text_arg(c).chars().collect());
            if s.len() >= n || fill.is_empty() {
                return Ok(Value::Text(s[..n.min(s.len())].iter().collect()));
            }
            let pad: String = fill.iter().cycle().take(n - s.len()).collect();
            let s: String = s.iter().collect();
            Value::Text(if f == Lpad { pad + &s } else { s + &pad })
        }
        SplitPart => {
            let (s, delim, n) = (text_arg(arg(0)), text_arg(arg(1)), int_arg(arg(2))?);
            if n == 0 {
                return Err(SqlError::InvalidParameter("field position must not be zero".into()));
            }
            let parts: Vec<&str> = if delim.is_empty() { vec![s.as_str()] } else { s.split(delim.as_str()).collect() };
            let idx = if n > 0 { usize_of(n - 1) } else { parts.len().wrapping_sub(usize_of(-n)) };
            Value::Text(parts.get(idx).map_or_else(String::new, |p| (*p).to_owned()))
        }
        Chr => {
            let n = int_arg(arg(0))?;
            let c = u32::try_from(n).ok().and_then(char::from_u32).filter(|_| n != 0).ok_or_else(|| {
                SqlError::InvalidParameter(format!("requested character not valid for encoding: {n}"))
            })?;
            Value::Text(c.to_string())
        }
        Ascii => Value::Int4(text_arg(arg(0)).chars().next().map_or(0, |c| i32::try_from(u32::from(c)).unwrap_or(0))),
        ToHex => match arg(0) {
            Value::Int2(x) => Value::Text(format!("{:x}", *x as u16)),
            Value::Int4(x) => Value::Text(format!("{:x}", *x as u32)),
            v => Value::Text(format!("{:x}", int_arg(v)? as u64)),
        },
        Round | Trunc | Ceil | Floor => round(f, arg(0), args.get(1))?,
        Sqrt | Cbrt | Exp | Ln | Log | Power => math(f, args)?,
        Mod => arith::arith(super::BinOp::Rem, arg(0), arg(1))?,
        Pi => Value::Float8(std::f64::consts::PI),
        Random => Value::Float8(cx.random()),
        PgSleep => {
            sleep(to_f64(arg(0)).unwrap_or(0.0), cx)?;
            Value::Null
        }
        Now => Value::TimestampTz(cx.now),
        ClockTimestamp => Value::TimestampTz(datetime::now_timestamp()),
        CurrentDate => Value::Date(datetime::timestamp_to_date(cx.now)),
        DatePart => date_part(&text_arg(arg(0)), arg(1))?,
        DateTrunc => date_trunc(&text_arg(arg(0)), arg(1))?,
        Age => {
            let (a, b) = match args.get(1) {
                Some(b) => (arg(0).clone(), b.clone()),
                None => (Value::Timestamp(datetime::timestamp_to_date(cx.now) as i64 * 86_400_000_000), arg(0).clone()),
            };
            arith::arith(super::BinOp::Sub, &a, &b)?
        }
        Nextval => Value::Int8(cx.nextval(&text_arg(arg(0)))?),
        Currval => Value::Int8(cx.currval(&text_arg(arg(0)))?),
        Setval => {
            if arg(0).is_null() || arg(1).is_null() {
                return Ok(Value::Null);
            }
            let called = args.get(2).and_then(Value::as_bool).unwrap_or(true);
            Value::Int8(cx.setval(&text_arg(arg(0)), int_arg(arg(1))?, called)?)
        }
        Version => Value::Text(crate::server_version_string()),
        CurrentDatabase => Value::Text("memdb".into()),
        CurrentSchema => Value::Text("public".into()),
        CurrentUser => Value::Text(cx.user().to_owned()),
        ToJsonb | ToJson => Value::Null,
        JsonbTypeof => Value::Text(
            match json_of(arg(0))? {
                Json::Null => "null",
                Json::Bool(_) => "boolean",
                Json::Number(_) => "number",
                Json::String(_) => "string",
                Json::Array(_) => "array",
                Json::Object(_) => "object",
            }
            .into(),
        ),
        JsonbArrayLength => match json_of(arg(0))? {
            Json::Array(a) => to_i32(a.len()),
            _ => return Err(SqlError::InvalidParameter("cannot get array length of a non-array".into())),
        },
        JsonbExtractPath | JsonbExtractPathText => {
            let path: Vec<Value> = args[1..].to_vec();
            let path = Value::Array(Box::new(Array { element_type: DataType::Text, elements: path }));
            let op = if f == JsonbExtractPath { super::BinOp::JsonPath } else { super::BinOp::JsonGetText };
            if op == super::BinOp::JsonPath {
                json_op(super::BinOp::JsonPath, arg(0), &path)?
            } else {
                json_op(super::BinOp::JsonPathText, arg(0), &path)?
            }
        }
        ArrayLength => match (arg(0), int_arg(arg(1))?) {
            (Value::Array(a), 1) if !a.elements.is_empty() => to_i32(a.elements.len()),
            _ => Value::Null,
        },
        Cardinality => match arg(0) {
            Value::Array(a) => to_i32(a.elements.len()),
            _ => Value::Null,
        },
        ArrayToString => {
            let (Value::Array(a), Value::Text(sep)) = (arg(0), arg(1)) else { return Ok(Value::Null) };
            let null = args.get(2).filter(|v| !v.is_null()).map(text_arg);
            let parts: Vec<String> =
                a.elements.iter().filter_map(|e| if e.is_null() { null.clone() } else { Some(text_arg(e)) }).collect();
            Value::Text(parts.join(sep))
        }
        StringToArray => {
            let (s, sep) = (text_arg(arg(0)), text_arg(arg(1)));
            let null = args.get(2).map(text_arg);
            let parts: Vec<Value> = if s.is_empty() {
                Vec::new()
            } else if sep.is_empty() {
                vec![Value::Text(s)]
            } else {
                s.split(sep.as_str())
                    .map(|p| if null.as_deref() == Some(p) { Value::Null } else { Value::Text(p.to_owned()) })
                    .collect()
            };
            Value::Array(Box::new(Array { element_type: DataType::Text, elements: parts }))
        }
        GenRandomUuid => Value::Uuid(cx.random_uuid()),
        PgTypeof => Value::Text(arg(0).data_type().map_or_else(|| "unknown".into(), |t| t.to_string())),
        HasPrivilege => Value::Bool(!arg(0).is_null()),
        // Visible without qualification: in `public` (the search path),
        // or not a user relation at all (types, functions, catalogs).
        PgTableIsVisible => {
            let oid = i32::try_from(int_arg(arg(0))?).unwrap_or(0);
            let cv = crate::system::CatalogView::load(cx.txn_mut()?)?;
            Value::Bool(cv.name_of(oid).is_none_or(|n| crate::bind::split_qualified(n).0 == "public"))
        }
        PgRelationIsPublishable => Value::Bool(false),
        PgGetUserById => Value::Text(cx.user().to_owned()),
        PgEncodingToChar => Value::Text(if int_arg(arg(0))? == 6 { "UTF8" } else { "" }.into()),
        ObjDescription | PgGetStatisticsobjdefColumns | PgGetTriggerdef => Value::Null,
        PgPartitionAncestors => arg(0).clone(),
        CurrentSchemas => {
            let mut schemas = vec![Value::Text("public".into())];
            if arg(0).as_bool() == Some(true) {
                schemas.insert(0, Value::Text("pg_catalog".into()));
            }
            Value::Array(Box::new(Array { element_type: DataType::Text, elements: schemas }))
        }
        ArrayUpper => match arg(0) {
            Value::Array(a) if int_arg(arg(1))? == 1 && !a.elements.is_empty() => to_i32(a.elements.len()),
            _ => Value::Null,
        },
        FormatType => {
            let oid = i32::try_from(int_arg(arg(0))?).unwrap_or(0);
            let typmod = if arg(1).is_null() { -1 } else { i32::try_from(int_arg(arg(1))?).unwrap_or(-1) };
            crate::system::format_type(oid, typmod).map_or(Value::Text("???".into()), Value::Text)
        }
        PgGetExpr => arg(0).clone(),
        QuoteIdent => Value::Text(crate::system::quote(&text_arg(arg(0)))),
        RegclassName => {
            let oid = i32::try_from(int_arg(arg(0))?).unwrap_or(0);
            let cv = crate::system::CatalogView::load(cx.txn_mut()?)?;
            Value::Text(crate::system::relation_name(&cv, oid))
        }
        ArraySubscript => match (arg(0), arg(1).as_i64()) {
            (Value::Array(a), Some(i)) if i >= 1 => a.elements.get(usize_of(i - 1)).cloned().unwrap_or(Value::Null),
            _ => Value::Null,
        },
        PgGetIndexdef | PgGetConstraintdef | PgGetViewdef => {
            let oid = i32::try_from(int_arg(arg(0))?).unwrap_or(0);
            let cv = crate::system::CatalogView::load(cx.txn_mut()?)?;
            let def = match f {
                PgGetIndexdef => crate::system::index_def(&cv, oid, arg(1).as_i64().unwrap_or(0)),
                PgGetConstraintdef => crate::system::constraint_def(&cv, oid),
                _ => cv.views.iter().find(|(o, _, _)| *o == oid).map(|(_, _, sql)| sql.clone()),
            };
            def.map_or(Value::Null, Value::Text)
        }
        Md5 => super::strfn::md5(arg(0)),
        Sha224 => super::strfn::sha(224, arg(0)),
        Sha256 => super::strfn::sha(256, arg(0)),
        Sha384 => super::strfn::sha(384, arg(0)),
        Sha512 => super::strfn::sha(512, arg(0)),
        Encode => super::strfn::encode(arg(0), &text_arg(arg(1)))?,
        Decode => super::strfn::decode(&text_arg(arg(0)), &text_arg(arg(1)))?,
        Translate => Value::Text(super::strfn::translate(&text_arg(arg(0)), &text_arg(arg(1)), &text_arg(arg(2)))),
        Overlay => Value::Text(super::strfn::overlay(
            &text_arg(arg(0)),
            &text_arg(arg(1)),
            int_arg(arg(2))?,
            args.get(3).map(int_arg).transpose()?,
        )?),
        QuoteLiteral => Value::Text(super::strfn::quote_literal(arg(0))),
        BitLength => match arg(0) {
            Value::Bytea(b) => to_i32(b.len() * 8),
            v => to_i32(text_arg(v).len() * 8),
        },
        RegexpReplace => Value::Text(super::regexfn::replace(
            &text_arg(arg(0)),
            &text_arg(arg(1)),
            &text_arg(arg(2)),
            args.get(3).map(text_arg).as_deref(),
        )?),
        RegexpMatch => {
            super::regexfn::first_match(&text_arg(arg(0)), &text_arg(arg(1)), args.get(2).map(text_arg).as_deref())?
        }
        RegexpSplitToArray => {
            super::regexfn::split_to_array(&text_arg(arg(0)), &text_arg(arg(1)), args.get(2).map(text_arg).as_deref())?
        }
        RegexpCount => super::regexfn::count(
            &text_arg(arg(0)),
            &text_arg(arg(1)),
            args.get(2).map(int_arg).transpose()?.unwrap_or(1),
            args.get(3).map(text_arg).as_deref(),
        )?,
        RegexpLike => super::regexfn::like(&text_arg(arg(0)), &text_arg(arg(1)), args.get(2).map(text_arg).as_deref())?,
        LikeEscape => Value::Text(super::like::with_escape(&text_arg(arg(0)), &text_arg(arg(1)))?),
        SimilarToRegex => Value::Text(super::like::similar_to_regex(&text_arg(arg(0)), &text_arg(arg(1)))?),
        ToChar => {
            let template = text_arg(arg(1));
            match arg(0) {
                Value::Timestamp(t) | Value::TimestampTz(t) => super::datefmt::timestamp_to_char(*t, &template)?,
                Value::Date(d) => super::datefmt::timestamp_to_char(datetime::date_to_timestamp(*d)?, &template)?,
                Value::Interval(iv) => super::datefmt::interval_to_char(iv, &template)?,
                v => match to_decimal(v).or_else(|| to_f64(v).and_then(Decimal::from_f64)) {
                    Some(d) => super::datefmt::number_to_char(d, &template)?,
                    None => {
                        return Err(SqlError::UndefinedFunction(format!(
                            "function to_char({}, text) does not exist",
                            v.data_type().map_or_else(|| "unknown".into(), |t| t.to_string())
                        )));
                    }
                },
            }
        }
        ToDate => super::datefmt::to_date(&text_arg(arg(0)), &text_arg(arg(1)))?,
        ToTimestamp if args.len() == 2 => super::datefmt::to_timestamp(&text_arg(arg(0)), &text_arg(arg(1)))?,
        ToTimestamp => super::datefmt::to_timestamp_epoch(to_f64(arg(0)).unwrap_or(0.0))?,
        ToNumber => super::datefmt::to_number(&text_arg(arg(0)), &text_arg(arg(1)))?,
        MakeDate => super::datefmt::make_date(int_arg(arg(0))?, int_arg(arg(1))?, int_arg(arg(2))?)?,
        MakeTimestamp => super::datefmt::make_timestamp(
            [int_arg(arg(0))?, int_arg(arg(1))?, int_arg(arg(2))?, int_arg(arg(3))?, int_arg(arg(4))?],
            to_f64(arg(5)).unwrap_or(0.0),
        )?,
        IsFinite => Value::Bool(match arg(0) {
            Value::Date(d) => datetime::date_is_finite(*d),
            Value::Timestamp(t) | Value::TimestampTz(t) => datetime::timestamp_is_finite(*t),
            _ => true,
        }),
        Sin | Cos | Tan | Cot | Asin | Acos | Atan | Atan2 | Degrees | Radians => trig(f, args)?,
        Gcd | Lcm => gcd_lcm(f, arg(0), arg(1))?,
        Div => {
            let (Some(a), Some(b)) = (to_decimal(arg(0)), to_decimal(arg(1))) else { return Ok(Value::Null) };
            if b.is_zero() {
                return Err(data_exception("22012", "division by zero"));
            }
            Value::Numeric(
                a.checked_div(b).ok_or_else(|| data_exception("22003", "value overflows numeric format"))?.trunc(),
            )
        }
        Factorial => {
            let n = int_arg(arg(0))?;
            if n < 0 {
                return Err(data_exception("2201F", "factorial of a negative number is undefined"));
            }
            let mut acc = Decimal::ONE;
            for i in 2..=n {
                acc = acc
                    .checked_mul(Decimal::from(i))
                    .ok_or_else(|| data_exception("22003", "value overflows numeric format"))?;
            }
            Value::Numeric(acc)
        }
        WidthBucket => {
            let (x, lo, hi) =
                (to_f64(arg(0)).unwrap_or(0.0), to_f64(arg(1)).unwrap_or(0.0), to_f64(arg(2)).unwrap_or(0.0));
            let n = int_arg(arg(3))?;
            if n <= 0 {
                return Err(data_exception("2201G", "count must be greater than zero"));
            }
            if lo == hi || !lo.is_finite() || !hi.is_finite() {
                return Err(data_exception("2201G", "lower bound cannot equal upper bound"));
            }
            let bucket = if lo < hi {
                if x < lo {
                    0
                } else if x >= hi {
                    n + 1
                } else {
                    ((x - lo) / (hi - lo) * n as f64) as i64 + 1
                }
            } else if x > lo {
                0
            } else if x <= hi {
                n + 1
            } else {
                ((lo - x) / (lo - hi) * n as f64) as i64 + 1
            };
            Value::Int4(i32::try_from(bucket).map_err(|_| data_exception("22003", "integer out of range"))?)
        }
        Lastval => Value::Int8(cx.lastval()?),
        ArrayLower => match arg(0) {
            Value::Array(a) if int_arg(arg(1))? == 1 && !a.elements.is_empty() => Value::Int4(1),
            _ => Value::Null,
        },
        JsonbSet | JsonbInsert => {
            let flag = args.get(3).and_then(Value::as_bool);
            let (doc, new) = (json_of(arg(0))?, json_of(arg(2))?);
            if f == JsonbSet {
                super::jsonfn::set(doc, arg(1), new, flag.unwrap_or(true))?
            } else {
                super::jsonfn::insert(doc, arg(1), new, flag.unwrap_or(false))?
            }
        }
        JsonbStripNulls => Value::jsonb_from(super::jsonfn::strip_nulls(json_of(arg(0))?)),
        JsonStripNulls => Value::Json(super::jsonfn::strip_nulls(json_of(arg(0))?).to_string()),
        JsonbPretty => Value::Text(super::jsonfn::pretty(&json_of(arg(0))?)),
        Coalesce | NullIf | Greatest | Least | Concat | ConcatWs | JsonbBuildObject | JsonBuildObject
        | JsonbBuildArray | JsonBuildArray | ArrayPosition | ArrayAppend | NumNulls | NumNonnulls | Format
        | QuoteNullable | ArrayRemove | ArrayReplace | ArrayCat | ArrayPrepend | CurrentSetting | SetConfig => {
            Value::Null
        }
    })
}

fn round(f: Func, v: &Value, digits: Option<&Value>) -> Result<Value> {
    let digits = digits.map(int_arg).transpose()?.unwrap_or(0);
    if let Some(x) = match v {
        Value::Float4(x) => Some(f64::from(*x)),
        Value::Float8(x) => Some(*x),
        _ => None,
    } {
        return Ok(Value::Float8(match f {
            Ceil => x.ceil(),
            Floor => x.floor(),
            Trunc => {
                let m = 10f64.powi(i32::try_from(digits).unwrap_or(0));
                (x * m).trunc() / m
            }
            _ => {
                let m = 10f64.powi(i32::try_from(digits).unwrap_or(0));
                // PostgreSQL rounds float halves to even (rint).
                (x * m).round_ties_even() / m
            }
        }));
    }
    use Func::*;
    let d = to_decimal(v).ok_or_else(|| SqlError::DatatypeMismatch(format!("cannot round {v}")))?;
    let dp = u32::try_from(digits.clamp(0, 28)).unwrap_or(0);
    let r = match f {
        Ceil => d.ceil(),
        Floor => d.floor(),
        // PostgreSQL shows the requested scale: round(1::numeric, 2) is 1.00.
        Trunc if digits >= 0 => {
            let mut r = d.trunc_with_scale(dp);
            r.rescale(dp);
            r
        }
        Round if digits >= 0 => {
            let mut r = d.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            r.rescale(dp);
            r
        }
        _ => {
            let m = Decimal::from_i128_with_scale(10i128.pow(u32::try_from((-digits).min(27)).unwrap_or(0)), 0);
            let q = d / m;
            let q = if f == Trunc {
                q.trunc()
            } else {
                q.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
            };
            q.checked_mul(m).ok_or_else(|| data_exception("22003", "value overflows numeric format"))?
        }
    };
    Ok(Value::Numeric(r))
}

/// `pg_sleep`: waits in short steps, so a cancel or `statement_timeout`
/// ends it, through the engine's blocking hook, so a sleeping session does
/// not hold up the others sharing its thread.
fn sleep(seconds: f64, cx: &mut ExecCtx<'_>) -> Result<()> {
    const STEP: std::time::Duration = std::time::Duration::from_millis(10);
    let total = std::time::Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(std::time::Duration::MAX);
    let start = std::time::Instant::now();
    let mut outcome = Ok(());
    let cx = &*cx;
    cx.txn.run_blocking(&mut || {
        loop {
            if let Err(e) = cx.check_interrupt() {
                outcome = Err(e);
                return;
            }
            let left = total.saturating_sub(start.elapsed());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(STEP));
        }
    });
    outcome
}

fn math(f: Func, args: &[Value]) -> Result<Value> {
    use Func::*;
    let numeric = matches!(args.first(), Some(Value::Numeric(_)));
    let x = args.first().and_then(to_f64).unwrap_or(0.0);
    let r = match f {
        Sqrt if x < 0.0 => return Err(data_exception("2201F", "cannot take square root of a negative number")),
        Sqrt => x.sqrt(),
        Cbrt => x.cbrt(),
        Exp => x.exp(),
        Ln | Log if x == 0.0 => return Err(data_exception("2201E", "cannot take logarithm of zero")),
        Ln | Log if x < 0.0 => return Err(data_exception("2201E", "cannot take logarithm of a negative number")),
        Ln => x.ln(),
        Log if args.len() == 2 => {
            let y = args.get(1).and_then(to_f64).unwrap_or(0.0);
            y.ln() / x.ln()
        }
        Log => x.log10(),
        Power => {
            let y = args.get(1).and_then(to_f64).unwrap_or(0.0);
            return arith::arith(super::BinOp::Pow, &args[0], &args[1]).map(|v| match (numeric, v) {
                (false, Value::Numeric(d)) => Value::Float8(d.to_f64().unwrap_or(x.powf(y))),
                (_, v) => v,
            });
        }
        _ => return Ok(Value::Null),
    };
    if r.is_infinite() {
        return Err(data_exception("22003", "value out of range: overflow"));
    }
    Ok(if numeric && f != Cbrt {
        Value::Numeric(
            Decimal::from_f64(r)
                .ok_or_else(|| data_exception("22003", "value overflows numeric format"))?
                .round_dp(16)
                .normalize(),
        )
    } else {
        Value::Float8(r)
    })
}

/// The trigonometric functions (radians) and the angle conversions.
fn trig(f: Func, args: &[Value]) -> Result<Value> {
    use Func::*;
    let x = args.first().and_then(to_f64).unwrap_or(0.0);
    let out_of_range = || data_exception("22003", "input is out of range");
    let r = match f {
        Sin | Cos | Tan | Cot if x.is_infinite() => return Err(out_of_range()),
        Sin => x.sin(),
        Cos => x.cos(),
        Tan => x.tan(),
        Cot => 1.0 / x.tan(),
        Asin | Acos if !(-1.0..=1.0).contains(&x) => return Err(out_of_range()),
        Asin => x.asin(),
        Acos => x.acos(),
        Atan => x.atan(),
        Atan2 => x.atan2(args.get(1).and_then(to_f64).unwrap_or(0.0)),
        Degrees => x.to_degrees(),
        _ => x.to_radians(),
    };
    Ok(Value::Float8(r))
}

/// `gcd` / `lcm` of two integers, with PostgreSQL's overflow errors.
fn gcd_lcm(f: Func, a: &Value, b: &Value) -> Result<Value> {
    let (x, y) = (int_arg(a)?, int_arg(b)?);
    let wide = matches!(a, Value::Int8(_)) || matches!(b, Value::Int8(_));
    let overflow = || data_exception("22003", if wide { "bigint out of range" } else { "integer out of range" });
    let mut g = (i128::from(x).abs(), i128::from(y).abs());
    while g.1 != 0 {
        g = (g.1, g.0 % g.1);
    }
    let r = if f == Func::Gcd {
        g.0
    } else if x == 0 || y == 0 {
        0
    } else {
        (i128::from(x) / g.0 * i128::from(y)).abs()
    };
    Ok(if wide {
        Value::Int8(i64::try_from(r).map_err(|_| overflow())?)
    } else {
        Value::Int4(i32::try_from(r).map_err(|_| overflow())?)
    })
}

/// `date_part(field, value)` / `EXTRACT(field FROM value)`.
pub(crate) fn date_part(field: &str, v: &Value) -> Result<Value> {
    let field = field.to_ascii_lowercase();
    let (parts, micros_of_day) = match v {
        Value::Date(d) => (datetime::timestamp_to_parts(datetime::date_to_timestamp(*d)?), None),
        Value::Timestamp(t) | Value::TimestampTz(t) => (datetime::timestamp_to_parts(*t), None),
        Value::Time(t) => (None, Some(*t)),
        Value::Interval(i) => {
            let total = i.micros;
            return Ok(Value::Float8(match field.as_str() {
                "epoch" => (f64::from(i.months) * 30.0 * 86400.0) + f64::from(i.days) * 86400.0 + total as f64 / 1e6,
                "year" | "years" => f64::from(i.months / 12),
                "month" | "months" => f64::from(i.months % 12),
                "day" | "days" => f64::from(i.days),
                "hour" | "hours" => (total / 3_600_000_000) as f64,
                "minute" | "minutes" => ((total / 60_000_000) % 60) as f64,
                "second" | "seconds" => (total % 60_000_000) as f64 / 1e6,
                _ => {
                    return Err(SqlError::InvalidParameter(format!(
                        "unit \"{field}\" not supported for type interval"
                    )));
                }
            }));
        }
        _ => return Err(SqlError::UndefinedFunction(format!("function date_part(unknown, {v}) does not exist"))),
    };
    if let Some(t) = micros_of_day {
        return Ok(Value::Float8(match field.as_str() {
            "hour" | "hours" => (t / 3_600_000_000) as f64,
            "minute" | "minutes" => ((t / 60_000_000) % 60) as f64,
            "second" | "seconds" => (t % 60_000_000) as f64 / 1e6,
            "epoch" => t as f64 / 1e6,
            _ => return Err(SqlError::InvalidParameter(format!("unit \"{field}\" not supported for type time"))),
        }));
    }
    let p = parts.ok_or_else(|| data_exception("22008", "timestamp out of range"))?;
    let ts = match v {
        Value::Date(d) => datetime::date_to_timestamp(*d)?,
        Value::Timestamp(t) | Value::TimestampTz(t) => *t,
        _ => 0,
    };
    let jd = datetime::date2j(p.year, p.month, p.day);
    Ok(Value::Float8(match field.as_str() {
        "year" | "years" => f64::from(p.year),
        "month" | "months" => f64::from(p.month),
        "day" | "days" => f64::from(p.day),
        "hour" | "hours" => f64::from(p.hour),
        "minute" | "minutes" => f64::from(p.minute),
        "second" | "seconds" => f64::from(p.second) + f64::from(p.micros) / 1e6,
        "millisecond" | "milliseconds" => f64::from(p.second) * 1e3 + f64::from(p.micros) / 1e3,
        "microsecond" | "microseconds" => f64::from(p.second) * 1e6 + f64::from(p.micros),
        "dow" => f64::from(datetime::j2day(jd)),
        "isodow" => f64::from(match datetime::j2day(jd) {
            0 => 7,
            d => d,
        }),
        "doy" => (jd - datetime::date2j(p.year, 1, 1) + 1) as f64,
        "quarter" => f64::from((p.month - 1) / 3 + 1),
        "decade" => f64::from(p.year.div_euclid(10)),
        "century" => f64::from(if p.year > 0 { (p.year + 99) / 100 } else { -((99 - (p.year - 1)) / 100) }),
        "epoch" => ts as f64 / 1e6 + 946_684_800.0,
        "week" => {
            let date = datetime::date_to_chrono(datetime::timestamp_to_date(ts));
            f64::from(date.map_or(0, |d| chrono::Datelike::iso_week(&d).week()))
        }
        _ => return Err(SqlError::InvalidParameter(format!("unit \"{field}\" not recognized for type timestamp"))),
    }))
}

fn date_trunc(field: &str, v: &Value) -> Result<Value> {
    let field = field.to_ascii_lowercase();
    let ts = match v {
        Value::Timestamp(t) | Value::TimestampTz(t) => *t,
        Value::Date(d) => datetime::date_to_timestamp(*d)?,
        other => {
            return Err(SqlError::UndefinedFunction(format!("function date_trunc(unknown, {other}) does not exist")));
        }
    };
    let mut p = datetime::timestamp_to_parts(ts).ok_or_else(|| data_exception("22008", "timestamp out of range"))?;
    let level = [
        "microseconds",
        "milliseconds",
        "second",
        "minute",
        "hour",
        "day",
        "week",
        "month",
        "quarter",
        "year",
        "decade",
        "century",
        "millennium",
    ]
    .iter()
    .position(|f| *f == field.trim_end_matches('s') || *f == field)
    .ok_or_else(|| SqlError::InvalidParameter(format!("unit \"{field}\" not recognized for type timestamp")))?;
    if level >= 1 {
        p.micros = if level == 1 { p.micros / 1000 * 1000 } else { 0 };
    }
    if level >= 3 {
        p.second = 0;
    }
    if level >= 4 {
        p.minute = 0;
    }
    if level >= 5 {
        p.hour = 0;
    }
    if level == 6 {
        let jd = datetime::date2j(p.year, p.month, p.day);
        let dow = i64::from((datetime::j2day(jd) + 6) % 7);
        let (y, m, d) = datetime::j2date(jd - dow);
        p.year = y;
        p.month = m;
        p.day = d;
    }
    if level >= 7 {
        p.day = 1;
    }
    if level >= 8 {
        p.month = if level == 8 { (p.month - 1) / 3 * 3 + 1 } else { 1 };
    }
    if level >= 10 {
        let span = [10, 100, 1000][level - 10];
        p.year = p.year.div_euclid(span) * span + i32::from(level > 10);
    }
    let t = datetime::timestamp_from_parts(&p)?;
    Ok(match v {
        Value::TimestampTz(_) => Value::TimestampTz(t),
        _ => Value::Timestamp(t),
    })
}

/// A value as JSON (`to_jsonb`).
pub(crate) fn to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int2(x) => Json::from(*x),
        Value::Int4(x) => Json::from(*x),
        Value::Int8(x) => Json::from(*x),
        Value::Float4(x) => serde_json::Number::from_f64(f64::from(*x)).map_or(Json::Null, Json::Number),
        Value::Float8(x) => serde_json::Number::from_f64(*x).map_or(Json::Null, Json::Number),
        Value::Numeric(d) => d
            .to_i64()
            .filter(|_| d.fract().is_zero())
            .map(Json::from)
            .or_else(|| d.to_f64().and_then(serde_json::Number::from_f64).map(Json::Number))
            .unwrap_or(Json::Null),
        Value::Json(s) => serde_json::from_str(s).unwrap_or(Json::Null),
        Value::Jsonb(j) => (**j).clone(),
        Value::Array(a) => Json::Array(a.elements.iter().map(to_json).collect()),
        other => Json::String(other.to_string()),
    }
}

/// A value's text inside a json (not jsonb) value that `json_build_object`
/// and `json_build_array` make: json as it was written, anything else as
/// `to_json` writes it.
pub(crate) fn json_text(v: &Value) -> String {
    match v {
        Value::Json(s) => s.clone(),
        // jsonb as its text output (`{"x": 1}`).
        Value::Jsonb(_) => v.to_string(),
        other => to_json(other).to_string(),
    }
}

fn json_value(j: Json, binary: bool) -> Value {
    if binary { Value::jsonb_from(j) } else { Value::Json(j.to_string()) }
}

/// The JSON inside a json/jsonb value.
pub(crate) fn json_of(v: &Value) -> Result<Json> {
    match v {
        Value::Jsonb(j) => Ok((**j).clone()),
        Value::Json(s) | Value::Text(s) => serde_json::from_str(s)
            .map_err(|e| data_exception("22P02", format!("invalid input syntax for type json: {e}"))),
        other => Ok(to_json(other)),
    }
}

/// `jsonb || jsonb`
pub(crate) fn jsonb_concat(a: &Json, b: &Json) -> Value {
    let out = match (a, b) {
        (Json::Object(x), Json::Object(y)) => {
            let mut m = x.clone();
            for (k, v) in y {
                m.insert(k.clone(), v.clone());
            }
            Json::Object(m)
        }
        (Json::Array(x), Json::Array(y)) => Json::Array(x.iter().chain(y).cloned().collect()),
        (Json::Array(x), other) => Json::Array(x.iter().cloned().chain(std::iter::once(other.clone())).collect()),
        (other, Json::Array(y)) => Json::Array(std::iter::once(other.clone()).chain(y.iter().cloned()).collect()),
        (x, y) => Json::Array(vec![x.clone(), y.clone()]),
    };
    Value::jsonb_from(out)
}

/// The JSON operators `-> ->> #> #>> @> <@ ?`.
pub(crate) fn json_op(op: super::BinOp, a: &Value, b: &Value) -> Result<Value> {
    use super::BinOp;
    if a.is_null() || b.is_null() {
        return Ok(Value::Null);
    }
    let binary = matches!(a, Value::Jsonb(_));
    let doc = json_of(a)?;
    let step = |j: &Json, key: &Value| -> Option<Json> {
        match (j, key) {
            (Json::Object(m), k) => m.get(&text_arg(k)).cloned(),
            (Json::Array(items), k) => {
                let i = match k {
                    Value::Text(s) => s.parse::<i64>().ok()?,
                    other => other.as_i64()?,
                };
                let idx = if i < 0 { items.len().checked_sub(usize_of(-i))? } else { usize_of(i) };
                items.get(idx).cloned()
            }
            _ => None,
        }
    };
    let as_text = |j: Json| match j {
        Json::Null => Value::Null,
        Json::String(s) => Value::Text(s),
        other => Value::Text(if binary { Value::jsonb_from(other).to_string() } else { other.to_string() }),
    };
    Ok(match op {
        BinOp::JsonGet => step(&doc, b).map_or(Value::Null, |j| json_value(j, binary)),
        BinOp::JsonGetText => step(&doc, b).map_or(Value::Null, as_text),
        BinOp::JsonPath | BinOp::JsonPathText => {
            let Value::Array(path) = b else {
                return Err(SqlError::DatatypeMismatch("path must be a text array".into()));
            };
            let mut cur = Some(doc);
            for key in &path.elements {
                cur = cur.and_then(|j| step(&j, key));
            }
            match (cur, op) {
                (None, _) => Value::Null,
                (Some(j), BinOp::JsonPath) => json_value(j, binary),
                (Some(j), _) => as_text(j),
            }
        }
        BinOp::Contains => Value::Bool(json_contains(&doc, &json_of(b)?)),
        BinOp::ContainedBy => Value::Bool(json_contains(&json_of(b)?, &doc)),
        BinOp::JsonHasKey => {
            let key = text_arg(b);
            Value::Bool(match &doc {
                Json::Object(m) => m.contains_key(&key),
                Json::Array(items) => items.iter().any(|i| i.as_str() == Some(key.as_str())),
                Json::String(s) => *s == key,
                _ => false,
            })
        }
        _ => return Err(SqlError::UndefinedFunction(format!("operator does not exist: json {}", op.symbol()))),
    })
}

/// jsonb containment (`@>`), as PostgreSQL defines it: only at the top
/// level does an array contain a bare scalar (`'[1,2]' @> '1'`).
fn json_contains(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Array(x), s) if is_json_scalar(s) => x.iter().any(|xv| json_scalar_eq(xv, s)),
        _ => json_contains_nested(a, b),
    }
}

/// Containment below the top level: objects by key, arrays element by
/// element (a scalar matches a scalar element, not one inside a nested
/// array), scalars by value.
fn json_contains_nested(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => {
            y.iter().all(|(k, v)| x.get(k).is_some_and(|xv| json_contains_nested(xv, v)))
        }
        (Json::Array(x), Json::Array(y)) => y.iter().all(|v| {
            if is_json_scalar(v) {
                x.iter().any(|xv| json_scalar_eq(xv, v))
            } else {
                x.iter().any(|xv| json_contains_nested(xv, v))
            }
        }),
        (x, y) => json_scalar_eq(x, y),
    }
}

fn is_json_scalar(j: &Json) -> bool {
    !matches!(j, Json::Array(_) | Json::Object(_))
}

/// Whether two scalars are equal (numbers by value: `1.0` is `1`).
fn json_scalar_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(_) | Json::Object(_), _) | (_, Json::Array(_) | Json::Object(_)) => false,
        (x, y) => x == y,
    }
}
