//! Updating a table in place of rebuilding it whole, for models declared
//! `-- incremental: replace partitions`.
//!
//! Such a model promises that it treats the one partitioned table it reads
//! partition by partition: rows of different input partitions never meet
//! in one row of its result (a day of silver comes from that day of bronze,
//! a day of `daily_sales` from that day's month of silver). A table
//! partitioned by the leading columns of its input's partitions (silver's
//! year and month of bronze's year, month and day) is made from whole
//! groups of them, so a changed day brings in its whole month. So when only
//! some partitions of that input changed since the table was built (a
//! `strata sync` batch touched a few days of bronze), the build:
//!
//! 1. finds those partitions by comparing the input's file lists at the
//!    version the table was built from and now (a partition whose files
//!    differ changed), so a killed sync's work, or several batches, are
//!    all found the same way;
//! 2. runs the model's own `SELECT` with the input narrowed to those
//!    partitions as they were, keeping only which of the table's
//!    partitions its rows fell in (the ones to clear: a day whose every
//!    sale moved away has nothing to write, but must go);
//! 3. runs it again over those partitions as they are now, and writes the
//!    result;
//! 4. commits a version listing the table's other files as they were and
//!    the new ones in place of the cleared partitions: one atomic commit,
//!    as a whole rebuild is.
//!
//! Anything else rebuilds whole, and says why in the log: the table was
//! never built, its SQL or layout changed, no input or several changed, the
//! changed input is not partitioned, the version it was built from is gone,
//! or most partitions changed (then a whole rebuild costs less).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::datasource::empty::EmptyTable;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{DataFrame, SessionContext, col};

use super::{Target, remove_tagged, write_result};
use crate::engine::Engine;
use crate::engine::catalog::table_provider;
use crate::engine::overlay::overlay;
use crate::error::{Error, Result};
use crate::lake::manifest::{DataFile, TableManifest, sha256_hex};
use crate::lake::writer::{folder_of, partition_folders};
use crate::lake::{Lake, versions};
use crate::models::Incremental;

/// A whole rebuild is chosen once more than this share of the input's
/// partitions changed: rewriting most of a table piecewise reads the old
/// slice too, and costs more than writing it afresh.
const MOST_PARTITIONS: f64 = 0.5;

/// The part of a table an incremental build replaces.
#[derive(Debug)]
pub(crate) struct Slice {
    /// The input that changed (`layer.table`).
    input: String,
    /// Its partitions that changed, as folders (`year=2024/month=1/day=5`).
    folders: BTreeSet<String>,
    /// How many partitions it has (before and after, together).
    of: usize,
    /// The input at the version the table was built from, narrowed to the
    /// changed partitions.
    before: TableManifest,
    /// The input now, narrowed likewise.
    after: TableManifest,
    /// The table's current version.
    previous: TableManifest,
}

/// How a build of a model goes.
#[derive(Debug)]
pub(crate) enum Plan {
    /// Rebuilt whole, for the reason given.
    Whole(String),
    /// Only a slice replaced.
    Slice(Box<Slice>),
}

/// The SHA-256 a manifest records of the SQL that defined its table.
pub(crate) fn definition(sql: &str) -> String {
    sha256_hex(sql.as_bytes())
}

/// Decides how `target` is built, given its table's current version
/// (`previous`, as the engine has it registered) and that of each lake
/// table it reads (`now`).
pub(crate) async fn plan(
    lake: &Lake,
    target: &Target,
    previous: Option<TableManifest>,
    now: &BTreeMap<String, TableManifest>,
) -> Result<Plan> {
    let whole = |why: String| Ok(Plan::Whole(why));
    let Some(strategy) = &target.incremental else {
        return whole("it is not incremental".into());
    };
    let Some(previous) = previous else {
        return whole("it was never built".into());
    };
    if previous.definition != definition(&target.sql) {
        return whole(format!(
            "its SQL is not the one version {} was built by",
            previous.version
        ));
    }
    let hidden = !previous.hidden_partition_by.is_empty();
    if previous.folders_by() != target.write.partition_by
        || hidden != target.write.hidden
        || previous.format != target.write.format
    {
        return whole("its layout changed".into());
    }
    let mut changed = vec![];
    for (t, m) in now {
        match previous.inputs.get(t) {
            Some(&v) if v == m.version => {}
            Some(&v) => changed.push((t, v, m)),
            None => {
                return whole(format!(
                    "version {} was not built from {t}",
                    previous.version
                ));
            }
        }
    }
    if let Some(gone) = previous.inputs.keys().find(|t| !now.contains_key(*t)) {
        return whole(format!("{gone} is gone"));
    }
    let (input, built_from, after) = match changed.as_slice() {
        [] => return whole("none of its inputs changed".into()),
        [one] => *one,
        _ => return whole("several of its inputs changed".into()),
    };
    if after.folders_by().is_empty() {
        return whole(format!("{input} is not partitioned"));
    }
    let before = match versions::at(lake, &after.table, built_from).await {
        Ok(m) => m,
        Err(e) => {
            return whole(format!(
                "version {built_from} of {input}, which it was built from, cannot be read ({e})"
            ));
        }
    };
    if before.folders_by() != after.folders_by() || before.columns != after.columns {
        return whole(format!("{input}'s layout changed"));
    }
    let (mut folders, of) = changed_partitions(&before, after);
    match strategy {
        Incremental::ReplacePartitions => {
            // A table partitioned by the leading columns of its input's
            // partitions (silver's months of bronze's days) makes each of
            // its partitions from all the input partitions that share
            // them: those are read whole.
            let k = target.write.partition_by.len();
            if k < after.folders_by().len()
                && after.folders_by()[..k] == target.write.partition_by[..]
            {
                folders = widened(&folders, k, &before, after);
            }
        }
        Incremental::MergeOn(key) => {
            if !after.columns.iter().any(|c| &c.name == key) {
                return whole(format!("{input} has no column {key} to merge on"));
            }
        }
    }
    if folders.len() as f64 > MOST_PARTITIONS * of as f64 {
        return whole(format!(
            "{} of {of} partitions of {input} changed",
            folders.len()
        ));
    }
    Ok(Plan::Slice(Box::new(Slice {
        input: input.clone(),
        before: narrowed(&before, &folders),
        after: narrowed(after, &folders),
        folders,
        of,
        previous,
    })))
}

/// The partitions (folders) whose files differ between two versions of a
/// table, and how many partitions the two have together.
fn changed_partitions(before: &TableManifest, after: &TableManifest) -> (BTreeSet<String>, usize) {
    fn by_folder(m: &TableManifest) -> BTreeMap<&str, Vec<(&str, &str)>> {
        let mut out: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
        for f in &m.files {
            out.entry(folder_of(&f.key))
                .or_default()
                .push((f.key.as_str(), f.sha256.as_str()));
        }
        out
    }
    let (b, a) = (by_folder(before), by_folder(after));
    let all: BTreeSet<&str> = b.keys().chain(a.keys()).copied().collect();
    let changed = all
        .iter()
        .filter(|d| b.get(*d) != a.get(*d))
        .map(|d| d.to_string())
        .collect();
    (changed, all.len())
}

/// Every folder of `before` and `after` whose first `k` levels are those
/// of one of `folders`.
fn widened(
    folders: &BTreeSet<String>,
    k: usize,
    before: &TableManifest,
    after: &TableManifest,
) -> BTreeSet<String> {
    let prefix = |folder: &str| folder.split('/').take(k).collect::<Vec<_>>().join("/");
    let changed: BTreeSet<String> = folders.iter().map(|f| prefix(f)).collect();
    before
        .files
        .iter()
        .chain(&after.files)
        .map(|f| folder_of(&f.key))
        .filter(|d| changed.contains(&prefix(d)))
        .map(str::to_string)
        .collect()
}

/// `m` with only the files of `folders`.
fn narrowed(m: &TableManifest, folders: &BTreeSet<String>) -> TableManifest {
    let mut m = m.clone();
    let files = m
        .files
        .iter()
        .filter(|f| folders.contains(folder_of(&f.key)))
        .cloned()
        .collect();
    m.set_files(files);
    m
}

/// `ctx` with `input` read as the table version `m`.
fn reading(
    ctx: &SessionContext,
    lake: &Arc<Lake>,
    input: &str,
    m: &TableManifest,
) -> Result<SessionContext> {
    let (schema, table) = input
        .split_once('.')
        .ok_or_else(|| Error::Internal(format!("`{input}` is not layer.table")))?;
    let provider = table_provider(lake, m, true)?;
    overlay(ctx, vec![((schema.into(), table.into()), provider)])
}

/// Fails, removing what the run wrote, when an update in place wrote
/// other columns than the table's: only a whole build may change them.
async fn same_columns(
    lake: &Arc<Lake>,
    target: &Target,
    run_id: &str,
    columns: &[crate::lake::manifest::Column],
    previous: &TableManifest,
) -> Result<()> {
    if columns == previous.columns {
        return Ok(());
    }
    remove_tagged(lake, &target.table, run_id).await?;
    Err(Error::Lake {
        key: target.table.to_string(),
        message: "the model's result no longer has the table's columns; \
                  rebuild it whole (`strata run --select` it)"
            .into(),
    })
}

/// Replaces the slice of `target`'s table that `slice` names, and commits
/// the new version. `inputs` are the versions of the tables it read.
pub(crate) async fn build_slice(
    ctx: &SessionContext,
    lake: &Arc<Lake>,
    target: &Target,
    slice: &Slice,
    run_id: &str,
    inputs: BTreeMap<String, u64>,
    on_rows: Arc<dyn Fn(u64) + Send + Sync>,
) -> Result<TableManifest> {
    let partition_by = &target.write.partition_by;
    tracing::info!(
        table = %target.table, input = %slice.input, changed = slice.folders.len(),
        partitions = slice.of, "replacing the partitions a change reached"
    );
    // Which partitions the changed input's old rows made: cleared, whether
    // or not the new rows refill them.
    let before = reading(ctx, lake, &slice.input, &slice.before)?;
    let columns: Vec<&str> = partition_by.iter().map(String::as_str).collect();
    let made = Engine::sql_from_file(&before, &target.origin, &target.sql)
        .await?
        .select_columns(&columns)
        .and_then(|df| df.distinct())
        .map_err(|e| Error::sql(&target.origin, e))?
        .collect()
        .await
        .map_err(|e| Error::sql(&target.origin, e))?;
    let mut cleared = partition_folders(&made, partition_by)?;

    let after = reading(ctx, lake, &slice.input, &slice.after)?;
    let written = write_result(&after, lake, target, run_id, on_rows).await?;
    let previous = &slice.previous;
    let columns = target.columns_of(&written.schema);
    if !written.files.is_empty() {
        same_columns(lake, target, run_id, &columns, previous).await?;
    }
    cleared.extend(written.files.iter().map(|f| folder_of(&f.key).to_string()));
    let mut files: Vec<DataFile> = previous
        .files
        .iter()
        .filter(|f| !cleared.contains(folder_of(&f.key)))
        .map(|f| previous.carried(f))
        .collect();
    files.extend(written.files);
    // What the run summed covers the new partitions only: no totals.
    let manifest = target.manifest(
        run_id,
        previous.columns.clone(),
        files,
        inputs,
        BTreeMap::new(),
    );
    versions::commit(lake, manifest).await
}

/// Above this share of a table's rows, a merge whose keys changed is
/// built whole instead.
const MOST_KEYS: f64 = 0.2;

/// The keys a merge recomputes, as a filter on the key column.
#[derive(Debug, Default)]
struct KeySet {
    /// Integer keys (any width), the usual case.
    integers: HashSet<i64>,
    /// Other keys.
    others: HashSet<ScalarValue>,
    /// Whether NULL is one of them.
    null: bool,
}

impl KeySet {
    fn extend(&mut self, column: &ArrayRef) -> datafusion::error::Result<()> {
        if column.data_type().is_integer() {
            let values = cast(column, &DataType::Int64)?;
            let values = values.as_primitive::<Int64Type>();
            self.null |= values.null_count() > 0;
            self.integers.extend(values.iter().flatten());
            return Ok(());
        }
        for i in 0..column.len() {
            let v = ScalarValue::try_from_array(column, i)?;
            if v.is_null() {
                self.null = true;
            } else {
                self.others.insert(v);
            }
        }
        Ok(())
    }

    fn len(&self) -> usize {
        self.integers.len() + self.others.len() + usize::from(self.null)
    }

    /// `key` among the keys (or, `negated`, not among them), NULL included.
    fn filter(keys: &Arc<KeySet>, key: &str, negated: bool) -> Expr {
        let udf = ScalarUDF::from(KeyFilter {
            keys: keys.clone(),
            negated,
            signature: Signature::any(1, Volatility::Immutable),
        });
        udf.call(vec![col(key)])
    }

    fn contains(&self, column: &ArrayRef) -> datafusion::error::Result<BooleanArray> {
        if column.data_type().is_integer() {
            let values = cast(column, &DataType::Int64)?;
            return Ok(values
                .as_primitive::<Int64Type>()
                .iter()
                .map(|v| Some(v.map_or(self.null, |v| self.integers.contains(&v))))
                .collect());
        }
        (0..column.len())
            .map(|i| {
                let v = ScalarValue::try_from_array(column, i)?;
                Ok(Some(if v.is_null() {
                    self.null
                } else {
                    self.others.contains(&v)
                }))
            })
            .collect()
    }
}

/// `strata_merge_keys(key)`: whether a row's key is one a merge recomputes.
#[derive(Debug)]
struct KeyFilter {
    keys: Arc<KeySet>,
    negated: bool,
    signature: Signature,
}

// One merge's filter equals only itself: its set is compared by identity.
impl PartialEq for KeyFilter {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.keys, &other.keys) && self.negated == other.negated
    }
}
impl Eq for KeyFilter {}
impl std::hash::Hash for KeyFilter {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.keys) as usize).hash(state);
        self.negated.hash(state);
    }
}

impl ScalarUDFImpl for KeyFilter {
    fn name(&self) -> &str {
        if self.negated {
            "strata_merge_kept"
        } else {
            "strata_merge_keys"
        }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Boolean)
    }
    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let column = args.args[0].to_array(args.number_rows)?;
        let found = self.keys.contains(&column)?;
        Ok(ColumnarValue::Array(Arc::new(if self.negated {
            datafusion::arrow::compute::not(&found)?
        } else {
            found
        })))
    }
}

/// A table version as a frame; one of no files (a partition a change
/// created or emptied) as an empty table of its schema, which every plan
/// takes (a listing of no files has no partitions, which a join's build
/// side refuses).
fn frame(
    ctx: &SessionContext,
    lake: &Arc<Lake>,
    m: &TableManifest,
) -> datafusion::error::Result<DataFrame> {
    let provider = table_provider(lake, m, true)
        .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
    if m.files.is_empty() {
        return ctx.read_table(Arc::new(EmptyTable::new(provider.schema())));
    }
    ctx.read_table(provider)
}

/// Merges into `target`'s table the rows of the keys whose input rows
/// changed in `slice` (`incremental: merge on key`), and commits the new
/// version: the table's other rows as they were, beside the model's rows
/// for those keys computed from its inputs as they are now.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn build_merge(
    ctx: &SessionContext,
    lake: &Arc<Lake>,
    target: &Target,
    slice: &Slice,
    key: &str,
    run_id: &str,
    inputs: BTreeMap<String, u64>,
    on_rows: Arc<dyn Fn(u64) + Send + Sync>,
) -> Result<TableManifest> {
    let sql_error = |e| Error::sql(&target.origin, e);
    // The input's rows that are in one version of its changed partitions
    // and not the other: their keys are the ones whose rows change.
    let before = frame(ctx, lake, &slice.before).map_err(sql_error)?;
    let after = frame(ctx, lake, &slice.after).map_err(sql_error)?;
    let keys = before
        .clone()
        .except(after.clone())
        .and_then(|removed| removed.union(after.except(before)?))
        .and_then(|changed| changed.select_columns(&[key]))
        .and_then(|k| k.distinct())
        .map_err(sql_error)?
        .collect()
        .await
        .map_err(sql_error)?;
    let mut changed = KeySet::default();
    for batch in &keys {
        changed.extend(batch.column(0)).map_err(sql_error)?;
    }
    let previous = &slice.previous;
    // Most keys changed: recomputing them all costs what a whole build
    // does, and the filter on top of it more.
    if changed.len() as f64 > MOST_KEYS * previous.rows as f64 {
        tracing::info!(
            table = %target.table, why = format!("{} keys of {} rows changed", changed.len(), previous.rows),
            "rebuilt whole"
        );
        return super::build(ctx, lake, target, run_id, inputs, on_rows).await;
    }
    tracing::info!(
        table = %target.table, input = %slice.input, key, keys = changed.len(),
        "merging the rows of the keys a change reached"
    );
    // The filter is on the model's result; DataFusion pushes it below the
    // model's GROUP BY or DISTINCT on that key, to the input's scan. It is
    // one function over a hash set, whatever the number of keys (an IN
    // list of tens of thousands of literals costs seconds to plan).
    let changed = Arc::new(changed);
    let fresh = KeySet::filter(&changed, key, false);
    let kept = KeySet::filter(&changed, key, true);
    let names: Vec<&str> = previous.columns.iter().map(|c| c.name.as_str()).collect();
    let fresh = Engine::sql_from_file(ctx, &target.origin, &target.sql)
        .await?
        .filter(fresh)
        .and_then(|df| df.select_columns(&names))
        .map_err(sql_error)?;
    let kept = frame(ctx, lake, previous)
        .and_then(|df| df.filter(kept))
        .and_then(|df| df.select_columns(&names))
        .map_err(sql_error)?;
    // In key order, as the dimensions' whole builds write them.
    let merged = kept
        .union(fresh)
        .and_then(|df| df.sort(vec![col(key).sort(true, false)]))
        .map_err(sql_error)?;
    let written = super::write_frame(merged, lake, target, run_id, on_rows).await?;
    let columns = target.columns_of(&written.schema);
    same_columns(lake, target, run_id, &columns, previous).await?;
    // The whole table was written: its sums are the table's.
    let manifest = target.manifest(run_id, columns, written.files, inputs, written.totals);
    versions::commit(lake, manifest).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::manifest::Format;
    use crate::lake::{Layer, TableId};

    fn version(files: &[(&str, &str)]) -> TableManifest {
        TableManifest {
            table: TableId::new(Layer::new("bronze").unwrap(), "sales").unwrap(),
            format: Format::Parquet,
            partition_by: vec!["day".into()],
            hidden_partition_by: vec![],
            columns: vec![],
            files: files
                .iter()
                .map(|(k, sha)| DataFile {
                    key: k.to_string(),
                    rows: 1,
                    bytes: 1,
                    sha256: sha.to_string(),
                    run_id: None,
                })
                .collect(),
            rows: 0,
            bytes: 0,
            run_id: "r".into(),
            written_at: String::new(),
            model: String::new(),
            version: 0,
            file_tag: "r".into(),
            inputs: BTreeMap::new(),
            restored_from: None,
            source_position: None,
            totals: BTreeMap::new(),
            definition: String::new(),
        }
    }

    #[test]
    fn a_partition_changed_when_its_files_differ() {
        let before = version(&[
            ("day=1/part-0.r.parquet", "a"),
            ("day=2/part-0.r.parquet", "b"),
            ("day=3/part-0.r.parquet", "c"),
            ("day=4/part-0.r.parquet", "d"),
        ]);
        let after = version(&[
            ("day=1/part-0.r.parquet", "a"),
            // rewritten
            ("day=2/part-0.s.parquet", "b2"),
            // day 3 emptied, day 5 new, day 4 gained a file
            ("day=4/part-0.r.parquet", "d"),
            ("day=4/part-1.s.parquet", "e"),
            ("day=5/part-0.s.parquet", "f"),
        ]);
        let (changed, of) = changed_partitions(&before, &after);
        assert_eq!(
            changed.into_iter().collect::<Vec<_>>(),
            ["day=2", "day=3", "day=4", "day=5"]
        );
        assert_eq!(of, 5);
        let (none, _) = changed_partitions(&before, &before);
        assert!(none.is_empty());
        let mut monthly = after.clone();
        for (f, key) in monthly.files.iter_mut().zip([
            "m=1/day=1/a.parquet",
            "m=1/day=2/a.parquet",
            "m=2/day=3/a.parquet",
            "m=2/day=4/a.parquet",
            "m=3/day=5/a.parquet",
        ]) {
            f.key = key.into();
        }
        let wide = widened(
            &["m=2/day=4".to_string()].into_iter().collect(),
            1,
            &monthly,
            &monthly,
        );
        assert_eq!(
            wide.into_iter().collect::<Vec<_>>(),
            ["m=2/day=3", "m=2/day=4"]
        );
        let narrow = narrowed(&after, &["day=4".to_string()].into_iter().collect());
        assert_eq!(narrow.files.len(), 2);
        assert_eq!(narrow.rows, 2);
    }
}
