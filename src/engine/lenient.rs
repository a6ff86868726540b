//! Trino's `try(expr)` and `if(c, a, b)`, which must not evaluate every
//! argument, as rewrites before type coercion.
//!
//! `try(expr)`: the value of `expr`, or NULL for a row whose
//! evaluation fails.
//!
//! DataFusion evaluates a function's arguments before the function sees
//! them, so `try` cannot be an ordinary function that catches its argument's
//! error. Instead a rewrite, run before type coercion, turns each operation
//! inside `try(...)` that can fail into one that yields NULL for the failing
//! row: `CAST` becomes `TRY_CAST`, `x / y` and `x % y` divide by
//! `NULLIF(y, 0)`, and every function call is wrapped in [`Lenient`], which
//! re-evaluates a failed batch row by row and keeps the rows that succeed.
//! What this does not catch (numeric overflow in `+`, `-`, `*`) still fails,
//! as the README's dialect list says.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, new_null_array};
use datafusion::arrow::compute::concat;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::expr::{Cast, ScalarFunction, TryCast};
use datafusion::logical_expr::expr_rewriter::FunctionRewrite;
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, Operator, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility, lit,
};

/// The `try` function itself. The rewrite removes every call before
/// execution; evaluating one means the rewrite did not run.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Try {
    signature: Signature,
}

impl Try {
    /// `try(expr)`.
    pub fn new() -> Self {
        Try {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl Default for Try {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for Try {
    fn name(&self) -> &str {
        "try"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, t: &[DataType]) -> Result<DataType> {
        Ok(t[0].clone())
    }
    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(args.args.remove(0))
    }
}

/// A function whose failing rows become NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Lenient {
    inner: Arc<ScalarUDF>,
}

impl ScalarUDFImpl for Lenient {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn return_type(&self, t: &[DataType]) -> Result<DataType> {
        self.inner.return_type(t)
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }
    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(t)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if let Ok(v) = self.inner.invoke_with_args(args.clone()) {
            return Ok(v);
        }
        // Some row failed: find which, one row at a time.
        let rows = if args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)))
        {
            1
        } else {
            args.number_rows
        };
        let mut parts: Vec<ArrayRef> = Vec::with_capacity(rows);
        for i in 0..rows {
            let one = ScalarFunctionArgs {
                args: args
                    .args
                    .iter()
                    .map(|a| match a {
                        ColumnarValue::Array(x) => ColumnarValue::Array(x.slice(i, 1)),
                        s => s.clone(),
                    })
                    .collect(),
                number_rows: 1,
                ..args.clone()
            };
            parts.push(match self.inner.invoke_with_args(one) {
                Ok(v) => v.to_array(1)?,
                Err(_) => new_null_array(args.return_type(), 1),
            });
        }
        let refs: Vec<&dyn datafusion::arrow::array::Array> =
            parts.iter().map(|a| a.as_ref()).collect();
        let all = concat(&refs)?;
        if rows == 1 && args.number_rows != 1 {
            Ok(ColumnarValue::Scalar(
                datafusion::common::ScalarValue::try_from_array(&all, 0)?,
            ))
        } else {
            Ok(ColumnarValue::Array(all))
        }
    }
}

/// Rewrites `try(expr)` as described in the module's documentation.
#[derive(Debug, Default)]
pub struct TryRewrite;

impl FunctionRewrite for TryRewrite {
    fn name(&self) -> &str {
        "trino_try"
    }

    fn rewrite(&self, expr: Expr, _: &DFSchema, _: &ConfigOptions) -> Result<Transformed<Expr>> {
        let Expr::ScalarFunction(ScalarFunction { func, mut args }) = expr else {
            return Ok(Transformed::no(expr));
        };
        if func.name() != "try" {
            return Ok(Transformed::no(Expr::ScalarFunction(ScalarFunction {
                func,
                args,
            })));
        }
        if args.len() != 1 {
            return plan_err!("try takes one argument, got {}", args.len());
        }
        let inner = args.remove(0).transform_up(|e| {
            Ok(match e {
                Expr::Cast(Cast { expr, field }) => {
                    Transformed::yes(Expr::TryCast(TryCast { expr, field }))
                }
                Expr::BinaryExpr(BinaryExpr { left, op, right })
                    if matches!(op, Operator::Divide | Operator::Modulo) =>
                {
                    let nullif = datafusion::functions::core::expr_fn::nullif(*right, lit(0));
                    Transformed::yes(Expr::BinaryExpr(BinaryExpr {
                        left,
                        op,
                        right: Box::new(nullif),
                    }))
                }
                Expr::ScalarFunction(ScalarFunction { func, args })
                    if !func.inner().is::<Lenient>() =>
                {
                    let lenient = ScalarUDF::new_from_impl(Lenient { inner: func });
                    Transformed::yes(Expr::ScalarFunction(ScalarFunction {
                        func: Arc::new(lenient),
                        args,
                    }))
                }
                e => Transformed::no(e),
            })
        })?;
        Ok(Transformed::yes(inner.data))
    }
}

/// Trino's `if(condition, a [, b])`, planned as a placeholder and rewritten
/// (before type coercion) into `CASE WHEN condition THEN a ELSE b END`, so
/// only the chosen branch's errors count, as in Trino.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct If {
    signature: Signature,
}

impl If {
    /// `if(condition, a [, b])`.
    pub fn new() -> Self {
        If {
            signature: Signature::one_of(
                vec![
                    datafusion::logical_expr::TypeSignature::Any(2),
                    datafusion::logical_expr::TypeSignature::Any(3),
                ],
                Volatility::Immutable,
            ),
        }
    }
}

impl Default for If {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for If {
    fn name(&self) -> &str {
        "if"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, t: &[DataType]) -> Result<DataType> {
        Ok(t[1].clone())
    }
    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> Result<ColumnarValue> {
        datafusion::common::internal_err!("if() is rewritten to CASE before it runs")
    }
}

/// Rewrites `if(...)` as described on [`If`].
#[derive(Debug, Default)]
pub struct IfRewrite;

impl FunctionRewrite for IfRewrite {
    fn name(&self) -> &str {
        "trino_if"
    }

    fn rewrite(&self, expr: Expr, _: &DFSchema, _: &ConfigOptions) -> Result<Transformed<Expr>> {
        match expr {
            Expr::ScalarFunction(ScalarFunction { func, args }) if func.name() == "if" => {
                let mut args = args.into_iter();
                let (Some(condition), Some(then)) = (args.next(), args.next()) else {
                    return plan_err!("if takes a condition and one or two values");
                };
                let otherwise = args
                    .next()
                    .unwrap_or(Expr::Literal(datafusion::common::ScalarValue::Null, None));
                Ok(Transformed::yes(
                    datafusion::logical_expr::when(condition, then).otherwise(otherwise)?,
                ))
            }
            e => Ok(Transformed::no(e)),
        }
    }
}
