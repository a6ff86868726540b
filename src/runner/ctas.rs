//! Athena's writing statements at the prompt: `CREATE TABLE ... AS` builds a
//! lake table exactly as a model would (staged, swapped in whole, manifest,
//! registered), and `UNLOAD` writes a query's result to a folder.

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use object_store::local::LocalFileSystem;
use object_store::path::Path;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::lake::writer::{WriteSpec, write_stream};
use crate::lake::{Layer, TableId};
use crate::models::Model;

fn message(text: String) -> Result<Vec<RecordBatch>> {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "result",
        DataType::Utf8,
        false,
    )]));
    Ok(vec![RecordBatch::try_new(
        schema,
        vec![Arc::new(StringArray::from(vec![text]))],
    )?])
}

/// `CREATE TABLE layer.table WITH (...) AS query`.
pub async fn create_table_as(
    engine: &Engine,
    table: &str,
    write: &WriteSpec,
    query: &str,
) -> Result<Vec<RecordBatch>> {
    let (layer, name) = table.split_once('.').ok_or_else(|| {
        Error::Config(format!(
            "CREATE TABLE {table}: name the layer (e.g. gold.{table})"
        ))
    })?;
    let id = TableId::new(Layer::new(layer)?, name)?;
    let model = Model {
        table: id.clone(),
        path: PathBuf::from(format!("CREATE TABLE {id}")),
        sql: query.to_string(),
        write: write.clone(),
        reads: vec![],
    };
    let lake = engine.lake().clone();
    let _lock = lake.lock().await?;
    // Recorded like any run: its objects belong in meta.objects.
    let journal = crate::metadata::Journal::begin(
        &lake,
        super::new_run_id(),
        &format!("CREATE TABLE {id} AS"),
    )
    .await?;
    let run_id = journal.run_id();
    let built = super::build(
        &engine.deterministic_ctx(),
        &lake,
        &model,
        &run_id,
        std::path::Path::new("."),
        &|_| {},
    )
    .await;
    let (manifests, error) = match &built {
        Ok(m) => (vec![m.clone()], None),
        Err(e) => (vec![], Some(crate::error::user_message(e))),
    };
    journal.finish(None, &manifests, &|_| None, error).await?;
    let manifest = built?;
    engine.register(&manifest)?;
    lake.clear_staging(&run_id).await?;
    message(format!(
        "{id}: {} rows in {} files, written to the lake",
        manifest.rows,
        manifest.files.len()
    ))
}

/// `UNLOAD (query) TO 'folder' WITH (...)`: the folder must be new or empty;
/// the files are written beside it and moved in when complete.
pub async fn unload(
    engine: &Engine,
    query: &str,
    to: &str,
    write: &WriteSpec,
) -> Result<Vec<RecordBatch>> {
    if to.starts_with("s3://") {
        return unload_s3(engine, query, to, write).await;
    }
    if to.contains("://") && !to.starts_with("file://") {
        return Err(Error::Config(format!(
            "UNLOAD to {to}: only local folders and s3:// are supported"
        )));
    }
    let target = PathBuf::from(to.trim_start_matches("file://"));
    if target.exists()
        && std::fs::read_dir(&target)
            .map_err(|e| Error::io(&target, e))?
            .next()
            .is_some()
    {
        return Err(Error::Config(format!(
            "UNLOAD: {} is not empty (Athena requires an empty location)",
            target.display()
        )));
    }
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Config(format!("UNLOAD: {to} is not a folder name")))?;
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let store: Arc<dyn object_store::ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(&parent)?);
    let staging = format!(".{name}.strata-unload");
    let stream = unload_stream(engine, query, write).await?;
    let written =
        write_stream(&store, &Path::from(staging.as_str()), write, stream, |_| {}).await?;
    let staged = parent.join(&staging);
    if target.exists() {
        std::fs::remove_dir(&target).map_err(|e| Error::io(&target, e))?;
    }
    std::fs::rename(&staged, &target).map_err(|e| Error::io(&target, e))?;
    message(format!(
        "{} rows in {} files unloaded to {}",
        written.rows,
        written.files.len(),
        target.display()
    ))
}

/// The UNLOAD query's rows, ordered as the writer needs them.
async fn unload_stream(
    engine: &Engine,
    query: &str,
    write: &WriteSpec,
) -> Result<datafusion::execution::SendableRecordBatchStream> {
    let err = |e| Error::sql("UNLOAD", e);
    let df = engine
        .session_for(query)
        .await?
        .sql(query)
        .await
        .map_err(err)?;
    write
        .cluster(df)
        .map_err(err)?
        .execute_stream()
        .await
        .map_err(err)
}

/// `UNLOAD ... TO 's3://bucket/prefix/folder'`: S3 cannot rename, so the
/// files go straight into the (new or empty) folder, and are deleted again
/// if the query fails midway.
async fn unload_s3(
    engine: &Engine,
    query: &str,
    to: &str,
    write: &WriteSpec,
) -> Result<Vec<RecordBatch>> {
    let trimmed = to.trim_end_matches('/');
    let (parent, name) = trimmed
        .rsplit_once('/')
        .filter(|(p, n)| p.len() > "s3:/".len() && !n.is_empty())
        .ok_or_else(|| Error::Config(format!("UNLOAD: {to} names no folder inside a bucket")))?;
    let target = crate::lake::Lake::open(parent)?;
    let folder = Path::from(name);
    let existing: Vec<_> =
        futures::TryStreamExt::try_collect(target.store().list(Some(&folder))).await?;
    if !existing.is_empty() {
        return Err(Error::Config(format!(
            "UNLOAD: {to} is not empty (Athena requires an empty location)"
        )));
    }
    let stream = unload_stream(engine, query, write).await?;
    let written = match write_stream(target.store(), &folder, write, stream, |_| {}).await {
        Ok(w) => w,
        Err(e) => {
            target.delete_prefix(&folder).await?;
            return Err(e);
        }
    };
    message(format!(
        "{} rows in {} files unloaded to {trimmed}",
        written.rows,
        written.files.len()
    ))
}
