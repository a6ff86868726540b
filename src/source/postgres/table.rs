//! A PostgreSQL table as a DataFusion table: streamed with binary `COPY`,
//! projection, filters and limit pushed into the SQL sent, split into
//! `ctid` page ranges read in parallel inside one exported snapshot.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{ScalarValue, plan_err};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, Operator, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning,
    PlanProperties, ReplaceChildrenOptions,
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

    /// The filter as PostgreSQL SQL, when it can be sent to the server.
    fn filter_sql(&self, e: &Expr) -> Option<String> {
        match e {
            Expr::BinaryExpr(b) => match b.op {
                Operator::And | Operator::Or => Some(format!(
                    "({} {} {})",
                    self.filter_sql(&b.left)?,
                    if b.op == Operator::And { "AND" } else { "OR" },
                    self.filter_sql(&b.right)?
                )),
                Operator::Eq
                | Operator::NotEq
                | Operator::Lt
                | Operator::LtEq
                | Operator::Gt
                | Operator::GtEq => {
                    let (col, lit, op) = match (b.left.as_ref(), b.right.as_ref()) {
                        (Expr::Column(c), Expr::Literal(v, _)) => (c, v, b.op),
                        (Expr::Literal(v, _), Expr::Column(c)) => (c, v, b.op.swap()?),
                        _ => return None,
                    };
                    let column = self.columns.iter().find(|x| x.name == col.name)?;
                    let equality = matches!(op, Operator::Eq | Operator::NotEq);
                    if !equality && !column.kind.orders_like_arrow() {
                        return None;
                    }
                    if matches!(
                        column.kind,
                        PgKind::Float4 | PgKind::Float8 | PgKind::Unsupported(_)
                    ) {
                        return None;
                    }
                    Some(format!(
                        "{} {} {}",
                        quote_ident(&column.name),
                        op,
                        literal_sql(lit)?
                    ))
                }
                _ => None,
            },
            Expr::IsNull(inner) | Expr::IsNotNull(inner) => {
                let Expr::Column(c) = inner.as_ref() else {
                    return None;
                };
                self.columns.iter().find(|x| x.name == c.name)?;
                let not = if matches!(e, Expr::IsNotNull(_)) {
                    " NOT"
                } else {
                    ""
                };
                Some(format!("{} IS{not} NULL", quote_ident(&c.name)))
            }
            Expr::Not(inner) => Some(format!("NOT ({})", self.filter_sql(inner)?)),
            Expr::InList(list) => {
                let Expr::Column(c) = list.expr.as_ref() else {
                    return None;
                };
                let column = self.columns.iter().find(|x| x.name == c.name)?;
                if matches!(
                    column.kind,
                    PgKind::Float4 | PgKind::Float8 | PgKind::Unsupported(_)
                ) {
                    return None;
                }
                let values = list
                    .list
                    .iter()
                    .map(|v| match v {
                        Expr::Literal(v, _) => literal_sql(v),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?;
                let not = if list.negated { " NOT" } else { "" };
                Some(format!(
                    "{}{not} IN ({})",
                    quote_ident(&c.name),
                    values.join(", ")
                ))
            }
            _ => None,
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

fn literal_sql(v: &ScalarValue) -> Option<String> {
    if v.is_null() {
        return None;
    }
    Some(match v {
        ScalarValue::Int8(Some(x)) => x.to_string(),
        ScalarValue::Int16(Some(x)) => x.to_string(),
        ScalarValue::Int32(Some(x)) => x.to_string(),
        ScalarValue::Int64(Some(x)) => x.to_string(),
        ScalarValue::UInt8(Some(x)) => x.to_string(),
        ScalarValue::UInt16(Some(x)) => x.to_string(),
        ScalarValue::UInt32(Some(x)) => x.to_string(),
        ScalarValue::UInt64(Some(x)) => x.to_string(),
        ScalarValue::Boolean(Some(b)) => b.to_string(),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => {
            format!("'{}'", s.replace('\'', "''"))
        }
        ScalarValue::Decimal128(Some(_), _, _) => v.to_string(),
        ScalarValue::Date32(Some(_)) => format!("DATE '{v}'"),
        ScalarValue::TimestampMicrosecond(Some(_), None)
        | ScalarValue::TimestampMillisecond(Some(_), None)
        | ScalarValue::TimestampSecond(Some(_), None)
        | ScalarValue::TimestampNanosecond(Some(_), None) => {
            format!("TIMESTAMP '{}'", v.to_string().replace('T', " "))
        }
        _ => return None,
    })
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
    pub fn select_sql(&self, partition: usize) -> String {
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

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _: Vec<Arc<dyn ExecutionPlan>>,
        _: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

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
        let columns = self.spec.columns.clone();
        let has_ctid = self.spec.has_ctid;
        let schema = self.spec.schema.clone();
        let relation = self.spec.relation.clone();
        let mut builder = RecordBatchReceiverStreamBuilder::new(schema.clone(), 2);
        let tx = builder.tx();
        builder.spawn(async move {
            let client = connector.connect_read_only().await.map_err(external)?;
            let begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
            match &shared {
                Some(cell) => {
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
                None => client.batch_execute(begin).await,
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
