//! Trino's SQL as DataFusion's parser reads it: DataFusion's generic dialect
//! plus Trino's lambda expressions (`filter(a, x -> x > 0)`), which the
//! generic dialect reads as a JSON arrow. DataFusion plans lambdas for its
//! higher-order functions; only its parser needed telling.

use std::any::TypeId;

use datafusion::common::{not_impl_err, plan_datafusion_err};
use datafusion::execution::SessionState;
use datafusion::sql::parser::{DFParserBuilder, Statement};
use datafusion::sql::sqlparser::ast;
use datafusion::sql::sqlparser::dialect::{Dialect, GenericDialect};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

/// DataFusion's generic dialect with lambdas.
#[derive(Debug, Default)]
pub(crate) struct TrinoDialect;

/// Each listed setting as the generic dialect has it.
macro_rules! as_generic {
    ($($setting:ident),* $(,)?) => {
        $(fn $setting(&self) -> bool {
            GenericDialect.$setting()
        })*
    };
}

impl Dialect for TrinoDialect {
    // The parser's own checks for the generic dialect hold for this one.
    fn dialect(&self) -> TypeId {
        TypeId::of::<GenericDialect>()
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        GenericDialect.is_identifier_start(ch)
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        GenericDialect.is_identifier_part(ch)
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        GenericDialect.is_delimited_identifier_start(ch)
    }

    fn supports_lambda_functions(&self) -> bool {
        true
    }

    /// `IPADDRESS '10.0.0.1'`, a literal of a type the parser does not
    /// know, as the cast it is.
    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<ast::Expr, ParserError>> {
        let [word, text] = parser.peek_tokens::<2>();
        let (Token::Word(w), Token::SingleQuotedString(text)) = (word, text) else {
            return None;
        };
        if w.quote_style.is_some() || !w.value.eq_ignore_ascii_case("IPADDRESS") {
            return None;
        }
        parser.next_token();
        parser.next_token();
        Some(Ok(ast::Expr::Cast {
            kind: ast::CastKind::Cast,
            expr: Box::new(ast::Expr::value(ast::Value::SingleQuotedString(text))),
            data_type: ast::DataType::Custom(
                ast::ObjectName::from(vec![ast::Ident::new("IPADDRESS")]),
                vec![],
            ),
            array: false,
            format: None,
        }))
    }

    /// `x [NOT] BETWEEN SYMMETRIC a AND b` and `... ASYMMETRIC ...`, which
    /// the generic dialect does not read (see [`between_symmetric`]).
    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &ast::Expr,
        _precedence: u8,
    ) -> Option<Result<ast::Expr, ParserError>> {
        let [a, b, c] = parser.peek_tokens::<3>();
        let keyword = |t: &Token, k: Keyword| matches!(t, Token::Word(w) if w.keyword == k);
        let bounds_kind =
            |t: &Token| keyword(t, Keyword::SYMMETRIC) || keyword(t, Keyword::ASYMMETRIC);
        let negated = keyword(&a, Keyword::NOT);
        let (between, kind) = if negated { (&b, &c) } else { (&a, &b) };
        if !keyword(between, Keyword::BETWEEN) || !bounds_kind(kind) {
            return None;
        }
        let symmetric = keyword(kind, Keyword::SYMMETRIC);
        for _ in 0..(2 + usize::from(negated)) {
            parser.next_token();
        }
        Some(
            parser
                .parse_between(expr.clone(), negated)
                .map(|e| if symmetric { between_symmetric(e) } else { e }),
        )
    }

    // Every setting the generic dialect changes from the trait's default.
    as_generic!(
        supports_unicode_string_literal,
        supports_partition_by_after_order_by,
        supports_array_join_syntax,
        supports_group_by_expr,
        supports_group_by_with_modifier,
        supports_left_associative_joins_without_parens,
        supports_connect_by,
        supports_match_recognize,
        supports_pipe_operator,
        supports_start_transaction_modifier,
        supports_window_function_null_treatment_arg,
        supports_dictionary_syntax,
        supports_window_clause_named_window_reference,
        supports_parenthesized_set_variables,
        supports_select_wildcard_except,
        support_map_literal_syntax,
        allow_extract_custom,
        allow_extract_single_quotes,
        supports_extract_comma_syntax,
        supports_create_view_comment_syntax,
        supports_parens_around_table_factor,
        supports_values_as_table_factor,
        supports_create_index_with_clause,
        supports_explain_with_utility_options,
        supports_limit_comma,
        supports_update_order_by,
        supports_from_first_select,
        supports_projection_trailing_commas,
        supports_asc_desc_in_column_definition,
        supports_try_convert,
        supports_bitwise_shift_operators,
        supports_comment_on,
        supports_load_extension,
        supports_named_fn_args_with_assignment_operator,
        supports_struct_literal,
        supports_empty_projections,
        supports_nested_comments,
        supports_multiline_comment_hints,
        supports_user_host_grantee,
        supports_string_escape_constant,
        supports_array_typedef_with_brackets,
        supports_match_against,
        supports_set_names,
        supports_comma_separated_set_assignments,
        supports_filter_during_aggregation,
        supports_select_wildcard_exclude,
        supports_data_type_signed_suffix,
        supports_interval_options,
        supports_quote_delimited_string,
        supports_select_wildcard_replace,
        supports_select_wildcard_ilike,
        supports_select_wildcard_rename,
        supports_optimize_table,
        supports_install,
        supports_detach,
        supports_prewhere,
        supports_with_fill,
        supports_limit_by,
        supports_interpolate,
        supports_settings,
        supports_select_format,
        supports_comment_optimizer_hint,
        supports_constraint_keyword_without_name,
        supports_key_column_option,
        supports_comma_separated_trim,
        supports_cte_without_as,
        supports_select_item_multi_column_alias,
        supports_xml_expressions,
    );
}

/// Parses one statement of `sql` in Trino's dialect, with the session's
/// recursion limit, as DataFusion's own `sql_to_statement` does with the
/// configured dialect.
pub(crate) fn statement(state: &SessionState, sql: &str) -> datafusion::error::Result<Statement> {
    let recursion_limit = state.config().options().sql_parser.recursion_limit.get();
    let mut statements = DFParserBuilder::new(sql)
        .with_dialect(&TrinoDialect)
        .with_recursion_limit(recursion_limit)
        .build()?
        .parse_statements()?;
    if statements.len() > 1 {
        return not_impl_err!("The context currently only supports a single SQL statement");
    }
    let mut statement = statements.pop_front().ok_or_else(|| {
        plan_datafusion_err!("No SQL statements were provided in the query string")
    })?;
    match &mut statement {
        Statement::Statement(s) => lambda_forms(s),
        Statement::Explain(e) => {
            if let Statement::Statement(s) = e.statement.as_mut() {
                lambda_forms(s);
            }
        }
        _ => {}
    }
    Ok(statement)
}

/// Trino's forms that DataFusion would plan as something else or not at
/// all: `UNNEST ... WITH ORDINALITY`, an UNNEST of rows into their fields
/// and array literals in an UNNEST ([`Ordinality`]), Unicode string
/// literals, [`matches_as_any_match`], [`method_calls`], and
/// `regexp_replace(s, p, x -> ...)`
/// under a name of its own ([`super::trino::REGEXP_REPLACE_LAMBDA`]), since
/// the plain `regexp_replace` is found first and takes no lambda.
fn lambda_forms(statement: &mut ast::Statement) {
    use ast::VisitMut as _;
    let _ = statement.visit(&mut Ordinality);
    matches_as_any_match(statement);
    let _ = ast::visit_expressions_mut(statement, |e| {
        // U&'\+01F600': the parser has read the escapes; DataFusion's
        // planner takes the text as an ordinary string.
        if let ast::Expr::Value(v) = e
            && let ast::Value::UnicodeStringLiteral(text) = &v.value
        {
            v.value = ast::Value::SingleQuotedString(text.clone());
        }
        method_calls(e);
        if let ast::Expr::Lambda(l) = e {
            arrays_as_calls(&mut l.body);
        }
        // `x AT TIME ZONE INTERVAL '10' HOUR`, at_timezone(x, INTERVAL ...):
        // a zone given as its offset from UTC.
        match e {
            ast::Expr::AtTimeZone { time_zone, .. } => offset_of_interval(time_zone),
            ast::Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("at_timezone") => {
                if let ast::FunctionArguments::List(list) = &mut f.args
                    && let Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(zone))) =
                        list.args.get_mut(1)
                {
                    offset_of_interval(zone);
                }
            }
            _ => {}
        }
        // `(ARRAY[1, 2], 'x')`: a row of any expressions, where DataFusion's
        // planner builds a tuple of names and literals only.
        if let ast::Expr::Tuple(items) = e
            && items
                .iter()
                .any(|i| !matches!(i, ast::Expr::Value(_) | ast::Expr::Identifier(_)))
        {
            *e = call("row", std::mem::take(items));
        }
        // random(n): Trino's random integer below n, planned apart from
        // DataFusion's random() of no arguments.
        if let ast::Expr::Function(f) = e
            && f.name.to_string().eq_ignore_ascii_case("random")
            && matches!(&f.args, ast::FunctionArguments::List(l) if l.args.len() == 1)
        {
            f.name = ast::ObjectName::from(vec![ast::Ident::new(super::trino::RANDOM_BELOW)]);
        }
        // normalize(s, NFD): Trino names the form as a bare word.
        if let ast::Expr::Function(f) = e
            && f.name.to_string().eq_ignore_ascii_case("normalize")
            && let ast::FunctionArguments::List(list) = &mut f.args
            && let Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(form))) =
                list.args.get_mut(1)
            && let ast::Expr::Identifier(word) = form
            && ["NFC", "NFD", "NFKC", "NFKD"]
                .iter()
                .any(|f| word.value.eq_ignore_ascii_case(f))
        {
            *form = ast::Expr::value(ast::Value::SingleQuotedString(
                word.value.to_ascii_uppercase(),
            ));
        }
        // MAP(): the empty map, which DataFusion's `map` (one or more
        // arguments) does not make.
        if let ast::Expr::Function(f) = e
            && f.name.to_string().eq_ignore_ascii_case("map")
            && matches!(&f.args, ast::FunctionArguments::List(l) if l.args.is_empty())
        {
            *e = call("map_from_entries", vec![call("make_array", vec![])]);
        }
        if let ast::Expr::Function(f) = e
            && f.name.to_string().eq_ignore_ascii_case("regexp_replace")
            && matches!(&f.args, ast::FunctionArguments::List(list)
                if matches!(list.args.get(2), Some(ast::FunctionArg::Unnamed(
                    ast::FunctionArgExpr::Expr(ast::Expr::Lambda(_))))))
        {
            f.name =
                ast::ObjectName::from(vec![ast::Ident::new(super::trino::REGEXP_REPLACE_LAMBDA)]);
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// `UNNEST(a, ...) WITH ORDINALITY`, which DataFusion does not plan, as
/// `UNNEST(a, ..., range(1, n + 1))`: the ordinals as one more array beside
/// the others, `n` the longest one's length (DataFusion pads the shorter
/// arrays with NULLs, as Trino does), so each row's ordinal is a BIGINT
/// from 1 (beside another table's rows, `CROSS JOIN UNNEST(t.a) WITH
/// ORDINALITY`, the ordinals are an expression of the row, which
/// `trino::unnest` plans).
struct Ordinality;

impl ast::VisitorMut for Ordinality {
    type Break = ();

    fn pre_visit_table_factor(
        &mut self,
        factor: &mut ast::TableFactor,
    ) -> std::ops::ControlFlow<Self::Break> {
        // `UNNEST(rows) AS t(x, y)`: an array of rows, one column per field,
        // as Trino unnests it (more names than arrays say so). DataFusion
        // unnests the array to rows, and `unnest(row)` to its fields.
        if let ast::TableFactor::UNNEST {
            alias: Some(alias),
            array_exprs,
            with_ordinality,
            ..
        } = factor
            && array_exprs.len() == 1
            && alias.columns.len() > 1 + usize::from(*with_ordinality)
        {
            let (numbered, ordinal) = if *with_ordinality {
                (" WITH ORDINALITY", ", __strata_n")
            } else {
                ("", "")
            };
            let sql = format!(
                "SELECT unnest(__strata_row){ordinal} FROM UNNEST({}){numbered} \
                 AS __strata_rows(__strata_row{ordinal})",
                array_exprs[0]
            );
            if let Ok(query) = datafusion::sql::sqlparser::parser::Parser::new(&TrinoDialect)
                .try_with_sql(&sql)
                .and_then(|mut p| p.parse_query())
            {
                *factor = ast::TableFactor::Derived {
                    lateral: true,
                    subquery: query,
                    alias: Some(alias.clone()),
                    sample: None,
                };
            }
        }
        // `ARRAY[t.a, ...]` in an UNNEST beside another table: DataFusion
        // plans an array literal's elements without the other table's
        // columns in scope, and a `make_array` call's with them.
        if let ast::TableFactor::UNNEST { array_exprs, .. } = factor {
            for e in array_exprs.iter_mut() {
                arrays_as_calls(e);
            }
        }
        if let ast::TableFactor::UNNEST {
            array_exprs,
            with_ordinality,
            ..
        } = factor
            && *with_ordinality
        {
            let lengths: Vec<String> = array_exprs
                .iter()
                .map(|e| format!("coalesce(cardinality({e}), 0)"))
                .collect();
            let longest = if lengths.len() == 1 {
                lengths[0].clone()
            } else {
                format!("greatest({})", lengths.join(", "))
            };
            let ordinals = format!("range(1, {longest} + 1)");
            if let Ok(e) = datafusion::sql::sqlparser::parser::Parser::new(&TrinoDialect)
                .try_with_sql(&ordinals)
                .and_then(|mut p| p.parse_expr())
            {
                array_exprs.push(e);
                *with_ordinality = false;
            }
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// Every array literal in `e` as a `make_array` call: DataFusion plans an
/// array literal's elements without the names a lambda or another table
/// brings into scope (`x -> ARRAY[x + 1]`), and a call's with them.
fn arrays_as_calls(e: &mut ast::Expr) {
    let _ = ast::visit_expressions_mut(e, |x| {
        if let ast::Expr::Array(array) = x {
            *x = call("make_array", std::mem::take(&mut array.elem));
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// A plain call of the function `name` on `args`.
fn call(name: &str, args: Vec<ast::Expr>) -> ast::Expr {
    ast::Expr::Function(ast::Function {
        name: ast::ObjectName::from(vec![ast::Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: ast::FunctionArguments::None,
        args: ast::FunctionArguments::List(ast::FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// Trino's `all_match(a, x -> p)` and `none_match(a, x -> p)` in terms of
/// DataFusion's `any_match`: `NOT any_match(a, x -> NOT (p))` and `NOT
/// any_match(a, x -> p)`, which answer alike, NULLs included (a NULL
/// predicate and no deciding element is NULL; an empty array is true).
fn matches_as_any_match(statement: &mut ast::Statement) {
    let _ = ast::visit_expressions_mut(statement, |e| {
        let mut rewritten = false;
        if let ast::Expr::Function(f) = e {
            let name = f.name.to_string().to_ascii_lowercase();
            let lambda = match &mut f.args {
                ast::FunctionArguments::List(list)
                    if matches!(name.as_str(), "all_match" | "none_match") =>
                {
                    match &mut list.args[..] {
                        [
                            _,
                            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(
                                ast::Expr::Lambda(l),
                            )),
                        ] => Some(l),
                        _ => None,
                    }
                }
                _ => None,
            };
            if let Some(l) = lambda {
                if name == "all_match" {
                    let body = std::mem::replace(l.body.as_mut(), null());
                    *l.body = not(body);
                }
                f.name = ast::ObjectName::from(vec![ast::Ident::new("any_match")]);
                rewritten = true;
            }
        }
        if rewritten {
            let call = std::mem::replace(e, null());
            *e = not(call);
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// `x BETWEEN SYMMETRIC a AND b` as `x BETWEEN a AND b OR x BETWEEN b AND
/// a`, which answers as Trino does with NULL bounds too (`3 BETWEEN
/// SYMMETRIC NULL AND 4` is NULL, where `least`/`greatest` of the bounds,
/// skipping NULLs, would say true). Negated: neither order holds.
fn between_symmetric(e: ast::Expr) -> ast::Expr {
    let ast::Expr::Between {
        expr,
        negated,
        low,
        high,
    } = e
    else {
        return e;
    };
    let one = ast::Expr::Between {
        expr: expr.clone(),
        negated,
        low: low.clone(),
        high: high.clone(),
    };
    let other = ast::Expr::Between {
        expr,
        negated,
        low: high,
        high: low,
    };
    let op = if negated {
        ast::BinaryOperator::And
    } else {
        ast::BinaryOperator::Or
    };
    ast::Expr::Nested(Box::new(ast::Expr::BinaryOp {
        left: Box::new(one),
        op,
        right: Box::new(other),
    }))
}

/// Trino's method calls, `'ab'.repeat(3)` and `(x).char_length()`, as the
/// function calls they stand for: `repeat('ab', 3)`. Only a call ends a
/// chain this way; a field (`(r).x`) stays an access.
fn method_calls(e: &mut ast::Expr) {
    let ast::Expr::CompoundFieldAccess { root, access_chain } = e else {
        return;
    };
    if !access_chain
        .iter()
        .any(|a| matches!(a, ast::AccessExpr::Dot(ast::Expr::Function(_))))
    {
        return;
    }
    let mut value = std::mem::replace(root.as_mut(), null());
    let mut rest = vec![];
    for access in std::mem::take(access_chain) {
        match access {
            ast::AccessExpr::Dot(ast::Expr::Function(mut f))
                if matches!(f.args, ast::FunctionArguments::List(_)) =>
            {
                if !rest.is_empty() {
                    value = ast::Expr::CompoundFieldAccess {
                        root: Box::new(value),
                        access_chain: std::mem::take(&mut rest),
                    };
                }
                if let ast::FunctionArguments::List(list) = &mut f.args {
                    list.args.insert(
                        0,
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(value)),
                    );
                }
                value = ast::Expr::Function(f);
            }
            other => rest.push(other),
        }
    }
    *e = if rest.is_empty() {
        value
    } else {
        ast::Expr::CompoundFieldAccess {
            root: Box::new(value),
            access_chain: rest,
        }
    };
}

/// An INTERVAL naming a time zone (`INTERVAL '10' HOUR`, `INTERVAL '-8
/// hours -30 minutes'`) as the zone's text, `+10:00`: whole minutes of a
/// day-time interval within Trino's ±14 hours. Any other is left as it is,
/// for the planner to refuse.
fn offset_of_interval(zone: &mut ast::Expr) {
    let ast::Expr::Interval(interval) = zone else {
        return;
    };
    let ast::Expr::Value(v) = interval.value.as_ref() else {
        return;
    };
    let ast::Value::SingleQuotedString(text) = &v.value else {
        return;
    };
    if interval.last_field.is_some() {
        return;
    }
    let spelled = match &interval.leading_field {
        Some(unit) => format!("{text} {unit}"),
        None => text.clone(),
    };
    let Ok(parsed) =
        datafusion::arrow::compute::kernels::cast_utils::parse_interval_month_day_nano(&spelled)
    else {
        return;
    };
    const MINUTE: i64 = 60_000_000_000;
    if parsed.months != 0 || parsed.days != 0 || parsed.nanoseconds % MINUTE != 0 {
        return;
    }
    let minutes = parsed.nanoseconds / MINUTE;
    if minutes.abs() > 14 * 60 {
        return;
    }
    let sign = if minutes < 0 { '-' } else { '+' };
    *zone = ast::Expr::value(ast::Value::SingleQuotedString(format!(
        "{sign}{:02}:{:02}",
        minutes.abs() / 60,
        minutes.abs() % 60
    )));
}

fn null() -> ast::Expr {
    ast::Expr::value(ast::Value::Null)
}

fn not(e: ast::Expr) -> ast::Expr {
    ast::Expr::UnaryOp {
        op: ast::UnaryOperator::Not,
        expr: Box::new(ast::Expr::Nested(Box::new(e))),
    }
}
