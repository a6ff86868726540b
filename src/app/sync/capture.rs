//! Reading a slot's committed changes to `public.sales` as rows: each insert
//! a row added, each delete a row removed, each update both (the old row
//! removed, the new one added), with the operation, the position of its
//! transaction's commit and its commit time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{
    ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::error::{Error, Result};
use crate::source::postgres::replication::pgoutput::{self, Message, Relation, Value};
use crate::source::postgres::replication::{Lsn, ReplicationStream, WalEvent};

/// How long the stream may stay silent before the sync gives up: the
/// server sends a keepalive well within it.
const SILENCE: Duration = Duration::from_secs(60);

/// The schema of `bronze.sales_changes`: the contract's columns, then the
/// operation, +1 or -1, the commit's end position and the commit time.
pub fn changes_schema() -> SchemaRef {
    let mut fields: Vec<Field> = crate::source::sales_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    fields.push(Field::new("_op", DataType::Utf8, false));
    fields.push(Field::new("_sign", DataType::Int32, false));
    fields.push(Field::new("_lsn", DataType::Int64, false));
    fields.push(Field::new(
        "_commit_ts",
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        false,
    ));
    Arc::new(Schema::new(fields))
}

/// The type OIDs the contract's columns have at the source.
fn expected_type(column: &str) -> Option<u32> {
    Some(match column {
        "sale_id" => 20,
        "sale_date" | "customer_name" | "product_name" | "category" | "seller_name" | "region" => {
            1043
        }
        "customer_id" | "product_id" | "seller_id" | "quantity" => 23,
        "unit_price" | "total_value" => 1700,
        "updated_at" => 1114,
        _ => return None,
    })
}

/// One change, as text values in the contract's column order.
struct Row {
    values: Vec<Option<String>>,
    op: &'static str,
    sign: i32,
    lsn: Lsn,
    commit_ts: i64,
}

/// What a read of the slot gathered.
pub struct Captured {
    /// The changes, in commit order.
    pub batch: RecordBatch,
    /// Transactions that changed `public.sales`.
    pub transactions: u64,
    /// Rows inserted, updated and deleted.
    pub inserted: u64,
    /// Rows updated.
    pub updated: u64,
    /// Rows deleted.
    pub deleted: u64,
    /// The end of the last commit read: every change up to it is here.
    pub through: Lsn,
}

/// Reads committed transactions until one ends at or after `target` (the
/// server's position when the sync started), or until `max_rows` change
/// rows are held (at a commit: a transaction is never split), skipping
/// those that end at or before `applied` (already in the lake: a sync
/// killed after its commit and before confirming the slot sees them again).
pub async fn capture(
    stream: &mut ReplicationStream,
    applied: Lsn,
    target: Lsn,
    max_rows: usize,
) -> Result<Captured> {
    let mut relations: HashMap<u32, Relation> = HashMap::new();
    // Where each of the source's columns goes in the contract's order.
    let mut order: Vec<usize> = vec![];
    let mut rows: Vec<Row> = vec![];
    let mut pending: Vec<Row> = vec![];
    let mut in_transaction = false;
    let mut through = applied;
    let (mut transactions, mut inserted, mut updated, mut deleted) = (0, 0, 0, 0);
    let mut counts = (0u64, 0u64, 0u64);
    loop {
        let event = tokio::time::timeout(SILENCE, stream.next())
            .await
            .map_err(|_| {
                Error::source(format!(
                    "the replication stream was silent for {}s",
                    SILENCE.as_secs()
                ))
            })??
            .ok_or_else(|| Error::source("the server ended the replication stream"))?;
        let data = match event {
            WalEvent::Keepalive { end, reply } => {
                if reply {
                    stream.confirm(through).await?;
                }
                if !in_transaction && end >= target {
                    // Nothing of ours is pending before `end`: a quiet
                    // source's slot still advances.
                    through = through.max(end.min(target));
                    break;
                }
                continue;
            }
            WalEvent::Data { data, .. } => data,
        };
        match pgoutput::decode(data)? {
            Message::Begin { .. } => {
                in_transaction = true;
                pending.clear();
                counts = (0, 0, 0);
            }
            Message::Relation(r) => {
                if r.namespace == "public" && r.name == "sales" {
                    order = check_relation(&r)?;
                }
                relations.insert(r.id, r);
            }
            Message::Insert { relation, new } => {
                if is_sales(&relations, relation) {
                    pending.push(row(new, &order, "insert", 1)?);
                    counts.0 += 1;
                }
            }
            Message::Update { relation, old, new } => {
                if is_sales(&relations, relation) {
                    let old = old.ok_or_else(|| {
                        Error::source(
                            "public.sales: an update came without its old row: the table's \
                             REPLICA IDENTITY must be FULL (ALTER TABLE public.sales REPLICA IDENTITY FULL)",
                        )
                    })?;
                    pending.push(row(old, &order, "update", -1)?);
                    pending.push(row(new, &order, "update", 1)?);
                    counts.1 += 1;
                }
            }
            Message::Delete { relation, old } => {
                if is_sales(&relations, relation) {
                    pending.push(row(old, &order, "delete", -1)?);
                    counts.2 += 1;
                }
            }
            Message::Truncate {
                relations: truncated,
            } => {
                if truncated.iter().any(|r| is_sales(&relations, *r)) {
                    return Err(Error::source(
                        "public.sales was truncated: a sync applies row changes only; start \
                         over from a new snapshot with `strata sync --drop-slot` then `strata sync`",
                    ));
                }
            }
            Message::Commit {
                end_lsn, commit_ts, ..
            } => {
                in_transaction = false;
                if end_lsn > applied && !pending.is_empty() {
                    for mut r in pending.drain(..) {
                        r.lsn = end_lsn;
                        r.commit_ts = commit_ts;
                        rows.push(r);
                    }
                    transactions += 1;
                    inserted += counts.0;
                    updated += counts.1;
                    deleted += counts.2;
                }
                pending.clear();
                through = through.max(end_lsn);
                if end_lsn >= target || rows.len() >= max_rows {
                    break;
                }
            }
            Message::Other(_) => {}
        }
    }
    Ok(Captured {
        batch: to_batch(&rows)?,
        transactions,
        inserted,
        updated,
        deleted,
        through,
    })
}

fn is_sales(relations: &HashMap<u32, Relation>, id: u32) -> bool {
    relations
        .get(&id)
        .is_some_and(|r| r.namespace == "public" && r.name == "sales")
}

/// Stops at a change of the source table's shape, naming it: nothing of
/// the batch is applied. Returns where each source column goes in the
/// contract's order.
fn check_relation(r: &Relation) -> Result<Vec<usize>> {
    let contract = crate::source::sales_schema();
    let names: Vec<&str> = r.columns.iter().map(|c| c.name.as_str()).collect();
    for f in contract.fields() {
        let Some(c) = r.columns.iter().find(|c| &c.name == f.name()) else {
            return Err(Error::source(format!(
                "public.sales: column {} was dropped at the source; the sync stopped before \
                 applying anything (the lake's tables keep the contract's columns)",
                f.name()
            )));
        };
        if Some(c.type_oid) != expected_type(f.name()) {
            return Err(Error::source(format!(
                "public.sales: column {} changed type at the source (type OID {}); the sync \
                 stopped before applying anything",
                f.name(),
                c.type_oid
            )));
        }
    }
    if let Some(extra) = names.iter().find(|n| contract.field_with_name(n).is_err()) {
        return Err(Error::source(format!(
            "public.sales: column {extra} was added at the source; the sync stopped before \
             applying anything (add it to the contract and the models, then start over with \
             `strata sync --drop-slot` and `strata sync`)"
        )));
    }
    if r.replica_identity != b'f' {
        return Err(Error::source(
            "public.sales: REPLICA IDENTITY is not FULL, so deletes and updates do not carry \
             the old row (ALTER TABLE public.sales REPLICA IDENTITY FULL)",
        ));
    }
    Ok(names
        .iter()
        .map(|n| contract.index_of(n).expect("checked above"))
        .collect())
}

/// A tuple in the contract's column order: pgoutput sends the table's
/// order, which `order` (from the last Relation message) maps.
fn row(values: Vec<Value>, order: &[usize], op: &'static str, sign: i32) -> Result<Row> {
    if values.len() != order.len() {
        return Err(Error::source(format!(
            "public.sales: a change has {} columns, its relation {}",
            values.len(),
            order.len()
        )));
    }
    let mut in_order: Vec<Option<Value>> = vec![None; order.len()];
    for (v, &at) in values.into_iter().zip(order) {
        in_order[at] = Some(v);
    }
    let values = in_order
        .into_iter()
        .map(|v| match v.unwrap_or(Value::Null) {
            Value::Null => Ok(None),
            Value::Text(t) => Ok(Some(t)),
            Value::Unchanged => Err(Error::source(
                "public.sales: a change left a value out (TOAST); REPLICA IDENTITY FULL sends every value",
            )),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Row {
        values,
        op,
        sign,
        lsn: Lsn(0),
        commit_ts: 0,
    })
}

/// The rows as a batch of [`changes_schema`]: text values cast to the
/// contract's types as PostgreSQL printed them.
fn to_batch(rows: &[Row]) -> Result<RecordBatch> {
    let schema = changes_schema();
    let contract = crate::source::sales_schema();
    let mut columns: Vec<ArrayRef> = vec![];
    for (i, field) in contract.fields().iter().enumerate() {
        let text: StringArray = rows.iter().map(|r| r.values[i].as_deref()).collect();
        let typed = datafusion::arrow::compute::cast(&text, field.data_type()).map_err(|e| {
            Error::source(format!("public.sales: a change's {}: {e}", field.name()))
        })?;
        columns.push(typed);
    }
    columns.push(Arc::new(StringArray::from_iter_values(
        rows.iter().map(|r| r.op),
    )));
    columns.push(Arc::new(Int32Array::from_iter_values(
        rows.iter().map(|r| r.sign),
    )));
    columns.push(Arc::new(Int64Array::from_iter_values(
        rows.iter().map(|r| r.lsn.0 as i64),
    )));
    columns.push(Arc::new(
        TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.commit_ts))
            .with_timezone("UTC"),
    ));
    Ok(RecordBatch::try_new(schema, columns)?)
}
