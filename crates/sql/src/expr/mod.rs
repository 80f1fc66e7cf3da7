//! Bound scalar expressions: what the binder produces from SQL expressions
//! and the executor evaluates row by row.
//!
//! Names are resolved (a column is its position in the operator's input
//! row, [`Expr::Column`], or in an enclosing query's row, [`Expr::Outer`]),
//! functions are looked up (`Func`) and implicit casts are explicit, so
//! evaluation is a walk over the tree with no catalog access. Semantics are
//! PostgreSQL's: three-valued logic, NULL propagation, errors on overflow
//! and division by zero.

pub(crate) mod arith;
mod arrayfn;
mod datefmt;
mod eval;
pub(crate) mod func;
mod jsonfn;
mod like;
pub(crate) mod regexfn;
mod strfn;

use std::sync::Arc;

use memdb_engine::{DataType, Value};

use crate::plan::Plan;

pub(crate) use arith::{arith, compare_values};
pub(crate) use func::Func;

/// A bound scalar expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A constant.
    Literal(Value),
    /// A column of the input row, by position.
    Column(usize),
    /// A column of an enclosing query's current row: `depth` 1 is the
    /// immediately enclosing query (correlated subqueries).
    Outer {
        /// How many query levels out.
        depth: usize,
        /// The column's position in that level's row.
        index: usize,
    },
    /// A statement parameter (`$1` is 0).
    Param(usize),
    /// `NOT e`
    Not(Box<Expr>),
    /// `a AND b`
    And(Box<Expr>, Box<Expr>),
    /// `a OR b`
    Or(Box<Expr>, Box<Expr>),
    /// A binary operator.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `-e`
    Neg(Box<Expr>),
    /// `e IS NULL`
    IsNull(Box<Expr>),
    /// `e IS TRUE` (`true`) or `e IS FALSE` (`false`): never NULL.
    IsBool(Box<Expr>, bool),
    /// `a IS DISTINCT FROM b`
    IsDistinct(Box<Expr>, Box<Expr>),
    /// `e IN (list)`
    InList(Box<Expr>, Vec<Expr>),
    /// `e LIKE pattern` / `ILIKE`
    Like {
        /// The string.
        expr: Box<Expr>,
        /// The pattern.
        pattern: Box<Expr>,
        /// `ILIKE`
        case_insensitive: bool,
    },
    /// `CASE [operand] WHEN … THEN … ELSE … END`
    Case {
        /// `CASE x WHEN v …` compares `x = v`.
        operand: Option<Box<Expr>>,
        /// Conditions (or values) and results.
        whens: Vec<(Expr, Expr)>,
        /// The `ELSE` result (NULL without one).
        otherwise: Option<Box<Expr>>,
    },
    /// `CAST(e AS type)`
    Cast(Box<Expr>, DataType),
    /// A built-in scalar function.
    Call(Func, Vec<Expr>),
    /// A subquery used as an expression.
    Subquery(Arc<Subquery>),
    /// `ARRAY[…]` with its element type.
    Array(Vec<Expr>, DataType),
    /// A placeholder for the `n`th aggregate of a query, replaced once the
    /// aggregation is planned (never evaluated).
    Aggregate(usize),
    /// A placeholder for the `n`th window function of a query, replaced
    /// once the window operator is planned (never evaluated).
    Window(usize),
    /// A placeholder for the `n`th set-returning function of a select
    /// list, replaced by a column of the ProjectSet node once it is planned
    /// (never evaluated).
    SetFunction(usize),
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// `^`
    Pow,
    /// `||`
    Concat,
    /// `=`
    Eq,
    /// `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `&`
    BitAnd,
    /// `|`
    BitOr,
    /// `#`
    BitXor,
    /// `<<`
    ShiftLeft,
    /// `>>`
    ShiftRight,
    /// `->`: JSON field or element
    JsonGet,
    /// `->>`: JSON field or element as text
    JsonGetText,
    /// `#>`: JSON at a path
    JsonPath,
    /// `#>>`: JSON at a path as text
    JsonPathText,
    /// `@>`: contains
    Contains,
    /// `<@`: is contained by
    ContainedBy,
    /// `?`: JSON has key
    JsonHasKey,
    /// `~` regular expression match (and `~*`, `!~`, `!~*` via flags)
    RegexMatch {
        /// `~*`
        case_insensitive: bool,
        /// `!~`
        negated: bool,
    },
}

impl BinOp {
    /// Whether the operator is a comparison returning boolean.
    pub fn is_comparison(self) -> bool {
        matches!(self, BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq)
    }

    /// Whether the operator is strict on scalars: a NULL operand makes the
    /// result NULL whatever the other one is (arithmetic, comparisons,
    /// bit operations; not `||`, which appends to arrays).
    pub fn is_strict(self) -> bool {
        matches!(
            self,
            BinOp::Add
                | BinOp::Sub
                | BinOp::Mul
                | BinOp::Div
                | BinOp::Rem
                | BinOp::Pow
                | BinOp::BitAnd
                | BinOp::BitOr
                | BinOp::BitXor
                | BinOp::ShiftLeft
                | BinOp::ShiftRight
        ) || self.is_comparison()
    }

    /// The comparison with its operands swapped (`a < b` is `b > a`).
    pub fn commuted(self) -> BinOp {
        match self {
            BinOp::Lt => BinOp::Gt,
            BinOp::LtEq => BinOp::GtEq,
            BinOp::Gt => BinOp::Lt,
            BinOp::GtEq => BinOp::LtEq,
            other => other,
        }
    }

    /// The operator's SQL spelling.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Pow => "^",
            BinOp::Concat => "||",
            BinOp::Eq => "=",
            BinOp::NotEq => "<>",
            BinOp::Lt => "<",
            BinOp::LtEq => "<=",
            BinOp::Gt => ">",
            BinOp::GtEq => ">=",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "#",
            BinOp::ShiftLeft => "<<",
            BinOp::ShiftRight => ">>",
            BinOp::JsonGet => "->",
            BinOp::JsonGetText => "->>",
            BinOp::JsonPath => "#>",
            BinOp::JsonPathText => "#>>",
            BinOp::Contains => "@>",
            BinOp::ContainedBy => "<@",
            BinOp::JsonHasKey => "?",
            BinOp::RegexMatch { case_insensitive: false, negated: false } => "~",
            BinOp::RegexMatch { case_insensitive: true, negated: false } => "~*",
            BinOp::RegexMatch { case_insensitive: false, negated: true } => "!~",
            BinOp::RegexMatch { case_insensitive: true, negated: true } => "!~*",
        }
    }
}

/// A subquery inside an expression.
#[derive(Debug, PartialEq)]
pub struct Subquery {
    /// Unique within the statement: the key of cached uncorrelated results.
    pub id: usize,
    /// The subquery's plan.
    pub plan: Plan,
    /// How its rows become a value.
    pub kind: SubqueryKind,
    /// Whether it refers to an enclosing query's row (then it runs once per
    /// row; otherwise once per statement).
    pub correlated: bool,
}

/// How a subquery's rows become a value.
#[derive(Clone, Debug, PartialEq)]
pub enum SubqueryKind {
    /// `(SELECT x …)`: the single value, NULL without rows, an error with more.
    Scalar,
    /// `EXISTS (…)`
    Exists,
    /// `e IN (SELECT …)`
    In(Box<Expr>),
    /// `e op ANY (…)` (`all` false) or `e op ALL (…)` (`all` true).
    Quantified {
        /// The left operand.
        expr: Box<Expr>,
        /// The comparison.
        op: BinOp,
        /// ALL rather than ANY.
        all: bool,
    },
    /// `ARRAY(SELECT …)`
    Array(DataType),
}

impl Expr {
    /// A boxed literal.
    pub fn literal(v: Value) -> Expr {
        Expr::Literal(v)
    }

    /// Whether the expression is a NULL constant as PostgreSQL's planner
    /// folds one: `NULL`, and casts or negations of it.
    pub fn is_null_constant(&self) -> bool {
        match self {
            Expr::Literal(v) => v.is_null(),
            Expr::Cast(e, _) | Expr::Neg(e) => e.is_null_constant(),
            _ => false,
        }
    }

    /// Whether the expression is a constant that needs no row.
    pub fn is_constant(&self) -> bool {
        let mut constant = true;
        self.walk(&mut |e| {
            if matches!(
                e,
                Expr::Column(_)
                    | Expr::Outer { .. }
                    | Expr::Param(_)
                    | Expr::Subquery(_)
                    | Expr::Aggregate(_)
                    | Expr::Window(_)
                    | Expr::SetFunction(_)
            ) || matches!(e, Expr::Call(f, _) if f.is_volatile())
            {
                constant = false;
            }
        });
        constant
    }

    /// Whether the expression reads nothing but outer rows, parameters and
    /// constants: fixed for one execution of its query level.
    pub fn is_fixed(&self) -> bool {
        let mut fixed = true;
        self.walk(&mut |e| {
            if matches!(e, Expr::Column(_) | Expr::Aggregate(_) | Expr::Window(_) | Expr::SetFunction(_))
                || matches!(e, Expr::Subquery(s) if s.correlated)
                || matches!(e, Expr::Call(f, _) if f.is_volatile())
            {
                fixed = false;
            }
        });
        fixed
    }

    /// Whether the expression reads the query around it: an outer
    /// reference, or a subquery (which may hold one).
    pub(crate) fn references_outer(&self) -> bool {
        let mut found = false;
        self.walk(&mut |x| found |= matches!(x, Expr::Outer { .. } | Expr::Subquery(_)));
        found
    }

    /// A lateral join's inner-side term rewritten over the joined row: the
    /// inner row's columns come after the `left_width` columns of the outer
    /// row, and references one level up (to the outer row) become its
    /// columns.
    pub(crate) fn over_joined(self, left_width: usize) -> Expr {
        let rewritten = self.clone().transform(&mut |x| {
            Ok(match x {
                Expr::Column(j) => Expr::Column(left_width + j),
                Expr::Outer { index, .. } => Expr::Column(index),
                other => other,
            })
        });
        // The rewrite itself never fails.
        rewritten.unwrap_or(self)
    }

    /// Calls `f` on this expression and every sub-expression (not into subquery plans).
    pub fn walk(&self, f: &mut impl FnMut(&Expr)) {
        stacker::maybe_grow(128 * 1024, 2 * 1024 * 1024, || self.walk_inner(f));
    }

    fn walk_inner(&self, f: &mut impl FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Literal(_)
            | Expr::Column(_)
            | Expr::Outer { .. }
            | Expr::Param(_)
            | Expr::Aggregate(_)
            | Expr::Window(_)
            | Expr::SetFunction(_) => {}
            Expr::Not(e) | Expr::Neg(e) | Expr::IsNull(e) | Expr::IsBool(e, _) | Expr::Cast(e, _) => e.walk(f),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Binary(_, a, b) | Expr::IsDistinct(a, b) => {
                a.walk(f);
                b.walk(f);
            }
            Expr::Like { expr, pattern, .. } => {
                expr.walk(f);
                pattern.walk(f);
            }
            Expr::InList(e, list) => {
                e.walk(f);
                list.iter().for_each(|x| x.walk(f));
            }
            Expr::Case { operand, whens, otherwise } => {
                if let Some(o) = operand {
                    o.walk(f);
                }
                for (w, t) in whens {
                    w.walk(f);
                    t.walk(f);
                }
                if let Some(o) = otherwise {
                    o.walk(f);
                }
            }
            Expr::Call(_, args) | Expr::Array(args, _) => args.iter().for_each(|x| x.walk(f)),
            Expr::Subquery(s) => match &s.kind {
                SubqueryKind::In(e) | SubqueryKind::Quantified { expr: e, .. } => e.walk(f),
                SubqueryKind::Scalar | SubqueryKind::Exists | SubqueryKind::Array(_) => {}
            },
        }
    }

    /// Rewrites the expression bottom-up: `f` sees each node after its children.
    pub fn transform(self, f: &mut impl FnMut(Expr) -> crate::Result<Expr>) -> crate::Result<Expr> {
        stacker::maybe_grow(128 * 1024, 2 * 1024 * 1024, || self.transform_inner(f))
    }

    fn transform_inner(self, f: &mut impl FnMut(Expr) -> crate::Result<Expr>) -> crate::Result<Expr> {
        let bx = |e: Box<Expr>, f: &mut dyn FnMut(Expr) -> crate::Result<Expr>| -> crate::Result<Box<Expr>> {
            Ok(Box::new(transform_dyn(*e, f)?))
        };
        let e = match self {
            Expr::Not(e) => Expr::Not(bx(e, f)?),
            Expr::Neg(e) => Expr::Neg(bx(e, f)?),
            Expr::IsNull(e) => Expr::IsNull(bx(e, f)?),
            Expr::IsBool(e, b) => Expr::IsBool(bx(e, f)?, b),
            Expr::Cast(e, t) => Expr::Cast(bx(e, f)?, t),
            Expr::And(a, b) => Expr::And(bx(a, f)?, bx(b, f)?),
            Expr::Or(a, b) => Expr::Or(bx(a, f)?, bx(b, f)?),
            Expr::Binary(op, a, b) => Expr::Binary(op, bx(a, f)?, bx(b, f)?),
            Expr::IsDistinct(a, b) => Expr::IsDistinct(bx(a, f)?, bx(b, f)?),
            Expr::Like { expr, pattern, case_insensitive } => {
                Expr::Like { expr: bx(expr, f)?, pattern: bx(pattern, f)?, case_insensitive }
            }
            Expr::InList(e, list) => {
                Expr::InList(bx(e, f)?, list.into_iter().map(|x| transform_dyn(x, f)).collect::<crate::Result<_>>()?)
            }
            Expr::Case { operand, whens, otherwise } => Expr::Case {
                operand: operand.map(|o| bx(o, f)).transpose()?,
                whens: whens
                    .into_iter()
                    .map(|(w, t)| Ok((transform_dyn(w, f)?, transform_dyn(t, f)?)))
                    .collect::<crate::Result<_>>()?,
                otherwise: otherwise.map(|o| bx(o, f)).transpose()?,
            },
            Expr::Call(func, args) => {
                Expr::Call(func, args.into_iter().map(|x| transform_dyn(x, f)).collect::<crate::Result<_>>()?)
            }
            Expr::Array(args, t) => {
                Expr::Array(args.into_iter().map(|x| transform_dyn(x, f)).collect::<crate::Result<_>>()?, t)
            }
            Expr::Subquery(s) => {
                let kind = match &s.kind {
                    SubqueryKind::In(e) => Some(SubqueryKind::In(Box::new(transform_dyn((**e).clone(), f)?))),
                    SubqueryKind::Quantified { expr, op, all } => Some(SubqueryKind::Quantified {
                        expr: Box::new(transform_dyn((**expr).clone(), f)?),
                        op: *op,
                        all: *all,
                    }),
                    _ => None,
                };
                match (kind, Arc::try_unwrap(s)) {
                    (Some(kind), Ok(mut sub)) => {
                        sub.kind = kind;
                        Expr::Subquery(Arc::new(sub))
                    }
                    (Some(kind), Err(shared)) => Expr::Subquery(Arc::new(Subquery {
                        id: shared.id,
                        plan: shared.plan.clone(),
                        kind,
                        correlated: shared.correlated,
                    })),
                    (None, Ok(sub)) => Expr::Subquery(Arc::new(sub)),
                    (None, Err(shared)) => Expr::Subquery(shared),
                }
            }
            leaf => leaf,
        };
        f(e)
    }

    /// Splits a conjunction into its terms.
    pub fn conjuncts(self) -> Vec<Expr> {
        // Iterative: long AND chains are deep trees.
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            match e {
                Expr::And(a, b) => {
                    stack.push(*b);
                    stack.push(*a);
                }
                other => out.push(other),
            }
        }
        out
    }

    /// Joins terms with AND (`None` for no terms).
    pub fn conjunction(terms: Vec<Expr>) -> Option<Expr> {
        terms.into_iter().reduce(|a, b| Expr::And(Box::new(a), Box::new(b)))
    }

    /// The input columns the expression reads (not outer ones).
    pub fn columns(&self) -> Vec<usize> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let Expr::Column(i) = e {
                out.push(*i);
            }
        });
        out
    }

    /// Shifts column references by `-offset` (for pushing a predicate
    /// over the right side of a join). Only valid if every column is ≥ offset.
    pub fn shift_columns(self, offset: usize) -> Expr {
        self.map_columns(&|i| i - offset)
    }

    /// Renumbers column references with `map`.
    pub fn map_columns(self, map: &dyn Fn(usize) -> usize) -> Expr {
        let mut f = |e: Expr| -> crate::Result<Expr> {
            Ok(match e {
                Expr::Column(i) => Expr::Column(map(i)),
                other => other,
            })
        };
        // The closure never fails.
        self.clone().transform(&mut f).unwrap_or(self)
    }
}

fn transform_dyn(e: Expr, f: &mut dyn FnMut(Expr) -> crate::Result<Expr>) -> crate::Result<Expr> {
    e.transform(&mut |x| f(x))
}

impl Clone for Subquery {
    fn clone(&self) -> Self {
        Subquery { id: self.id, plan: self.plan.clone(), kind: self.kind.clone(), correlated: self.correlated }
    }
}
