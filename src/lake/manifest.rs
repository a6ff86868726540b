//! A table's manifest: the lake's own record of what a table is and holds.
//!
//! It is written into the table's folder with the data, so it is swapped in
//! with the data and can never describe files that are not there.

use std::str::FromStr;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The manifest's file name inside a table's folder (ignored by readers:
/// DataFusion lists by extension, Athena and Spark skip `_` files).
pub const MANIFEST_FILE: &str = "_strata_table.json";

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
}

impl TableManifest {
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
            columns: TableManifest::columns_of(&schema),
            files: vec![],
            rows: 0,
            bytes: 0,
            run_id: "r".into(),
            written_at: "t".into(),
            model: "m".into(),
        };
        let back = TableManifest::from_json(&m.to_json(), &Path::from("k")).unwrap();
        assert_eq!(back.schema().unwrap().as_ref(), &schema);
    }
}
