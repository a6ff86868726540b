//! Trino's `t CROSS JOIN UNNEST(t.a) AS u(x)` and `t LEFT JOIN UNNEST(t.a)
//! AS u(x) ON true`: each row of `t` beside each element of its own array.
//!
//! DataFusion 55 plans such an UNNEST as a lateral subquery whose arrays
//! are outer references (`Unnest` over a projection of `outer_ref(t.a)`
//! over a one-row `EmptyRelation`), and has no rule that turns that into
//! a plan it can run: its lateral decorrelation pulls up filters, not
//! projections. [`LateralUnnest`] rewrites the join itself: the subquery's
//! projections and `Unnest` are rebuilt over `t` instead of the empty
//! relation, with the outer references as `t`'s columns and `t`'s columns
//! carried along, so the arrays may be any expression of the row
//! (`UNNEST(split(t.tags, ','))`, the ordinals of `WITH ORDINALITY`).
//! A CROSS JOIN drops rows whose arrays are empty or NULL, as Trino's
//! does; a LEFT JOIN keeps them once, with NULL elements.

use datafusion::common::Column;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::{
    Expr, Join, JoinType, LogicalPlan, LogicalPlanBuilder, Projection, SubqueryAlias, Unnest,
};
use datafusion::optimizer::AnalyzerRule;

use super::*;

/// The analyzer rule; see the module's documentation.
#[derive(Debug, Default)]
pub(super) struct LateralUnnest;

impl AnalyzerRule for LateralUnnest {
    fn analyze(&self, plan: LogicalPlan, _: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|p| match p {
            LogicalPlan::Join(join) => rewrite(join),
            other => Ok(Transformed::no(other)),
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "trino_lateral_unnest"
    }
}

fn rewrite(join: Join) -> Result<Transformed<LogicalPlan>> {
    let keep_empty = match join.join_type {
        JoinType::Inner => false,
        JoinType::Left => true,
        _ => return Ok(Transformed::no(LogicalPlan::Join(join))),
    };
    // Only an unconditional join: `ON true`, or none (CROSS JOIN).
    let unconditional = join.on.is_empty()
        && join
            .filter
            .as_ref()
            .is_none_or(|f| matches!(f, Expr::Literal(ScalarValue::Boolean(Some(true)), _)));
    let Some((alias, subquery)) = lateral(&join.right) else {
        return Ok(Transformed::no(LogicalPlan::Join(join)));
    };
    if !unconditional || !has_unnest(subquery) {
        return Ok(Transformed::no(LogicalPlan::Join(join)));
    }
    let left = join.left.as_ref();
    // The left side's columns ride along under names of their own (an
    // alias in the subquery would requalify them), and get theirs back at
    // the end.
    let columns = left.schema().columns();
    let carried: Vec<String> = (0..columns.len())
        .map(|i| format!("__strata_lateral_{i}"))
        .collect();
    let Some(rebuilt) = over(subquery, left, &columns, &carried, keep_empty)? else {
        return Ok(Transformed::no(LogicalPlan::Join(join)));
    };
    // The join's columns: the left side's, then the UNNEST's under its alias.
    let mut exprs: Vec<Expr> = carried
        .iter()
        .zip(columns)
        .map(|(name, c)| Expr::Column(Column::from_name(name)).alias_qualified(c.relation, c.name))
        .collect();
    let right_schema = join.right.schema();
    for (i, (_, field)) in right_schema.iter().enumerate() {
        let (qualifier, name) = rebuilt.schema().qualified_field(i);
        let source = Expr::Column(Column::new(qualifier.cloned(), name.name()));
        exprs.push(match &alias {
            Some(a) => source.alias_qualified(Some(a.clone()), field.name()),
            None => source.alias(field.name()),
        });
    }
    let plan = LogicalPlan::Projection(Projection::try_new(exprs, Arc::new(rebuilt))?);
    Ok(Transformed::yes(plan))
}

/// The subquery of a lateral join's right side, and its alias.
fn lateral(
    right: &LogicalPlan,
) -> Option<(Option<datafusion::common::TableReference>, &LogicalPlan)> {
    match right {
        LogicalPlan::SubqueryAlias(SubqueryAlias { input, alias, .. }) => match input.as_ref() {
            LogicalPlan::Subquery(s) => Some((Some(alias.clone()), s.subquery.as_ref())),
            _ => None,
        },
        LogicalPlan::Subquery(s) => Some((None, s.subquery.as_ref())),
        _ => None,
    }
}

fn has_unnest(p: &LogicalPlan) -> bool {
    match p {
        LogicalPlan::Unnest(_) => true,
        LogicalPlan::Projection(Projection { input, .. })
        | LogicalPlan::SubqueryAlias(SubqueryAlias { input, .. }) => has_unnest(input),
        LogicalPlan::Subquery(s) => has_unnest(&s.subquery),
        _ => false,
    }
}

/// `p` rebuilt over `left` instead of its one-row empty relation, its outer
/// references read from `left`'s columns, which every node carries along
/// under the `carried` names; `None` for a shape this rule does not know.
fn over(
    p: &LogicalPlan,
    left: &LogicalPlan,
    columns: &[Column],
    carried: &[String],
    keep_empty: bool,
) -> Result<Option<LogicalPlan>> {
    Ok(Some(match p {
        LogicalPlan::Projection(Projection { expr, input, .. }) => {
            let at_bottom =
                matches!(input.as_ref(), LogicalPlan::EmptyRelation(e) if e.produce_one_row);
            let Some(input) = over(input, left, columns, carried, keep_empty)? else {
                return Ok(None);
            };
            let mut exprs = Vec::with_capacity(expr.len() + carried.len());
            for e in expr {
                let e = inner_references(e.clone())?;
                // A LEFT JOIN keeps a row whose array is empty: as a NULL
                // array, which the unnest keeps as one NULL element.
                exprs.push(if keep_empty && at_bottom {
                    empty_as_null(e)
                } else {
                    e
                });
            }
            for (name, column) in carried.iter().zip(columns) {
                exprs.push(if at_bottom {
                    Expr::Column(column.clone()).alias(name)
                } else {
                    Expr::Column(Column::from_name(name))
                });
            }
            LogicalPlan::Projection(Projection::try_new(exprs, Arc::new(input))?)
        }
        LogicalPlan::Unnest(Unnest {
            input,
            exec_columns,
            list_type_columns,
            options,
            ..
        }) => {
            let Some(input) = over(input, left, columns, carried, keep_empty)? else {
                return Ok(None);
            };
            // Empty and NULL arrays: no row in a CROSS JOIN, one in a LEFT.
            let options = if list_type_columns.is_empty() {
                options.clone()
            } else {
                options.clone().with_preserve_nulls(keep_empty)
            };
            LogicalPlanBuilder::from(input)
                .unnest_columns_with_options(exec_columns.clone(), options)?
                .build()?
        }
        LogicalPlan::SubqueryAlias(SubqueryAlias { input, alias, .. }) => {
            let Some(input) = over(input, left, columns, carried, keep_empty)? else {
                return Ok(None);
            };
            LogicalPlan::SubqueryAlias(SubqueryAlias::try_new(Arc::new(input), alias.clone())?)
        }
        // An UNNEST in the FROM of a lateral subquery (`LATERAL (SELECT
        // unnest(r) FROM UNNEST(t.a) AS u(r))`): correlated too.
        LogicalPlan::Subquery(s) => {
            let Some(input) = over(&s.subquery, left, columns, carried, keep_empty)? else {
                return Ok(None);
            };
            input
        }
        LogicalPlan::EmptyRelation(e) if e.produce_one_row => left.clone(),
        _ => return Ok(None),
    }))
}

/// An expression with its outer references as plain columns.
fn inner_references(e: Expr) -> Result<Expr> {
    e.transform_up(|x| match x {
        Expr::OuterReferenceColumn(_, column) => Ok(Transformed::yes(Expr::Column(column))),
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
}

/// `e AS name` with `e` an empty array made NULL (`e` itself otherwise).
fn empty_as_null(e: Expr) -> Expr {
    let (inner, name) = match e {
        Expr::Alias(a) => (*a.expr, Some((a.relation, a.name))),
        other => (other, None),
    };
    let function = Function {
        name: "trino_empty_as_null",
        signature: Signature::any(1, Volatility::Immutable),
        returns: |t| Ok(t[0].clone()),
        eval: empty_lists_as_null,
    };
    let wrapped = Expr::ScalarFunction(datafusion::logical_expr::expr::ScalarFunction::new_udf(
        Arc::new(ScalarUDF::from(function)),
        vec![inner],
    ));
    match name {
        Some((relation, name)) => wrapped.alias_qualified(relation, name),
        None => wrapped,
    }
}

/// `trino_empty_as_null(array)`: NULL where the array is empty.
fn empty_lists_as_null(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    use datafusion::arrow::array::ListArray;
    use datafusion::arrow::buffer::NullBuffer;
    let DataType::List(field) = a[0].data_type() else {
        return Ok(a[0].clone());
    };
    let list = a[0].as_list::<i32>();
    let valid: Vec<bool> = (0..list.len())
        .map(|i| list.is_valid(i) && list.value_length(i) > 0)
        .collect();
    Ok(Arc::new(ListArray::try_new(
        field.clone(),
        list.offsets().clone(),
        list.values().clone(),
        Some(NullBuffer::from(valid)),
    )?))
}
