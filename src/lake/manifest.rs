//! A table's manifest: the lake's own record of what a table is and holds.
//!
//! It is written into the table's folder with the data, so it is swapped in
//! with the data and can never describe files that are not there.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where lakes written before table versions kept a table's one manifest
/// (read as the table's version 0, and moved into its log by the next commit).
pub const LEGACY_MANIFEST_FILE: &str = "_strata_table.json";

/// How a table's files are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Apache Parquet, zstd-compressed.
    #[default]
    Parquet,
    /// CSV in PostgreSQL's dialect, with a header.
    Csv,
}

impl Format {
    /// The files' extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its Arrow type, as Arrow spells it (`Decimal128(12, 2)`).
    pub data_type: String,
    /// Whether it may hold NULL.
    pub nullable: bool,
}

/// One data file of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataFile {
    /// Its key relative to the table's folder (`year=2024/month=1/day=5/part-00000.parquet`).
    pub key: String,
    /// Rows it holds.
    pub rows: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// SHA-256 of its bytes, lowercase hex (as `sha256sum` prints it);
    /// empty in manifests written before checksums were kept.
    #[serde(default)]
    pub sha256: String,
    /// The run that wrote it, when not the manifest's own: files landed by
    /// `strata watch` are carried into each new version of their raw table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

/// Where landed files sit inside a raw table's folder.
pub const LANDED_DIR: &str = "landed";

/// What a table is and holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableManifest {
    /// The table.
    pub table: super::TableId,
    /// How its files are stored.
    pub format: Format,
    /// Hive partition columns, outermost first (not stored inside the files).
    pub partition_by: Vec<String>,
    /// Columns of the model's result that group the files into hive
    /// folders but are no columns of the table (hidden partitioning); a
    /// table has these or `partition_by`, not both.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden_partition_by: Vec<String>,
    /// All columns in the order queries see them, partition columns included.
    pub columns: Vec<Column>,
    /// Its files, sorted by key.
    pub files: Vec<DataFile>,
    /// Total rows.
    pub rows: u64,
    /// Total bytes of data files.
    pub bytes: u64,
    /// The run that wrote it.
    pub run_id: String,
    /// When it was written (RFC 3339, UTC).
    pub written_at: String,
    /// The model file it came from, relative to the project.
    pub model: String,
    /// Its version: 0 for a table's first, one more for each commit.
    #[serde(default)]
    pub version: u64,
    /// The tag its Parquet files carry before the extension
    /// (`part-00000.<tag>.parquet`): the run that wrote them. A reader
    /// pinned to this version lists only files with this tag, so files of
    /// other versions in the same folder are never read. Empty in tables
    /// written before versions (their files are `part-00000.parquet`).
    #[serde(default)]
    pub file_tag: String,
    /// The version of each lake table it was built from, when it was built:
    /// a table is stale when one of these has a newer version.
    #[serde(default)]
    pub inputs: BTreeMap<String, u64>,
    /// The version this one restored, when `strata rollback` made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<u64>,
    /// The source position this version holds every change up to, when
    /// `strata sync` wrote it: a WAL position (PostgreSQL's `X/Y`) through a
    /// slot, or `cursor <column> <value>` by cursor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_position: Option<String>,
    /// The exact sum of each decimal column over the rows this version's
    /// run wrote, as decimal text (`meta.column_totals`): checks of money
    /// read it instead of scanning. Empty for versions not written by a
    /// model (restored, or holding landed files).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub totals: BTreeMap<String, String>,
    /// SHA-256 of the SQL that defined it, when a model or statement built
    /// it: an incremental build updates a table in place only while its
    /// definition is the one the rest of the table was built by.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub definition: String,
}

impl TableManifest {
    /// The columns its files are grouped into folders by, hidden or not.
    pub fn folders_by(&self) -> &[String] {
        if self.partition_by.is_empty() {
            &self.hidden_partition_by
        } else {
            &self.partition_by
        }
    }

    /// The suffix that picks this version's Parquet files out of the
    /// table's folder (`.<tag>.parquet`).
    pub fn parquet_suffix(&self) -> String {
        let tag = if !self.file_tag.is_empty() {
            self.file_tag.as_str()
        } else if !self.files.is_empty()
            && self
                .files
                .iter()
                .all(|f| f.key.ends_with(&format!(".{}.parquet", self.run_id)))
        {
            // S3 lakes tagged files with the run before versions were kept.
            self.run_id.as_str()
        } else {
            ""
        };
        if tag.is_empty() {
            ".parquet".into()
        } else {
            format!(".{tag}.parquet")
        }
    }

    /// The run that wrote one of its files.
    pub fn run_of<'a>(&'a self, f: &'a DataFile) -> &'a str {
        f.run_id.as_deref().unwrap_or(&self.run_id)
    }

    /// The full schema, partition columns included.
    pub fn schema(&self) -> Result<SchemaRef> {
        let fields = self
            .columns
            .iter()
            .map(|c| {
                DataType::from_str(&c.data_type)
                    .map(|t| Field::new(&c.name, t, c.nullable))
                    .map_err(|e| Error::Lake {
                        key: self.table.to_string(),
                        message: format!("column {}: bad type in manifest: {e}", c.name),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(Schema::new(fields)))
    }

    /// The columns stored inside its files: all but the partition columns,
    /// in order.
    pub fn file_schema(&self) -> Result<SchemaRef> {
        let schema = self.schema()?;
        Ok(Arc::new(Schema::new(
            schema
                .fields()
                .iter()
                .filter(|f| !self.partition_by.contains(f.name()))
                .cloned()
                .collect::<Vec<_>>(),
        )))
    }

    /// Describes a schema's columns.
    pub fn columns_of(schema: &Schema) -> Vec<Column> {
        schema
            .fields()
            .iter()
            .map(|f| Column {
                name: f.name().clone(),
                data_type: f.data_type().to_string(),
                nullable: f.is_nullable(),
            })
            .collect()
    }

    /// One of its files, as a later version lists it: with the run that
    /// wrote it named, since the later version's tag is another run's.
    pub fn carried(&self, f: &DataFile) -> DataFile {
        let mut carried = f.clone();
        carried.run_id = Some(self.run_of(f).to_string());
        carried
    }

    /// Lists `files` (sorted by key), with their total rows and bytes.
    pub fn set_files(&mut self, mut files: Vec<DataFile>) {
        files.sort_by(|a, b| a.key.cmp(&b.key));
        self.rows = files.iter().map(|f| f.rows).sum();
        self.bytes = files.iter().map(|f| f.bytes).sum();
        self.files = files;
    }

    /// Serialises for storage.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("manifest serialises");
        out.push(b'\n');
        out
    }

    /// Reads a stored manifest; `key` names it in errors.
    pub fn from_json(bytes: &[u8], key: &Path) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| Error::Lake {
            key: key.to_string(),
            message: format!("unreadable manifest: {e}"),
        })
    }
}

/// The SHA-256 of some bytes, as the manifests and `meta.objects` spell it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::TimeUnit;

    #[test]
    fn schema_round_trips_through_the_manifest() {
        let schema = Schema::new(vec![
            Field::new("a", DataType::Decimal128(12, 2), false),
            Field::new("b", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Field::new("c", DataType::Date32, true),
        ]);
        let m = TableManifest {
            table: crate::lake::TableId::parse("x.y").unwrap(),
            format: Format::Parquet,
            partition_by: vec![],
            hidden_partition_by: vec![],
            columns: TableManifest::columns_of(&schema),
            files: vec![],
            rows: 0,
            bytes: 0,
            run_id: "r".into(),
            written_at: "t".into(),
            model: "m".into(),
            version: 3,
            file_tag: "r".into(),
            inputs: BTreeMap::from([("raw.x".to_string(), 2)]),
            restored_from: None,
            source_position: None,
            totals: Default::default(),
            definition: String::new(),
        };
        let back = TableManifest::from_json(&m.to_json(), &Path::from("k")).unwrap();
        assert_eq!(back.schema().unwrap().as_ref(), &schema);
        assert_eq!(back, m);
    }
}
