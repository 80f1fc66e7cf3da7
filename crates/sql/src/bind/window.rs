//! Window definitions: named windows (`WINDOW w AS (…)`, `OVER w`,
//! `OVER (w ORDER BY …)`) and frame clauses (`ROWS`/`RANGE`/`GROUPS`
//! with their bounds and offsets), checked as PostgreSQL checks them.

use memdb_engine::DataType;
use sqlparser::ast;

use super::expr::{cast_to, coerce};
use super::{Binder, Typed, ident};
use crate::error::{Result, SqlError, unsupported};
use crate::expr::Expr;
use crate::plan::{Frame, FrameBound, FrameOffset, FrameUnits};

impl Binder<'_> {
    /// Records the query level's `WINDOW` clause. Definitions may build on
    /// earlier ones (`WINDOW a AS (PARTITION BY x), b AS (a ORDER BY y)`).
    pub(super) fn define_windows(&mut self, definitions: &[ast::NamedWindowDefinition]) -> Result<()> {
        for ast::NamedWindowDefinition(name, expr) in definitions {
            let name = ident(name);
            if self.named_window(&name).is_some() {
                return Err(SqlError::Windowing(format!("window \"{name}\" is already defined")));
            }
            let spec = match expr {
                ast::NamedWindowExpr::NamedWindow(other) => self.lookup_window(&ident(other))?,
                ast::NamedWindowExpr::WindowSpec(spec) => self.resolve_spec(spec)?,
            };
            if let Some(level) = self.collected.last_mut() {
                level.named_windows.push((name, spec));
            }
        }
        Ok(())
    }

    /// The window an `OVER` clause stands for, with references to named
    /// windows resolved.
    pub(super) fn window_spec(&self, over: &ast::WindowType) -> Result<ast::WindowSpec> {
        match over {
            // `OVER w` uses the definition as it is, frame included.
            ast::WindowType::NamedWindow(name) => self.lookup_window(&ident(name)),
            ast::WindowType::WindowSpec(spec) => self.resolve_spec(spec),
        }
    }

    fn named_window(&self, name: &str) -> Option<&ast::WindowSpec> {
        let level = self.collected.last()?;
        level.named_windows.iter().find(|(n, _)| n == name).map(|(_, spec)| spec)
    }

    fn lookup_window(&self, name: &str) -> Result<ast::WindowSpec> {
        self.named_window(name)
            .cloned()
            .ok_or_else(|| SqlError::UndefinedObject(format!("window \"{name}\" does not exist")))
    }

    /// `(w ORDER BY … frame)`: the named window's partitioning, its
    /// ordering unless it has none, and this clause's frame.
    fn resolve_spec(&self, spec: &ast::WindowSpec) -> Result<ast::WindowSpec> {
        let Some(reference) = &spec.window_name else { return Ok(spec.clone()) };
        let name = ident(reference);
        let base = self.lookup_window(&name)?;
        if !spec.partition_by.is_empty() {
            return Err(SqlError::Windowing(format!("cannot override PARTITION BY clause of window \"{name}\"")));
        }
        if !spec.order_by.is_empty() && !base.order_by.is_empty() {
            return Err(SqlError::Windowing(format!("cannot override ORDER BY clause of window \"{name}\"")));
        }
        if base.window_frame.is_some() {
            return Err(SqlError::Windowing(format!("cannot copy window \"{name}\" because it has a frame clause")));
        }
        Ok(ast::WindowSpec {
            window_name: None,
            partition_by: base.partition_by,
            order_by: if spec.order_by.is_empty() { base.order_by } else { spec.order_by.clone() },
            window_frame: spec.window_frame.clone(),
        })
    }

    /// Binds a frame clause. `order` is the window's ORDER BY: its key
    /// types and directions (RANGE offsets are distances in the one key).
    pub(super) fn window_frame(
        &mut self,
        frame: Option<&ast::WindowFrame>,
        order: &[(DataType, bool)],
    ) -> Result<Frame> {
        let Some(f) = frame else { return Ok(Frame::default_frame()) };
        let units = match f.units {
            ast::WindowFrameUnits::Rows => FrameUnits::Rows,
            ast::WindowFrameUnits::Range => FrameUnits::Range,
            ast::WindowFrameUnits::Groups => FrameUnits::Groups,
        };
        check_bounds(&f.start_bound, f.end_bound.as_ref())?;
        let end = f.end_bound.clone().unwrap_or(ast::WindowFrameBound::CurrentRow);
        if units == FrameUnits::Groups && order.is_empty() {
            return Err(SqlError::Windowing("GROUPS mode requires an ORDER BY clause".into()));
        }
        let has_offset = |b: &ast::WindowFrameBound| {
            matches!(b, ast::WindowFrameBound::Preceding(Some(_)) | ast::WindowFrameBound::Following(Some(_)))
        };
        let mut range_key = None;
        if units == FrameUnits::Range && (has_offset(&f.start_bound) || has_offset(&end)) {
            if order.len() != 1 {
                return Err(SqlError::Windowing(
                    "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column".into(),
                ));
            }
            range_key = Some(order[0].clone());
        }
        let mut bound_type = None;
        let start = self.frame_bound(&f.start_bound, units, range_key.as_ref(), &mut bound_type)?;
        let end = self.frame_bound(&end, units, range_key.as_ref(), &mut bound_type)?;
        // Rows' keys are compared with the bounds in the bounds' type.
        let range_key = match (range_key, bound_type) {
            (Some((key_type, _)), Some(ty)) => Some(cast_to(Typed::new(Expr::Column(0), key_type), &ty)?),
            _ => None,
        };
        Ok(Frame { units, start, end, range_key })
    }

    fn frame_bound(
        &mut self,
        bound: &ast::WindowFrameBound,
        units: FrameUnits,
        range_key: Option<&(DataType, bool)>,
        bound_type: &mut Option<DataType>,
    ) -> Result<FrameBound> {
        let (size, preceding) = match bound {
            ast::WindowFrameBound::CurrentRow => return Ok(FrameBound::CurrentRow),
            ast::WindowFrameBound::Preceding(None) => return Ok(FrameBound::UnboundedPreceding),
            ast::WindowFrameBound::Following(None) => return Ok(FrameBound::UnboundedFollowing),
            ast::WindowFrameBound::Preceding(Some(e)) => (e, true),
            ast::WindowFrameBound::Following(Some(e)) => (e, false),
        };
        let construct = match units {
            FrameUnits::Rows => "ROWS",
            FrameUnits::Range => "RANGE",
            FrameUnits::Groups => "GROUPS",
        };
        // The parser reads a quoted offset as an interval; PostgreSQL reads
        // it as a literal of the type the frame wants.
        let size = match size.as_ref() {
            ast::Expr::Interval(iv)
                if iv.leading_field.is_none()
                    && iv.last_field.is_none()
                    && matches!(iv.value.as_ref(), ast::Expr::Value(_)) =>
            {
                self.expr(&iv.value)?
            }
            other => self.expr(other)?,
        };
        let mut reads_rows = false;
        size.expr.walk(&mut |e| {
            reads_rows |= matches!(
                e,
                Expr::Column(_) | Expr::Outer { .. } | Expr::Aggregate(_) | Expr::Window(_) | Expr::SetFunction(_)
            );
        });
        if reads_rows {
            return Err(SqlError::InvalidColumnReference(format!(
                "argument of {construct} must not contain variables"
            )));
        }
        let offset = match range_key {
            None => {
                let numeric = is_integer(&size.ty)
                    || matches!(size.ty, DataType::Numeric(_) | DataType::Float4 | DataType::Float8);
                if !size.unknown && !numeric {
                    return Err(SqlError::DatatypeMismatch(format!(
                        "argument of {construct} must be type bigint, not type {}",
                        size.ty
                    )));
                }
                FrameOffset { size: coerce(size, &DataType::Int8)?.expr, bound: None, adds: false }
            }
            Some((key_type, descending)) => {
                let Some(offset_type) = range_offset_type(key_type) else {
                    return Err(unsupported(format!(
                        "RANGE with offset PRECEDING/FOLLOWING for column type {key_type}"
                    )));
                };
                if !size.unknown && !offset_fits(&size.ty, &offset_type) {
                    return Err(unsupported(format!(
                        "RANGE with offset PRECEDING/FOLLOWING for column type {key_type} and offset type {}",
                        size.ty
                    )));
                }
                let size = coerce(size, &offset_type)?;
                // PRECEDING lies before the key in the window's order:
                // below it ascending, above it descending.
                let adds = preceding == *descending;
                let op = if adds { ast::BinaryOperator::Plus } else { ast::BinaryOperator::Minus };
                let bound = self.binary(&op, range_operand(key_type)?, size.clone())?;
                *bound_type = Some(bound.ty);
                FrameOffset { size: size.expr, bound: Some(bound.expr), adds }
            }
        };
        Ok(if preceding { FrameBound::Preceding(offset) } else { FrameBound::Following(offset) })
    }
}

/// The current row's key as the bound arithmetic's operand. A `time` is
/// taken as an interval so that bounds do not wrap around midnight (as
/// PostgreSQL's `in_range` for time does not).
fn range_operand(key_type: &DataType) -> Result<Typed> {
    let key = Typed::new(Expr::Column(0), key_type.clone());
    match key_type {
        DataType::Time => Ok(Typed::new(cast_to(key, &DataType::Interval)?, DataType::Interval)),
        _ => Ok(key),
    }
}

/// The combinations of bounds PostgreSQL's grammar refuses (`end` is
/// `None` in the one-bound form, which ends at the current row).
fn check_bounds(start: &ast::WindowFrameBound, end: Option<&ast::WindowFrameBound>) -> Result<()> {
    use ast::WindowFrameBound as B;
    let message = match (start, end) {
        (B::Following(None), _) => "frame start cannot be UNBOUNDED FOLLOWING",
        (B::Following(Some(_)), None) => "frame starting from following row cannot end with current row",
        (_, Some(B::Preceding(None))) => "frame end cannot be UNBOUNDED PRECEDING",
        (B::CurrentRow, Some(B::Preceding(Some(_)))) => "frame starting from current row cannot have preceding rows",
        (B::Following(Some(_)), Some(B::Preceding(Some(_)) | B::CurrentRow)) => {
            "frame starting from following row cannot have preceding rows"
        }
        _ => return Ok(()),
    };
    Err(SqlError::Windowing(message.into()))
}

fn is_integer(ty: &DataType) -> bool {
    matches!(ty, DataType::Int2 | DataType::Int4 | DataType::Int8)
}

/// The offset type of a RANGE frame over a key of this type (PostgreSQL's
/// `in_range` support functions), if there is one.
fn range_offset_type(key: &DataType) -> Option<DataType> {
    Some(match key {
        DataType::Int2 | DataType::Int4 | DataType::Int8 => DataType::Int8,
        DataType::Numeric(_) => DataType::Numeric(None),
        DataType::Float4 | DataType::Float8 => DataType::Float8,
        DataType::Date | DataType::Time | DataType::Timestamp | DataType::TimestampTz | DataType::Interval => {
            DataType::Interval
        }
        _ => return None,
    })
}

/// Whether an offset of type `given` converts implicitly to `wanted`.
fn offset_fits(given: &DataType, wanted: &DataType) -> bool {
    match wanted {
        DataType::Int8 => is_integer(given),
        DataType::Numeric(_) => is_integer(given) || matches!(given, DataType::Numeric(_)),
        DataType::Float8 => {
            is_integer(given) || matches!(given, DataType::Numeric(_) | DataType::Float4 | DataType::Float8)
        }
        _ => given == wanted,
    }
}
