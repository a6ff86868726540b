//! Landing a batch of changes in the lake: appended to
//! `bronze.sales_changes`, then applied to `bronze.sales` by rewriting only
//! the day partitions they touch. Each is one commit of its table.
//!
//! Bronze holds the source's rows as a multiset (the legacy table has exact
//! duplicates and no key), so a change is arithmetic on copies: an insert
//! adds one copy of its row, a delete removes one, an update does both. A
//! touched partition's new content is its rows plus the added minus the
//! removed, copies counted per distinct row. A removal of a row the
//! partition does not hold means the lake and the source have diverged, and
//! stops the sync before anything is committed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Int32Type, Schema};
use datafusion::datasource::MemTable;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::SessionContext;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

use super::capture::Captured;
use crate::engine::Engine;
use crate::engine::overlay::overlay;
use crate::error::{Error, Result};
use crate::lake::manifest::{DataFile, Format, TableManifest, sha256_hex};
use crate::lake::writer::write_parallel;
use crate::lake::{Lake, Layer, NULL_PARTITION, TableId, versions};
use crate::models::Model;
use crate::source::postgres::replication::Lsn;

/// What the manifests of the tables a sync writes name as their definition.
pub const SYNC_MODEL: &str = "strata sync";

/// The change log's table.
pub fn changes_table() -> TableId {
    TableId::new(Layer::new("bronze").expect("a layer"), "sales_changes").expect("a name")
}

/// The table the changes are applied to.
pub fn bronze_table() -> TableId {
    TableId::new(Layer::new("bronze").expect("a layer"), "sales").expect("a name")
}

/// The change log's partition column: the sync that captured the rows.
const SYNC_PARTITION: &str = "_sync";

/// The positions a change file covers, from its key
/// (`_sync=<run>/changes-<from>-<to>.<run>.parquet`).
fn covered(key: &str) -> Option<(u64, u64)> {
    let name = key.rsplit('/').next()?;
    let rest = name.strip_prefix("changes-")?;
    let mut parts = rest.splitn(3, ['-', '.']);
    let from = u64::from_str_radix(parts.next()?, 16).ok()?;
    let to = u64::from_str_radix(parts.next()?, 16).ok()?;
    Some((from, to))
}

/// Where a batch of changes lies in the source's history: after `from` and
/// up to `to`, as numbers that order the batches (a slot's log positions,
/// or a cursor column's microseconds), and `to` as the manifests record it.
pub struct Span {
    /// The position the lake held before the batch.
    pub from: u64,
    /// The position the batch reaches.
    pub to: u64,
    /// `to` as text: what `source_position` records.
    pub position: String,
}

impl Span {
    /// The span of a slot's batch.
    pub fn of_log(applied: Lsn, captured: &Captured) -> Self {
        Span {
            from: applied.0,
            to: captured.through.0,
            position: captured.through.to_string(),
        }
    }
}

/// Appends `batch` to `bronze.sales_changes` as one file. Files of an
/// earlier batch that reach past `span.from` were written by a sync that
/// stopped before applying them; the source sends those changes again, so
/// they are left out of the new version rather than counted twice.
pub async fn append_changes(
    lake: &Lake,
    run_id: &str,
    batch: &RecordBatch,
    span: &Span,
) -> Result<TableManifest> {
    let table = changes_table();
    let old = versions::current(lake, &table).await?;
    let mut files: Vec<DataFile> = vec![];
    if let Some(old) = &old {
        for f in &old.files {
            if covered(&f.key).is_some_and(|(_, to)| to <= span.from) {
                files.push(old.carried(f));
            }
        }
    }
    let mut bytes = vec![];
    let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), None)
        .map_err(|e| Error::Internal(format!("change file: {e}")))?;
    writer
        .write(batch)
        .map_err(|e| Error::Internal(format!("change file: {e}")))?;
    writer
        .close()
        .map_err(|e| Error::Internal(format!("change file: {e}")))?;
    let key = format!(
        "{SYNC_PARTITION}={run_id}/changes-{:016X}-{:016X}.{run_id}.parquet",
        span.from, span.to
    );
    let data = DataFile {
        key: key.clone(),
        rows: batch.num_rows() as u64,
        bytes: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
        run_id: None,
    };
    lake.store()
        .put(
            &Path::from(format!("{}/{key}", table.key())),
            PutPayload::from(bytes),
        )
        .await?;
    files.push(data);
    let mut schema_fields = batch.schema().fields().to_vec();
    schema_fields.push(Arc::new(datafusion::arrow::datatypes::Field::new(
        SYNC_PARTITION,
        datafusion::arrow::datatypes::DataType::Utf8,
        false,
    )));
    let mut manifest = TableManifest {
        table,
        format: Format::Parquet,
        partition_by: vec![SYNC_PARTITION.into()],
        hidden_partition_by: vec![],
        columns: TableManifest::columns_of(&Schema::new(schema_fields)),
        rows: 0,
        bytes: 0,
        files: vec![],
        run_id: run_id.to_string(),
        written_at: crate::sys::now(),
        model: SYNC_MODEL.into(),
        version: 0,
        file_tag: run_id.to_string(),
        inputs: BTreeMap::new(),
        restored_from: None,
        source_position: Some(span.position.clone()),
        totals: BTreeMap::new(),
        definition: String::new(),
    };
    manifest.set_files(files);
    versions::commit(lake, manifest).await
}

/// A session over the lake in which `raw.sales` is `rows`: the bronze model
/// run over it gives each changed row its bronze form and partition.
fn session_with_raw(engine: &Engine, rows: &RecordBatch) -> Result<SessionContext> {
    let contract = crate::source::sales_schema();
    let projected = rows.project(&(0..contract.fields().len()).collect::<Vec<_>>())?;
    let raw = MemTable::try_new(projected.schema(), vec![vec![projected]])?;
    overlay(
        engine.ctx(),
        vec![(("raw".into(), "sales".into()), Arc::new(raw))],
    )
}

/// The changed rows of one sign in bronze's form (partition columns
/// included), through the bronze model itself.
async fn in_bronze_form(
    engine: &Engine,
    model: &Model,
    rows: &RecordBatch,
) -> Result<Vec<RecordBatch>> {
    let ctx = session_with_raw(engine, rows)?;
    let df = Engine::sql_from_file(&ctx, &model.path, &model.sql).await?;
    df.collect().await.map_err(|e| Error::sql(&model.path, e))
}

/// The rows of `batch` with `_sign` equal to `sign`.
fn with_sign(batch: &RecordBatch, sign: i32) -> Result<RecordBatch> {
    let i = batch.schema().index_of("_sign")?;
    let signs = batch.column(i).as_primitive::<Int32Type>();
    let mask: datafusion::arrow::array::BooleanArray =
        signs.iter().map(|s| Some(s == Some(sign))).collect();
    Ok(datafusion::arrow::compute::filter_record_batch(
        batch, &mask,
    )?)
}

/// A partition's columns with their values, each spelled by `term`.
fn spell(
    columns: &[String],
    values: &[Option<i32>],
    term: impl Fn(&str, Option<i32>) -> String,
    separator: &str,
) -> String {
    columns
        .iter()
        .zip(values)
        .map(|(c, v)| term(c, *v))
        .collect::<Vec<_>>()
        .join(separator)
}

/// The hive folder of a partition (`year=2021/month=1/day=5`).
fn folder(columns: &[String], values: &[Option<i32>]) -> String {
    let term = |c: &str, v: Option<i32>| match v {
        Some(v) => format!("{c}={v}"),
        None => format!("{c}={NULL_PARTITION}"),
    };
    spell(columns, values, term, "/")
}

/// A filter that holds on a partition's rows.
fn in_partition(columns: &[String], values: &[Option<i32>]) -> String {
    let term = |c: &str, v: Option<i32>| match v {
        Some(v) => format!("\"{c}\" = {v}"),
        None => format!("\"{c}\" IS NULL"),
    };
    format!("({})", spell(columns, values, term, " AND "))
}

/// The partitions rows fall in.
fn partitions_of(
    batches: &[RecordBatch],
    columns: &[String],
) -> Result<BTreeSet<Vec<Option<i32>>>> {
    let mut out = BTreeSet::new();
    for b in batches {
        let arrays = columns
            .iter()
            .map(|c| {
                let i = b.schema().index_of(c)?;
                let a = datafusion::arrow::compute::cast(
                    b.column(i),
                    &datafusion::arrow::datatypes::DataType::Int32,
                )?;
                Ok(a)
            })
            .collect::<Result<Vec<_>>>()?;
        for r in 0..b.num_rows() {
            out.insert(
                arrays
                    .iter()
                    .map(|a| {
                        let a = a.as_primitive::<Int32Type>();
                        (!a.is_null(r)).then(|| a.value(r))
                    })
                    .collect(),
            );
        }
    }
    Ok(out)
}

/// Applies a batch of changes to `bronze.sales` and commits the new
/// version: the touched partitions rewritten, every other file kept.
pub async fn apply_to_bronze(
    engine: &Engine,
    model: &Model,
    lake: &Lake,
    run_id: &str,
    changes: &RecordBatch,
    changes_version: u64,
    position: &str,
) -> Result<TableManifest> {
    let table = bronze_table();
    let old = versions::current(lake, &table)
        .await?
        .ok_or_else(|| Error::Config("bronze.sales is not in the lake".into()))?;
    let partition_by = old.partition_by.clone();
    let added = in_bronze_form(engine, model, &with_sign(changes, 1)?).await?;
    let removed = in_bronze_form(engine, model, &with_sign(changes, -1)?).await?;
    let mut touched = partitions_of(&added, &partition_by)?;
    touched.extend(partitions_of(&removed, &partition_by)?);

    // The rows of the touched partitions, net of the changes.
    let schema = old.schema()?;
    let columns: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| format!("\"{}\"", f.name()))
        .collect();
    let list = columns.join(", ");
    let ctx = SessionContext::new_with_state(engine.ctx().state());
    let register = |name: &str, batches: Vec<RecordBatch>| -> Result<()> {
        let t = MemTable::try_new(schema.clone(), vec![batches])?;
        ctx.register_table(name, Arc::new(t))?;
        Ok(())
    };
    register("strata_sync_added", cast_all(&added, &schema)?)?;
    register("strata_sync_removed", cast_all(&removed, &schema)?)?;
    let predicate = any_of(
        &touched
            .iter()
            .map(|p| in_partition(&partition_by, p))
            .collect::<Vec<_>>(),
    );
    // The touched partitions' rows and the added ones, split by whether
    // they equal a removed row: the copy arithmetic is needed only for
    // those (few), the rest pass through a hash join untouched. Columns
    // match NULL to NULL, as rows do.
    let on = columns
        .iter()
        .map(|c| format!("(b.{c} IS NOT DISTINCT FROM r.{c})"))
        .collect::<Vec<_>>()
        .join(" AND ");
    let base = format!(
        "(SELECT {list} FROM bronze.sales WHERE {predicate} \
          UNION ALL SELECT {list} FROM strata_sync_added)"
    );
    let removed = format!("(SELECT DISTINCT {list} FROM strata_sync_removed)");
    let b_list = columns
        .iter()
        .map(|c| format!("b.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let net = format!(
        "SELECT {list}, sum(n) AS strata_copies FROM (
            SELECT {b_list}, 1 AS n FROM {base} b LEFT SEMI JOIN {removed} r ON {on}
            UNION ALL SELECT {list}, -1 AS n FROM strata_sync_removed
         ) rows_ GROUP BY {list}"
    );
    let diverged = ctx
        .sql(&format!(
            "SELECT * FROM ({net}) n WHERE strata_copies < 0 LIMIT 5"
        ))
        .await?
        .collect()
        .await?;
    if diverged.iter().any(|b| b.num_rows() > 0) {
        let shown = datafusion::arrow::util::pretty::pretty_format_batches(&diverged)?;
        return Err(Error::Lake {
            key: table.to_string(),
            message: format!(
                "the source deleted or updated rows bronze does not hold, so the lake and \
                 the source have diverged; nothing was applied. Start over from a new \
                 snapshot with `strata sync --drop-slot` then `strata sync`. The rows:\n{shown}"
            ),
        });
    }
    let kept = ctx
        .sql(&format!(
            "SELECT {list} FROM ( \
               SELECT {b_list} FROM {base} b LEFT ANTI JOIN {removed} r ON {on} \
               UNION ALL \
               SELECT {list} FROM (SELECT *, unnest(range(strata_copies)) AS strata_copy \
                                   FROM ({net}) n WHERE strata_copies > 0) expanded \
             ) kept"
        ))
        .await?;
    // Written as a model's result is: hash-partitioned by day over every
    // core, each part sorted by its partitions, one writer per part.
    let spec = crate::lake::writer::WriteSpec {
        format: Format::Parquet,
        partition_by: partition_by.clone(),
        order_by: vec![],
        hidden: false,
    };
    let streams = crate::runner::streams(kept, &spec).await?;
    let written = write_parallel(
        lake.store(),
        &table.key(),
        &spec,
        Some(run_id),
        streams,
        Arc::new(|_| {}),
    )
    .await?;

    let rewritten: BTreeSet<String> = touched.iter().map(|p| folder(&partition_by, p)).collect();
    let mut files: Vec<DataFile> = old
        .files
        .iter()
        .filter(|f| {
            let dir = f.key.rsplit_once('/').map_or("", |(d, _)| d);
            !rewritten.contains(dir)
        })
        .map(|f| old.carried(f))
        .collect();
    files.extend(written.files);
    let mut inputs = old.inputs.clone();
    inputs.insert(changes_table().to_string(), changes_version);
    let mut manifest = TableManifest {
        run_id: run_id.to_string(),
        written_at: crate::sys::now(),
        model: SYNC_MODEL.into(),
        version: 0,
        file_tag: run_id.to_string(),
        inputs,
        restored_from: None,
        source_position: Some(position.to_string()),
        // The model's run summed what it wrote; a partial rewrite cannot.
        totals: BTreeMap::new(),
        ..old
    };
    manifest.set_files(files);
    versions::commit(lake, manifest).await
}

/// Batches cast to `schema` (the bronze model's result types can differ in
/// nullability or string kind from the table's).
pub(crate) fn cast_all(batches: &[RecordBatch], schema: &Arc<Schema>) -> Result<Vec<RecordBatch>> {
    batches
        .iter()
        .map(|b| {
            let columns = schema
                .fields()
                .iter()
                .map(|f| {
                    let c = b.column(b.schema().index_of(f.name())?);
                    Ok(datafusion::arrow::compute::cast(c, f.data_type())?)
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(RecordBatch::try_new(schema.clone(), columns)?)
        })
        .collect()
}

/// `a OR b OR ...` as a balanced tree of parenthesised halves: a batch
/// may touch every day of bronze (1,461 at 1M sales), and a chain that long
/// nests as deep, past what the SQL parser's recursion has stack for.
fn any_of(conditions: &[String]) -> String {
    match conditions {
        [] => "false".into(),
        [one] => one.clone(),
        _ => {
            let (left, right) = conditions.split_at(conditions.len() / 2);
            format!("({} OR {})", any_of(left), any_of(right))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn many_conditions_nest_as_a_balanced_tree() {
        let parts: Vec<String> = (0..5).map(|i| format!("d = {i}")).collect();
        assert_eq!(
            super::any_of(&parts),
            "((d = 0 OR d = 1) OR (d = 2 OR (d = 3 OR d = 4)))"
        );
        assert_eq!(super::any_of(&[]), "false");
        let many: Vec<String> = (0..100_000).map(|i| format!("d = {i}")).collect();
        let depth = super::any_of(&many)
            .chars()
            .take_while(|c| *c == '(')
            .count();
        assert!(depth <= 17, "{depth}");
    }

    use super::*;

    #[test]
    fn a_change_file_names_the_positions_it_covers() {
        assert_eq!(
            covered("_sync=r1/changes-0000000001000000-00000000010000A0.r1.parquet"),
            Some((0x1000000, 0x10000A0))
        );
        assert_eq!(covered("_sync=r1/part-00000.r1.parquet"), None);
    }

    #[test]
    fn a_null_partition_is_the_hive_default_folder() {
        let cols = vec!["year".to_string(), "month".to_string(), "day".to_string()];
        assert_eq!(
            folder(&cols, &[Some(2021), Some(1), Some(5)]),
            "year=2021/month=1/day=5"
        );
        assert_eq!(
            folder(&cols, &[None, None, None]),
            format!("year={NULL_PARTITION}/month={NULL_PARTITION}/day={NULL_PARTITION}")
        );
    }
}
