//! `UNION`, `INTERSECT` and `EXCEPT`, with and without `ALL`.

use std::collections::HashMap;

use super::{BATCH, ExecCtx, Operator, Row};
use crate::error::Result;
use crate::plan::SetOpKind;

/// A set operation over two inputs of the same width.
pub(crate) struct SetOpOp<'p> {
    op: SetOpKind,
    all: bool,
    inputs: Option<(Box<dyn Operator + 'p>, Box<dyn Operator + 'p>)>,
    output: std::vec::IntoIter<Row>,
}

impl<'p> SetOpOp<'p> {
    pub(crate) fn new(
        op: SetOpKind,
        all: bool,
        left: Box<dyn Operator + 'p>,
        right: Box<dyn Operator + 'p>,
    ) -> SetOpOp<'p> {
        SetOpOp { op, all, inputs: Some((left, right)), output: Vec::new().into_iter() }
    }

    fn compute(
        &self,
        mut left: Box<dyn Operator + 'p>,
        mut right: Box<dyn Operator + 'p>,
        cx: &mut ExecCtx<'_>,
    ) -> Result<Vec<Row>> {
        let mut out = Vec::new();
        match self.op {
            SetOpKind::Union => {
                let mut seen = std::collections::HashSet::new();
                for side in [&mut left, &mut right] {
                    while let Some(batch) = side.next(cx)? {
                        for row in batch {
                            if self.all || seen.insert(row.clone()) {
                                out.push(row);
                            }
                        }
                    }
                }
            }
            SetOpKind::Intersect | SetOpKind::Except => {
                // Count the right side's rows, then walk the left in order.
                let mut counts: HashMap<Row, usize> = HashMap::new();
                while let Some(batch) = right.next(cx)? {
                    for row in batch {
                        *counts.entry(row).or_default() += 1;
                    }
                }
                let mut emitted: HashMap<Row, usize> = HashMap::new();
                while let Some(batch) = left.next(cx)? {
                    for row in batch {
                        let available = counts.get(&row).copied().unwrap_or(0);
                        let done = emitted.entry(row.clone()).or_default();
                        let keep = match (self.op, self.all) {
                            (SetOpKind::Intersect, false) => available > 0 && *done == 0,
                            (SetOpKind::Intersect, true) => *done < available,
                            (_, false) => available == 0 && *done == 0,
                            (_, true) => {
                                // EXCEPT ALL: each right row cancels one left row.
                                if let Some(c) = counts.get_mut(&row).filter(|c| **c > 0) {
                                    *c -= 1;
                                    continue;
                                }
                                true
                            }
                        };
                        if keep {
                            *done += 1;
                            out.push(row);
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

impl Operator for SetOpOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        if let Some((left, right)) = self.inputs.take() {
            self.output = self.compute(left, right, cx)?.into_iter();
        }
        let batch: Vec<Row> = self.output.by_ref().take(BATCH).collect();
        Ok(if batch.is_empty() { None } else { Some(batch) })
    }
}
