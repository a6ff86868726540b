//! A PostgreSQL table as a DataFusion table: streamed with binary `COPY`,
//! projection, filters and limit pushed into the SQL sent, split into
//! `ctid` page ranges read in parallel inside one exported snapshot.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{ScalarValue, plan_err};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, Operator, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use futures::StreamExt;
use tokio::sync::OnceCell;

use super::connect::PgConnector;
use super::decode::{CopyDecoder, DecodeError, PgKind};
use crate::error::Error;
use crate::pgcsv::BATCH_ROWS;

/// One column of a source table.
#[derive(Debug, Clone)]
pub struct PgColumn {
    /// Its name.
    pub name: String,
    /// Its type.
    pub kind: PgKind,
    /// Declared `NOT NULL`.
    pub not_null: bool,
}

/// A table (or view) of the legacy database.
#[derive(Debug)]
pub struct PgTable {
    connector: Arc<PgConnector>,
    schema_name: String,
    name: String,
    /// `pg_class.relkind`: `r` table, `p` partitioned, `v` view, `m` matview, `f` foreign.
    relkind: String,
    columns: Vec<PgColumn>,
    arrow_schema: SchemaRef,
    parallelism: usize,
}

impl PgTable {
    /// Describes a relation found in the catalog.
    pub fn new(
        connector: Arc<PgConnector>,
        schema_name: &str,
        name: &str,
        relkind: &str,
        columns: Vec<PgColumn>,
        parallelism: usize,
    ) -> Self {
        let arrow_schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|c| {
                    let nullable = !c.not_null || matches!(c.kind, PgKind::Unsupported(_));
                    Field::new(&c.name, c.kind.arrow_type(), nullable)
                })
                .collect::<Vec<_>>(),
        ));
        PgTable {
            connector,
            schema_name: schema_name.to_string(),
            name: name.to_string(),
            relkind: relkind.to_string(),
            columns,
            arrow_schema,
            parallelism: parallelism.max(1),
        }
    }

    fn qualified(&self) -> String {
        format!(
            "{}.{}",
            quote_ident(&self.schema_name),
            quote_ident(&self.name)
        )
    }

    /// Plain tables and materialised views have a `ctid` to split and to name rows by.
    fn has_ctid(&self) -> bool {
        matches!(self.relkind.as_str(), "r" | "m")
    }

    /// The filter as PostgreSQL SQL, when it can be sent to the server:
    /// checked by the type gate ([`PgTable::pushable`]), then written by
    /// DataFusion's unparser in PostgreSQL's dialect.
    fn filter_sql(&self, e: &Expr) -> Option<String> {
        use datafusion::common::tree_node::{Transformed, TreeNode};
        use datafusion::sql::unparser::Unparser;
        use datafusion::sql::unparser::dialect::PostgreSqlDialect;
        if !self.pushable(e) {
            return None;
        }
        // The SQL names the relation once, in FROM: columns go unqualified.
        let e = e
            .clone()
            .transform(|e| {
                Ok(match e {
                    Expr::Column(c) => Transformed::yes(Expr::Column(
                        datafusion::common::Column::new_unqualified(c.name),
                    )),
                    other => Transformed::no(other),
                })
            })
            .ok()?
            .data;
        // Pushed filters are joined with AND: the unparser's outer
        // parentheses can go, except around an OR, which binds looser.
        let or = matches!(&e, Expr::BinaryExpr(b) if b.op == Operator::Or);
        match Unparser::new(&PostgreSqlDialect {}).expr_to_sql(&e).ok()? {
            datafusion::sql::sqlparser::ast::Expr::Nested(inner) if !or => Some(inner.to_string()),
            sql => Some(sql.to_string()),
        }
    }

    /// The type gate: whether PostgreSQL evaluates `e` exactly as DataFusion
    /// would. Comparisons of a column with a literal, AND, OR, NOT, IS
    /// [NOT] NULL and IN lists; order comparisons only on types that order
    /// alike on both sides (not text, whose collations differ), and never
    /// on floats or types Strata cannot read.
    fn pushable(&self, e: &Expr) -> bool {
        let column =
            |c: &datafusion::common::Column| self.columns.iter().find(|x| x.name == c.name);
        let comparable = |kind: &PgKind| {
            !matches!(
                kind,
                PgKind::Float4 | PgKind::Float8 | PgKind::Unsupported(_)
            )
        };
        match e {
            Expr::BinaryExpr(b) => match b.op {
                Operator::And | Operator::Or => self.pushable(&b.left) && self.pushable(&b.right),
                Operator::Eq
                | Operator::NotEq
                | Operator::Lt
                | Operator::LtEq
                | Operator::Gt
                | Operator::GtEq => {
                    let (col, lit) = match (b.left.as_ref(), b.right.as_ref()) {
                        (Expr::Column(c), Expr::Literal(v, _))
                        | (Expr::Literal(v, _), Expr::Column(c)) => (c, v),
                        _ => return false,
                    };
                    let Some(column) = column(col) else {
                        return false;
                    };
                    let equality = matches!(b.op, Operator::Eq | Operator::NotEq);
                    (equality || column.kind.orders_like_arrow())
                        && comparable(&column.kind)
                        && literal_pushable(lit)
                }
                _ => false,
            },
            Expr::IsNull(inner) | Expr::IsNotNull(inner) => {
                matches!(inner.as_ref(), Expr::Column(c) if column(c).is_some())
            }
            Expr::Not(inner) => self.pushable(inner),
            Expr::InList(list) => {
                let Expr::Column(c) = list.expr.as_ref() else {
                    return false;
                };
                column(c).is_some_and(|c| comparable(&c.kind))
                    && list
                        .list
                        .iter()
                        .all(|v| matches!(v, Expr::Literal(v, _) if literal_pushable(v)))
            }
            _ => false,
        }
    }

    async fn page_count(&self) -> Result<u32> {
        let client = self
            .connector
            .connect_read_only()
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let row = client
            .query_one(
                "SELECT (pg_relation_size(c.oid) / current_setting('block_size')::int8)::int8 \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relname = $2",
                &[&self.schema_name, &self.name],
            )
            .await
            .map_err(|e| DataFusionError::External(Box::new(client.error(e))))?;
        Ok(u32::try_from(row.get::<_, i64>(0)).unwrap_or(u32::MAX))
    }
}

/// Quotes an identifier for PostgreSQL.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Whether a literal means the same on both sides: integers, booleans,
/// text, decimals, dates and timestamps without a zone; never NULL (a
/// comparison with NULL is for DataFusion to judge).
fn literal_pushable(v: &ScalarValue) -> bool {
    !v.is_null()
        && matches!(
            v,
            ScalarValue::Int8(_)
                | ScalarValue::Int16(_)
                | ScalarValue::Int32(_)
                | ScalarValue::Int64(_)
                | ScalarValue::UInt8(_)
                | ScalarValue::UInt16(_)
                | ScalarValue::UInt32(_)
                | ScalarValue::UInt64(_)
                | ScalarValue::Boolean(_)
                | ScalarValue::Utf8(_)
                | ScalarValue::LargeUtf8(_)
                | ScalarValue::Utf8View(_)
                | ScalarValue::Decimal128(..)
                | ScalarValue::Date32(_)
                | ScalarValue::TimestampMicrosecond(_, None)
                | ScalarValue::TimestampMillisecond(_, None)
                | ScalarValue::TimestampSecond(_, None)
                | ScalarValue::TimestampNanosecond(_, None)
        )
}

#[async_trait]
impl TableProvider for PgTable {
    fn schema(&self) -> SchemaRef {
        self.arrow_schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Inexact: the server pre-filters and DataFusion checks again, so a
        // subtle difference of semantics can never lose or add a row.
        Ok(filters
            .iter()
            .map(|f| {
                if self.filter_sql(f).is_some() {
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let indices: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.columns.len()).collect(),
        };
        let mut columns = Vec::with_capacity(indices.len());
        for &i in &indices {
            let c = &self.columns[i];
            if let PgKind::Unsupported(t) = &c.kind {
                return plan_err!(
                    "legacy.{}: column {} has type {t}, which Strata cannot read; \
                     cast it in a view on the server (e.g. CREATE VIEW v AS SELECT {}::text ...) \
                     or leave the column out of the query",
                    self.name,
                    c.name,
                    quote_ident(&c.name)
                );
            }
            columns.push((c.name.clone(), c.kind.clone()));
        }
        let where_sql: Vec<String> = filters.iter().filter_map(|f| self.filter_sql(f)).collect();
        // A limit is only exact when every filter was applied on the server.
        let limit = limit.filter(|_| filters.is_empty());
        let ranges = if self.has_ctid() && self.parallelism > 1 && limit.is_none() {
            let pages = self.page_count().await?;
            split_pages(pages, self.parallelism)
        } else {
            vec![None]
        };
        let schema = Arc::new(self.arrow_schema.project(&indices)?);
        Ok(Arc::new(PgScanExec::new(
            self.connector.clone(),
            ScanSpec {
                relation: self.qualified(),
                columns,
                where_sql,
                limit,
                ranges,
                has_ctid: self.has_ctid(),
                schema,
            },
        )))
    }
}

/// Page ranges `[start, end)` covering a relation; the last is open-ended so
/// rows on pages added since the size was read are still covered.
fn split_pages(pages: u32, parts: usize) -> Vec<Option<(u32, Option<u32>)>> {
    let parts = (parts as u32).min(pages.max(1)).max(1);
    if parts == 1 {
        return vec![None];
    }
    let step = pages.div_ceil(parts);
    (0..parts)
        .map(|i| {
            let start = i * step;
            let end = (i + 1 < parts).then(|| ((i + 1) * step).min(pages));
            Some((start, end))
        })
        .collect()
}

/// The snapshot all partitions read, held open by its exporting session.
struct Snapshot {
    _exporter: super::connect::PgSession,
    id: String,
}

/// What a scan reads: the parts of the SQL it sends, and its output schema.
struct ScanSpec {
    relation: String,
    columns: Vec<(String, PgKind)>,
    where_sql: Vec<String>,
    limit: Option<usize>,
    ranges: Vec<Option<(u32, Option<u32>)>>,
    has_ctid: bool,
    schema: SchemaRef,
}

/// Streams a PostgreSQL relation; one partition per page range.
pub struct PgScanExec {
    connector: Arc<PgConnector>,
    spec: ScanSpec,
    properties: Arc<PlanProperties>,
    snapshot: Arc<OnceCell<Snapshot>>,
}

impl fmt::Debug for PgScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgScanExec({})", self.spec.relation)
    }
}

impl PgScanExec {
    fn new(connector: Arc<PgConnector>, spec: ScanSpec) -> Self {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(spec.schema.clone()),
            Partitioning::UnknownPartitioning(spec.ranges.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        PgScanExec {
            connector,
            spec,
            properties,
            snapshot: Arc::new(OnceCell::new()),
        }
    }

    /// The `SELECT` a partition runs (the COPY wraps it).
    fn select_sql(&self, partition: usize) -> String {
        let mut list: Vec<String> = self
            .spec
            .columns
            .iter()
            .map(|(n, _)| quote_ident(n))
            .collect();
        if self.spec.has_ctid {
            list.push("ctid".into());
        }
        let mut conditions = self.spec.where_sql.clone();
        if let Some(Some((start, end))) = self.spec.ranges.get(partition) {
            conditions.push(format!("ctid >= '({start},0)'::tid"));
            if let Some(end) = end {
                conditions.push(format!("ctid < '({end},0)'::tid"));
            }
        }
        let mut sql = format!("SELECT {} FROM {}", list.join(", "), self.spec.relation);
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        if let Some(n) = self.spec.limit {
            sql.push_str(&format!(" LIMIT {n}"));
        }
        sql
    }
}

impl DisplayAs for PgScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "PostgresScan: partitions={}, sql={}",
            self.spec.ranges.len(),
            self.select_sql(0)
        )
    }
}

fn external(e: Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

impl ExecutionPlan for PgScanExec {
    fn name(&self) -> &'static str {
        "PostgresScan"
    }

    leaf_plan!();

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let sql = format!(
            "COPY ({}) TO STDOUT (FORMAT binary)",
            self.select_sql(partition)
        );
        tracing::debug!(relation = %self.spec.relation, partition, %sql, "extracting");
        let connector = self.connector.clone();
        let shared = (self.spec.ranges.len() > 1).then(|| self.snapshot.clone());
        let imported = self.connector.snapshot().map(str::to_string);
        let columns = self.spec.columns.clone();
        let has_ctid = self.spec.has_ctid;
        let schema = self.spec.schema.clone();
        let relation = self.spec.relation.clone();
        let mut builder = RecordBatchReceiverStreamBuilder::new(schema.clone(), 2);
        let tx = builder.tx();
        builder.spawn(async move {
            let client = connector.connect_read_only().await.map_err(external)?;
            let begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
            match (&imported, &shared) {
                (Some(id), _) => {
                    client
                        .batch_execute(&format!("{begin}; SET TRANSACTION SNAPSHOT '{id}'"))
                        .await
                }
                (None, Some(cell)) => {
                    let snapshot = cell
                        .get_or_try_init(|| export_snapshot(&connector))
                        .await
                        .map_err(external)?;
                    client
                        .batch_execute(&format!(
                            "{begin}; SET TRANSACTION SNAPSHOT '{}'",
                            snapshot.id
                        ))
                        .await
                }
                (None, None) => client.batch_execute(begin).await,
            }
            .map_err(|e| external(client.error(e)))?;

            let stream = client
                .copy_out(sql.as_str())
                .await
                .map_err(|e| external(client.error(e)))?;
            futures::pin_mut!(stream);
            let mut decoder = CopyDecoder::new(&columns, has_ctid)
                .map_err(|e| external(decode_error(&relation, e)))?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| external(client.error(e)))?;
                decoder
                    .feed(&chunk)
                    .map_err(|e| external(decode_error(&relation, e)))?;
                if decoder.pending_rows() >= BATCH_ROWS {
                    let batch = take_batch(&mut decoder, &schema)?;
                    if tx.send(Ok(batch)).await.is_err() {
                        return Ok(()); // the consumer is gone (LIMIT, cancel)
                    }
                }
            }
            if !decoder.is_finished() {
                return Err(external(Error::source(format!(
                    "{relation}: the COPY stream ended early"
                ))));
            }
            if decoder.pending_rows() > 0 {
                let batch = take_batch(&mut decoder, &schema)?;
                let _ = tx.send(Ok(batch)).await;
            }
            client
                .batch_execute("COMMIT")
                .await
                .map_err(|e| external(client.error(e)))?;
            Ok(())
        });
        Ok(builder.build())
    }
}

fn take_batch(decoder: &mut CopyDecoder, schema: &SchemaRef) -> Result<RecordBatch> {
    let (arrays, rows) = decoder.take_arrays();
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        arrays,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )?)
}

async fn export_snapshot(connector: &PgConnector) -> crate::error::Result<Snapshot> {
    let client = connector.connect_read_only().await?;
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(|e| client.error(e))?;
    let row = client
        .query_one("SELECT pg_export_snapshot()", &[])
        .await
        .map_err(|e| client.error(e))?;
    Ok(Snapshot {
        id: row.get(0),
        _exporter: client,
    })
}

fn decode_error(relation: &str, e: DecodeError) -> Error {
    let mut at = String::new();
    if let Some(c) = &e.column {
        at.push_str(&format!(", column {c}"));
    }
    if let Some(k) = &e.key {
        match k.ctid {
            Some((block, offset)) => at.push_str(&format!(", row ctid ({block},{offset})")),
            None => at.push_str(&format!(", row {}", k.row)),
        }
    }
    Error::source(format!("{relation}{at}: {}", e.message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> PgTable {
        let connector = PgConnector::new(
            "postgres://u@127.0.0.1/db",
            &crate::config::PgEnv::default(),
        )
        .unwrap();
        let column = |name: &str, kind| PgColumn {
            name: name.into(),
            kind,
            not_null: false,
        };
        PgTable::new(
            Arc::new(connector),
            "public",
            "sales",
            "r",
            vec![
                column("quantity", PgKind::Int4),
                column("region", PgKind::Text),
                column("price", PgKind::Float8),
                column("day", PgKind::Date),
            ],
            1,
        )
    }

    #[test]
    fn pushed_filters_keep_their_meaning_in_postgresql() {
        use datafusion::prelude::{col, lit};
        let t = table();
        let sql = |e: Expr| t.filter_sql(&e);
        assert_eq!(
            sql(col("quantity").gt(lit(10))).as_deref(),
            Some("\"quantity\" > 10")
        );
        // Joined to the other filters with AND: an OR keeps its parentheses.
        let or = sql(col("region").eq(lit("Sul")).or(col("quantity").lt(lit(3)))).unwrap();
        assert!(or.starts_with('(') && or.ends_with(')'), "{or}");
        assert!(or.contains("'Sul'") && or.contains(" OR "), "{or}");
        // Text orders by collation on the server: not sent.
        assert_eq!(sql(col("region").gt(lit("N"))), None);
        // Floats compare differently (NaN): not sent.
        assert_eq!(sql(col("price").eq(lit(1.5))), None);
        let day = sql(col("day").gt_eq(lit(ScalarValue::Date32(Some(19723))))).unwrap();
        assert!(day.contains("2024-01-01"), "{day}");
        let quote = sql(col("region").eq(lit("O'Brien"))).unwrap();
        assert!(quote.contains("'O''Brien'"), "{quote}");
    }

    #[test]
    fn page_ranges_cover_the_relation() {
        assert_eq!(split_pages(0, 4), vec![None]);
        assert_eq!(split_pages(10, 1), vec![None]);
        assert_eq!(
            split_pages(10, 3),
            vec![Some((0, Some(4))), Some((4, Some(8))), Some((8, None))]
        );
        assert_eq!(split_pages(2, 8), vec![Some((0, Some(1))), Some((1, None))]);
    }
}
