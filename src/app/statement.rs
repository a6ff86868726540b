//! One statement at the prompt (or from `-c`, `-f`, a pipe): Athena's
//! catalog statements answered from the lake, its writing statements built
//! here, and everything else run by DataFusion. `CREATE TABLE ... AS` builds
//! a lake table exactly as a model would (staged, swapped in whole,
//! manifest, registered) and is recorded as a run; `UNLOAD` writes a query's
//! result to a folder.

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use object_store::local::LocalFileSystem;
use object_store::path::Path;

use super::Workspace;
use super::recorded::{Record, recorded};
use crate::engine::Engine;
use crate::engine::athena::{self, Statement};
use crate::engine::interrupt::Interrupt;
use crate::engine::time_travel::{self, At};
use crate::error::{Error, Result};
use crate::lake::writer::{WriteSpec, write_stream};
use crate::lake::{Layer, TableId, versions};
use crate::runner::{Run, Step, StepStatus, Target};

/// Runs one statement and returns its rows.
pub async fn execute(ws: &Workspace, sql: &str) -> Result<Vec<RecordBatch>> {
    let engine = &ws.engine;
    // Each statement reads the version of each table current when it is
    // planned, however long the session has been open.
    engine.refresh().await?;
    let statement = athena::classify(sql);
    match &statement {
        Statement::CreateTableAs {
            table,
            write,
            query,
        } => {
            return create_table_as(ws, table, write, query).await;
        }
        Statement::Unload { query, to, write } => {
            return unload(ws, query, to, write).await;
        }
        _ => {}
    }
    if let Some(batches) = athena::execute(engine, &statement).await? {
        return Ok(batches);
    }
    let Statement::Sql(sql) = statement else {
        unreachable!("athena::execute answers every other statement")
    };
    let Some((sql, travels)) = time_travel::rewrite(&sql)? else {
        return query(engine, &sql).await;
    };
    let mut registered = vec![];
    let mut result = Ok(vec![]);
    for t in &travels {
        let lake = engine.lake();
        let found = match t.at {
            At::Version(v) => versions::at(lake, &t.table, v).await,
            At::Timestamp(when) => versions::as_of(lake, &t.table, when).await,
        };
        match found.and_then(|m| engine.register_version(&m, &t.name).map(|()| m)) {
            Ok(m) => registered.push((m, t.name.clone())),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if result.is_ok() {
        result = query(engine, &sql).await;
    }
    // The names were this statement's alone.
    for (m, name) in registered {
        engine.deregister_version(&m, &name)?;
    }
    result
}

/// Plans and runs a query (after the Athena statements were answered).
async fn query(engine: &Engine, sql: &str) -> Result<Vec<RecordBatch>> {
    // Belt and braces for the refusal in `athena::classify`: DataFusion
    // would append an unrecorded file to a lake table's folder.
    let options = datafusion::execution::context::SQLOptions::new().with_allow_dml(false);
    let df = plan_query(engine, sql, options).await?;
    df.collect().await.map_err(|e| Error::query("", e))
}

/// Plans a query in Trino's spelling, naming a missing table as written.
async fn plan_query(
    engine: &Engine,
    sql: &str,
    options: datafusion::execution::context::SQLOptions,
) -> Result<datafusion::prelude::DataFrame> {
    let sql = crate::engine::athena::trino_spelling(sql);
    let ctx = engine.session_for(&sql)?;
    check_tables(&ctx, engine, &sql)?;
    crate::engine::plan(&ctx, &sql, options)
        .await
        .map_err(|e| Error::query("", e))
}

/// A statement planned once for a client that runs it, perhaps many times
/// with different parameters (`strata serve`'s prepared statements). Only
/// reading statements are prepared.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The statement's text.
    pub sql: String,
    /// The types DataFusion inferred for `$1`, `$2`, ..., in order (`None`
    /// where the statement does not say).
    pub params: Vec<Option<DataType>>,
    /// The columns of its result.
    pub schema: datafusion::arrow::datatypes::SchemaRef,
    /// A query DataFusion plans, rather than an Athena catalog statement
    /// (or a time-travel query) that [`execute`] answers.
    planned: bool,
}

/// What a read-only session may run: queries, never DDL or DML.
fn read_only() -> datafusion::execution::context::SQLOptions {
    datafusion::execution::context::SQLOptions::new()
        .with_allow_dml(false)
        .with_allow_ddl(false)
}

/// A statement planned for a read-only session: what a client is told of
/// it, and its work, ready to run once as planned.
pub struct Planned {
    /// Its parameters and columns.
    pub prepared: Prepared,
    /// What running it does.
    pub work: Work,
}

/// A statement's work, owning all it needs, so that it can run on
/// another runtime than the one that planned it.
pub enum Work {
    /// A DataFusion plan, not yet run.
    Plan(datafusion::prelude::DataFrame),
    /// An Athena catalog statement's rows, answered while planning.
    Rows(Vec<RecordBatch>, datafusion::arrow::datatypes::SchemaRef),
}

impl Work {
    /// Runs it, streaming its rows; `interrupt` stops every operator of
    /// its plan at the next batch.
    pub async fn run(
        self,
        interrupt: &Interrupt,
    ) -> Result<datafusion::physical_plan::SendableRecordBatchStream> {
        match self {
            Work::Plan(df) => {
                let task = Arc::new(df.task_ctx());
                let plan = df
                    .create_physical_plan()
                    .await
                    .map_err(|e| Error::query("", e))?;
                let plan = interrupt.guard(plan).map_err(|e| Error::query("", e))?;
                datafusion::physical_plan::execute_stream(plan, task)
                    .map_err(|e| Error::query("", e))
            }
            Work::Rows(batches, schema) => memory_stream(batches, &schema),
        }
    }
}

fn memory_stream(
    batches: Vec<RecordBatch>,
    schema: &datafusion::arrow::datatypes::SchemaRef,
) -> Result<datafusion::physical_plan::SendableRecordBatchStream> {
    let stream =
        datafusion::physical_plan::memory::MemoryStream::try_new(batches, schema.clone(), None)?;
    Ok(Box::pin(stream))
}

/// Plans `sql` for a read-only session: refuses what would write to the
/// lake (`CREATE TABLE AS`, `UNLOAD`, `MSCK REPAIR`, DDL, DML), and learns
/// its parameters and result columns. An Athena catalog statement is
/// answered here to learn its columns; its rows are kept for [`Planned::stream`].
pub async fn plan(ws: &Workspace, sql: &str) -> Result<Planned> {
    let statement = athena::classify(sql);
    if let Statement::CreateTableAs { .. } | Statement::Unload { .. } | Statement::Repair(_) =
        &statement
    {
        return Err(Error::Statement(
            "the lake is read-only here: CREATE TABLE AS, UNLOAD and MSCK REPAIR run in \
             `strata sql`"
                .into(),
        ));
    }
    if let Statement::Sql(text) = &statement
        && time_travel::rewrite(text)?.is_none()
    {
        ws.engine.refresh().await?;
        let df = plan_query(&ws.engine, text, read_only()).await?;
        let types = df
            .logical_plan()
            .get_parameter_types()
            .map_err(|e| Error::query("", e))?;
        // `$1` .. `$n`; a gap (a statement naming `$2` but not `$1`) is a
        // parameter of unknown type.
        let n = types
            .keys()
            .filter_map(|k| k.strip_prefix('$')?.parse::<usize>().ok())
            .max()
            .unwrap_or(0);
        let params = (1..=n)
            .map(|i| types.get(&format!("${i}")).cloned().flatten())
            .collect();
        let prepared = Prepared {
            sql: sql.to_string(),
            params,
            schema: Arc::new(df.schema().as_arrow().clone()),
            planned: true,
        };
        return Ok(Planned {
            prepared,
            work: Work::Plan(df),
        });
    }
    // `execute` brings the tables up to date itself.
    let batches = execute(ws, sql).await?;
    let prepared = Prepared {
        sql: sql.to_string(),
        params: vec![],
        schema: batches
            .first()
            .map(|b| b.schema())
            .unwrap_or_else(|| Arc::new(Schema::empty())),
        planned: false,
    };
    let schema = prepared.schema.clone();
    Ok(Planned {
        prepared,
        work: Work::Rows(batches, schema),
    })
}

/// Binds `params` to a prepared statement's `$1`, `$2`, ..., planned over
/// the tables as they are now: its work, ready to run.
pub async fn bind(
    ws: &Workspace,
    prepared: &Prepared,
    params: Vec<datafusion::scalar::ScalarValue>,
) -> Result<Work> {
    if !prepared.planned {
        let batches = execute(ws, &prepared.sql).await?;
        return Ok(Work::Rows(batches, prepared.schema.clone()));
    }
    ws.engine.refresh().await?;
    let mut df = plan_query(&ws.engine, &prepared.sql, read_only()).await?;
    if !params.is_empty() {
        df = df
            .with_param_values(params)
            .map_err(|e| Error::query("", e))?;
    }
    Ok(Work::Plan(df))
}

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

/// Fails a statement that names a table the session does not have, naming
/// the table as it was written (DataFusion would name it with its internal
/// catalog) and the nearest table that does exist. Statements that do not
/// parse are left to DataFusion, whose error says where.
fn check_tables(
    ctx: &datafusion::prelude::SessionContext,
    engine: &Engine,
    sql: &str,
) -> Result<()> {
    let state = ctx.state();
    let Ok(statement) = crate::engine::dialect::statement(&state, sql) else {
        return Ok(());
    };
    refuse_unsupported(&statement)?;
    let Ok(references) = state.resolve_table_references(&statement) else {
        return Ok(());
    };
    for r in references {
        if ctx.table_exist(r.clone())? {
            continue;
        }
        let written = r.to_string();
        let known: Vec<String> = engine
            .tables()
            .into_iter()
            .flat_map(|(schema, tables)| tables.into_iter().map(move |t| format!("{schema}.{t}")))
            .collect();
        let near = known
            .iter()
            .map(|k| (strsim::levenshtein(k, &written), k))
            .filter(|(d, _)| *d <= 3)
            .min()
            .map(|(_, k)| format!("; did you mean {k}?"))
            .unwrap_or_default();
        return Err(Error::Statement(format!(
            "table '{written}' not found{near}"
        )));
    }
    Ok(())
}

/// Refuses what DataFusion would answer differently from Trino rather than
/// give a wrong answer: CHAR(n) (Trino pads it with spaces and compares it
/// without them, DataFusion reads it as VARCHAR, so `length(CAST('a' AS
/// CHAR(3)))` would be 1 where Athena says 3), and a TIMESTAMP or TIME
/// literal with more than 9 fraction digits (Trino keeps up to 12, Arrow
/// nanoseconds, so they would be cut silently).
fn refuse_unsupported(statement: &datafusion::sql::parser::Statement) -> Result<()> {
    use datafusion::sql::sqlparser::ast::{
        DataType as SqlType, Expr, TypedString, Value, visit_expressions,
    };
    use std::ops::ControlFlow;
    let datafusion::sql::parser::Statement::Statement(statement) = statement else {
        return Ok(());
    };
    let found = visit_expressions(statement.as_ref(), |e| match e {
        Expr::Cast { data_type, .. }
            if matches!(
                data_type,
                SqlType::Char(_) | SqlType::Character(_) | SqlType::CharacterVarying(None)
            ) =>
        {
            ControlFlow::Break(format!(
                "{data_type} is not supported: Trino pads CHAR with spaces, Strata's strings \
                 are VARCHAR (use VARCHAR, or rpad(x, n) for the padded text)"
            ))
        }
        Expr::TypedString(TypedString {
            data_type: data_type @ (SqlType::Timestamp(..) | SqlType::Time(..)),
            value,
            ..
        }) => match &value.value {
            Value::SingleQuotedString(text)
                if text
                    .split_once('.')
                    .map(|(_, f)| f.chars().take_while(char::is_ascii_digit).count())
                    .unwrap_or(0)
                    > 9 =>
            {
                ControlFlow::Break(format!(
                    "{data_type} '{text}': more than 9 fraction digits; Strata's times hold \
                     at most nanoseconds (Trino's up to picoseconds), so the rest would be cut"
                ))
            }
            _ => ControlFlow::Continue(()),
        },
        _ => ControlFlow::Continue(()),
    });
    match found {
        ControlFlow::Break(why) => Err(Error::Statement(why)),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// `CREATE TABLE layer.table WITH (...) AS query`: built as a model's
/// table is, and recorded as a run of one step.
async fn create_table_as(
    ws: &Workspace,
    table: &str,
    write: &WriteSpec,
    query: &str,
) -> Result<Vec<RecordBatch>> {
    let engine = &ws.engine;
    let (layer, name) = table.split_once('.').ok_or_else(|| {
        Error::Statement(format!(
            "CREATE TABLE {table}: name the layer (e.g. gold.{table})"
        ))
    })?;
    let id = TableId::new(Layer::new(layer)?, name)?;
    let statement = format!("CREATE TABLE {id} AS");
    let target = Target {
        table: id.clone(),
        sql: query.to_string(),
        write: write.clone(),
        origin: PathBuf::from(&statement),
        defined_by: statement.clone(),
        incremental: None,
    };
    let reads = crate::models::query_reads(&target.origin, query)?;
    let rows_in: Option<u64> = reads
        .iter()
        .map(|t| engine.manifest(t).map(|m| m.rows))
        .sum();
    let lake = engine.lake().clone();
    let (manifest, _) = recorded(&ws.config, &lake, &statement, async |run_id| {
        let _lock = lake.lock().await?;
        let started = std::time::Instant::now();
        let started_at = crate::sys::now();
        let inputs = reads
            .iter()
            .filter_map(|t| engine.manifest(t).map(|m| (t.clone(), m.version)))
            .collect();
        let built = crate::runner::build(
            engine.ctx(),
            &lake,
            &target,
            run_id,
            inputs,
            Arc::new(|_| {}),
        )
        .await;
        let seconds = started.elapsed().as_secs_f64();
        let step = |status, m: Option<&crate::lake::manifest::TableManifest>| Step {
            table: id.clone(),
            model: statement.clone(),
            status,
            rows: m.map_or(0, |m| m.rows),
            files: m.map_or(0, |m| m.files.len()),
            bytes: m.map_or(0, |m| m.bytes),
            seconds,
            started_at: started_at.clone(),
        };
        let (step, manifests) = match &built {
            Ok(m) => (step(StepStatus::Ok, Some(m)), vec![m.clone()]),
            Err(e) => (
                step(StepStatus::Failed(crate::error::user_message(e)), None),
                vec![],
            ),
        };
        let run = Run {
            id: run_id.to_string(),
            steps: vec![step],
            seconds,
            manifests,
            rows_in: [(id.clone(), rows_in)].into(),
            tests: None,
            report: None,
        };
        let record = Record::of_run(run);
        // The build's error is the statement's: recorded as the step's,
        // returned to the prompt as it is.
        match built {
            Ok(m) => Ok((Ok(m), record)),
            Err(e) => Ok((Err(e), record)),
        }
    })
    .await?;
    let manifest = manifest?;
    engine.register(&manifest)?;
    message(format!(
        "{id}: {} rows in {} files, written to the lake",
        manifest.rows,
        manifest.files.len()
    ))
}

/// `UNLOAD (query) TO 'folder' WITH (...)`: the folder must be new or empty;
/// the files are written beside it and moved in when complete.
pub async fn unload(
    ws: &Workspace,
    query: &str,
    to: &str,
    write: &WriteSpec,
) -> Result<Vec<RecordBatch>> {
    let engine = &ws.engine;
    if to.starts_with("s3://") {
        return unload_s3(ws, query, to, write).await;
    }
    if to.contains("://") && !to.starts_with("file://") {
        return Err(Error::Statement(format!(
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
        return Err(Error::Statement(format!(
            "UNLOAD: {} is not empty (Athena requires an empty location)",
            target.display()
        )));
    }
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Statement(format!("UNLOAD: {to} is not a folder name")))?;
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
    let written = write_stream(&store, &Path::from(staging.as_str()), write, None, stream).await?;
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
    let err = |e| Error::query("UNLOAD", e);
    let ctx = engine.session_for(query)?;
    let df = crate::engine::plan(
        &ctx,
        query,
        datafusion::execution::context::SQLOptions::new(),
    )
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
    ws: &Workspace,
    query: &str,
    to: &str,
    write: &WriteSpec,
) -> Result<Vec<RecordBatch>> {
    let engine = &ws.engine;
    let trimmed = to.trim_end_matches('/');
    let (parent, name) = trimmed
        .rsplit_once('/')
        .filter(|(p, n)| p.len() > "s3:/".len() && !n.is_empty())
        .ok_or_else(|| Error::Statement(format!("UNLOAD: {to} names no folder inside a bucket")))?;
    let root = crate::config::LakeRoot::parse(parent, std::path::Path::new("/"))?;
    let target = crate::lake::Lake::open(&root, &ws.config.s3)?;
    let folder = Path::from(name);
    let existing: Vec<_> =
        futures::TryStreamExt::try_collect(target.store().list(Some(&folder))).await?;
    if !existing.is_empty() {
        return Err(Error::Statement(format!(
            "UNLOAD: {to} is not empty (Athena requires an empty location)"
        )));
    }
    let stream = unload_stream(engine, query, write).await?;
    let written = match write_stream(target.store(), &folder, write, None, stream).await {
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
