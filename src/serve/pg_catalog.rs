//! Enough of PostgreSQL's `pg_catalog` for psql's `\dt`, `\dn`, `\d
//! table` and BI tools' schema discovery: the lake's schemas, tables and
//! columns as `pg_namespace`, `pg_class`, `pg_attribute` and `pg_type`
//! rows, the functions those queries call, and PostgreSQL's spellings
//! DataFusion does not parse (`OPERATOR(pg_catalog.~)`, `COLLATE
//! pg_catalog.default`, `::regclass`). `information_schema` is DataFusion's
//! own.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use pgwire::api::Type;
use regex::Regex;

use super::encode::pg_type;
use crate::engine::Engine;
use crate::error::Result;

/// One row of [`ScalarValue`]s.
macro_rules! row {
    ($($v:expr),* $(,)?) => { vec![$(ScalarValue::from($v)),*] };
}

/// The types a lake column is sent as (see [`pg_type`]).
const TYPES: [Type; 14] = [
    Type::BOOL,
    Type::INT2,
    Type::INT4,
    Type::INT8,
    Type::FLOAT4,
    Type::FLOAT8,
    Type::NUMERIC,
    Type::VARCHAR,
    Type::TEXT,
    Type::BYTEA,
    Type::DATE,
    Type::TIME,
    Type::TIMESTAMP,
    Type::TIMESTAMPTZ,
];

/// The schema's name, and the OIDs PostgreSQL gives its built-in schemas.
const PG_CATALOG: &str = "pg_catalog";
const PG_CATALOG_OID: i64 = 11;
const PUBLIC_OID: i64 = 2200;
/// The owner of everything: the one user.
const OWNER_OID: i64 = 10;
/// The first OID PostgreSQL gives user objects.
const FIRST_USER_OID: i64 = 16_384;
/// The "heap" access method, which psql's `\d` joins to.
const HEAP_AM_OID: i64 = 2;

/// Whether a statement reads the catalog, so it needs [`register`] first.
pub(crate) fn mentions_catalog(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    lower.contains("pg_") || lower.contains("current_schema") || lower.contains("version()")
}

/// Catalog tables that are empty here (a lake table has no policies,
/// triggers, indexes, constraints, inheritance, extended statistics or
/// publications). A question about them that DataFusion cannot plan
/// (psql's `\d` builds ARRAY subqueries over `pg_policy`) has the same
/// answer as any: no rows.
const EMPTY: &[&str] = &[
    "pg_policy",
    "pg_trigger",
    "pg_index",
    "pg_constraint",
    "pg_inherits",
    "pg_statistic_ext",
    "pg_publication",
];

/// Whether a statement asks about what [`EMPTY`] holds: one of them
/// follows a FROM or a comma (not a LEFT JOIN, which would keep the other side's
/// rows). Used only for statements that did not plan.
pub(crate) fn about_nothing_here(sql: &str) -> bool {
    static FROM: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)(?:\bFROM|,)\s*pg_catalog\s*\.\s*([a-z_]+)").expect("a valid pattern")
    });
    FROM.captures_iter(sql).any(|c| {
        let table = c[1].to_ascii_lowercase();
        EMPTY.iter().any(|t| table.starts_with(t))
    })
}

/// `SHOW <a PostgreSQL setting>` as the query answering it, for the
/// settings drivers read on connecting (SQLAlchemy reads the isolation
/// level and `standard_conforming_strings`). Each statement reads the
/// tables' versions current when it starts: read committed.
pub(crate) fn shown_setting(sql: &str) -> Option<String> {
    let s = sql.trim().trim_end_matches(';').trim().to_ascii_lowercase();
    let name = s.strip_prefix("show ")?.trim();
    let (column, value) = match name {
        "transaction isolation level"
        | "transaction_isolation"
        | "default_transaction_isolation" => ("transaction_isolation", "read committed"),
        "transaction_read_only" | "default_transaction_read_only" => (name, "on"),
        "standard_conforming_strings" | "integer_datetimes" => (name, "on"),
        "is_superuser" => (name, "off"),
        "server_version" => (name, "16.0"),
        "server_encoding" | "client_encoding" => (name, "UTF8"),
        "datestyle" => ("DateStyle", "ISO, MDY"),
        "intervalstyle" => ("IntervalStyle", "postgres"),
        "search_path" => (name, "public"),
        "max_identifier_length" => (name, "63"),
        "lc_collate" | "lc_ctype" => (name, "C"),
        _ => return None,
    };
    Some(format!("SELECT '{value}' AS \"{column}\""))
}

/// A statement in PostgreSQL's catalog spelling, as DataFusion parses it.
pub(crate) fn pg_spelling(sql: &str) -> Cow<'_, str> {
    static RULES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
        [
            // `x OPERATOR(pg_catalog.~) 'y'`: psql's pattern match.
            (r"(?i)OPERATOR\s*\(\s*pg_catalog\s*\.\s*([!~*]+)\s*\)", "$1"),
            (
                r"(?i)\s+COLLATE\s+pg_catalog\s*\.\s*(default|\x22default\x22|\x22C\x22)",
                "",
            ),
            // Casts to catalog types: an OID is a number here, a name text.
            (
                r"(?i)::\s*(pg_catalog\s*\.\s*)?(regclass|regtype|regproc|regnamespace|oid)\b",
                "::BIGINT",
            ),
            (r"(?i)::\s*pg_catalog\s*\.\s*(text|name)\b", "::VARCHAR"),
            // SQLAlchemy's `CAST($1 AS REGCLASS)`: a class's OID by name.
            (
                r"(?i)\bCAST\s*\(\s*(\$\d+|'[^']*')\s+AS\s+(?:pg_catalog\s*\.\s*)?REGCLASS\s*\)",
                "to_regclass($1)",
            ),
            (r"(?i)::\s*name\b", "::VARCHAR"),
            // psql's `\d` appends a TOAST table's options with an ARRAY
            // subquery DataFusion has no syntax for; lake tables have none.
            (
                r"(?i)c\.reloptions\s*\|\|\s*array\s*\(\s*select\s+'toast\.'\s*\|\|\s*x\s+from\s+(pg_catalog\s*\.\s*)?unnest\s*\(\s*tc\.reloptions\s*\)\s*x\s*\)",
                "c.reloptions",
            ),
            // PostgreSQL searches pg_catalog first: `pg_type` alone is
            // `pg_catalog.pg_type`.
            (
                r"(^|[^.\w\x22])(pg_(?:namespace|class|attribute|type|am|database|roles|attrdef|collation|index|constraint|inherits|policy|statistic_ext|publication_namespace|publication_rel|publication|trigger|description|opclass|sequence))\b",
                "${1}pg_catalog.$2",
            ),
            // `pg_catalog.f(`: a function; tables keep their schema.
            (r"(?i)\bpg_catalog\s*\.\s*([a-z_][a-z0-9_]*)\s*\(", "$1("),
            // psql's `\d` reads a column's default and collation with
            // correlated subqueries DataFusion cannot plan; lake columns
            // have neither, so both are NULL.
            (
                r"(?i)\(\s*SELECT\s+pg_get_expr\s*\([^)]*\)\s+FROM\s+pg_catalog\s*\.\s*pg_attrdef\s+d\s+WHERE[^)]*\)",
                "CAST(NULL AS VARCHAR)",
            ),
            (
                r"(?i)\(\s*SELECT\s+c\.collname\s+FROM\s+pg_catalog\s*\.\s*pg_collation\s+c\s*,\s*pg_catalog\s*\.\s*pg_type\s+t\s+WHERE[^)]*\)",
                "CAST(NULL AS VARCHAR)",
            ),
        ]
        .into_iter()
        .map(|(r, to)| (Regex::new(r).expect("a valid pattern"), to))
        .collect()
    });
    let mut out = Cow::Borrowed(sql);
    for (rule, to) in RULES.iter() {
        if rule.is_match(&out) {
            out = Cow::Owned(rule.replace_all(&out, *to).into_owned());
        }
    }
    match nothing_to_describe(&out) {
        Some(fewer) => Cow::Owned(fewer),
        None => out,
    }
}

/// SQLAlchemy's column reflection asks, per column, with `CASE WHEN
/// <column has it> THEN (<correlated subquery>) ... END`, for a default,
/// an identity and a collation. A lake column has none of them (its
/// `atthasdef` is false, `attidentity` and `attcollation` empty), and
/// DataFusion cannot plan those subqueries, so each such CASE is NULL.
fn nothing_to_describe(sql: &str) -> Option<String> {
    static START: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)\bCASE\s+WHEN\s+\(?\s*pg_catalog\s*\.\s*pg_attribute\s*\.\s*(atthasdef|attidentity|attcollation)\b",
        )
        .expect("a valid pattern")
    });
    let mut out = String::new();
    let mut rest = sql;
    let mut changed = false;
    while let Some(m) = START.find(rest) {
        let Some(len) = case_length(&rest[m.start()..]) else {
            break;
        };
        out.push_str(&rest[..m.start()]);
        out.push_str("CAST(NULL AS VARCHAR)");
        rest = &rest[m.start() + len..];
        changed = true;
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// The length of the `CASE ... END` that `sql` starts with: its own `END`,
/// outside parentheses, quotes and the CASEs nested in it.
fn case_length(sql: &str) -> Option<usize> {
    let bytes = sql.as_bytes();
    let word = |i: usize, w: &str| {
        bytes.len() >= i + w.len()
            && sql[i..i + w.len()].eq_ignore_ascii_case(w)
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'))
            && bytes
                .get(i + w.len())
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
    };
    let (mut depth, mut cases, mut quoted) = (0i32, 0i32, None::<u8>);
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match quoted {
            Some(q) if c == q => quoted = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' => quoted = Some(c),
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ if depth == 0 && word(i, "CASE") => cases += 1,
                _ if depth == 0 && word(i, "END") => {
                    cases -= 1;
                    if cases == 0 {
                        return Some(i + 3);
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// Registers (again) the `pg_catalog` tables describing the session's
/// tables as they are now, and the catalog functions.
pub(crate) async fn register(engine: &Engine) -> Result<()> {
    let ctx = engine.ctx();
    functions(ctx);
    let schemas = engine.tables();
    let schema = Arc::new(MemorySchemaProvider::new());
    let mut namespaces = vec![
        row![PG_CATALOG_OID, PG_CATALOG, OWNER_OID],
        row![PUBLIC_OID, "public", OWNER_OID],
    ];
    let mut classes = vec![];
    let mut attributes = vec![];
    // What `to_regclass` (and `CAST(... AS REGCLASS)`) answers: each lake
    // table's OID by `schema.table`, and the system catalogs drivers name
    // by PostgreSQL's own OIDs.
    let mut regclass: BTreeMap<String, i64> = [
        ("pg_catalog.pg_type", 1247),
        ("pg_catalog.pg_attribute", 1249),
        ("pg_catalog.pg_proc", 1255),
        ("pg_catalog.pg_class", 1259),
        ("pg_catalog.pg_constraint", 2606),
        ("pg_catalog.pg_namespace", 2615),
    ]
    .into_iter()
    .map(|(n, o)| (n.to_string(), o))
    .collect();
    let mut next_oid = FIRST_USER_OID;
    for (name, tables) in &schemas {
        if name == PG_CATALOG || name == "information_schema" {
            continue;
        }
        let ns_oid = if name == "public" {
            PUBLIC_OID
        } else {
            next_oid += 1;
            namespaces.push(row![next_oid, name.as_str(), OWNER_OID]);
            next_oid
        };
        for table in tables {
            next_oid += 1;
            let rel_oid = next_oid;
            regclass.insert(format!("{name}.{table}"), rel_oid);
            let provider = match ctx
                .catalog(crate::engine::CATALOG)
                .and_then(|c| c.schema(name))
            {
                Some(s) => s.table(table).await?,
                None => None,
            };
            let fields = provider
                .map(|t| t.schema().fields().clone())
                .unwrap_or_default();
            classes.push(vec![
                ScalarValue::Int64(Some(rel_oid)),
                ScalarValue::from(table.as_str()),
                ScalarValue::Int64(Some(ns_oid)),
                ScalarValue::Int64(Some(OWNER_OID)),
                ScalarValue::Int64(Some(HEAP_AM_OID)),
                ScalarValue::from("r"),
                ScalarValue::Int16(Some(fields.len() as i16)),
                // No checks, indexes, rules, triggers, row security or
                // partitions of PostgreSQL's kind; no TOAST table, no
                // options, the default tablespace; permanent; replica
                // identity default.
                ScalarValue::Int16(Some(0)),
                ScalarValue::Boolean(Some(false)),
                ScalarValue::Boolean(Some(false)),
                ScalarValue::Boolean(Some(false)),
                ScalarValue::Boolean(Some(false)),
                ScalarValue::Boolean(Some(false)),
                ScalarValue::Boolean(Some(false)),
                ScalarValue::Int64(Some(0)),
                ScalarValue::List(ScalarValue::new_list_nullable(&[], &DataType::Utf8)),
                ScalarValue::Int64(Some(0)),
                ScalarValue::Int64(Some(0)),
                ScalarValue::from("p"),
                ScalarValue::from("d"),
                ScalarValue::Float32(Some(-1.0)),
            ]);
            for (i, f) in fields.iter().enumerate() {
                let (ty, modifier) = pg_type(f.data_type());
                attributes.push(vec![
                    ScalarValue::Int64(Some(rel_oid)),
                    ScalarValue::from(f.name().as_str()),
                    ScalarValue::Int64(Some(i64::from(ty.oid()))),
                    ScalarValue::Int32(Some(modifier)),
                    ScalarValue::Int16(Some(i as i16 + 1)),
                    ScalarValue::Boolean(Some(!f.is_nullable())),
                    // No defaults, nothing dropped, no collation, identity
                    // or generated columns.
                    ScalarValue::Boolean(Some(false)),
                    ScalarValue::Boolean(Some(false)),
                    ScalarValue::Int64(Some(0)),
                    ScalarValue::from(""),
                    ScalarValue::from(""),
                ]);
            }
        }
    }
    let n = Field::new;
    add(
        &schema,
        "pg_namespace",
        vec![
            n("oid", DataType::Int64, false),
            n("nspname", DataType::Utf8, false),
            n("nspowner", DataType::Int64, false),
        ],
        namespaces,
    )?;
    let class_fields = vec![
        n("oid", DataType::Int64, false),
        n("relname", DataType::Utf8, false),
        n("relnamespace", DataType::Int64, false),
        n("relowner", DataType::Int64, false),
        n("relam", DataType::Int64, false),
        n("relkind", DataType::Utf8, false),
        n("relnatts", DataType::Int16, false),
        n("relchecks", DataType::Int16, false),
        n("relhasindex", DataType::Boolean, false),
        n("relhasrules", DataType::Boolean, false),
        n("relhastriggers", DataType::Boolean, false),
        n("relrowsecurity", DataType::Boolean, false),
        n("relforcerowsecurity", DataType::Boolean, false),
        n("relispartition", DataType::Boolean, false),
        n("reltoastrelid", DataType::Int64, false),
        n(
            "reloptions",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            true,
        ),
        n("reltablespace", DataType::Int64, false),
        n("reloftype", DataType::Int64, false),
        n("relpersistence", DataType::Utf8, false),
        n("relreplident", DataType::Utf8, false),
        n("reltuples", DataType::Float32, false),
    ];
    add(&schema, "pg_class", class_fields, classes)?;
    add(
        &schema,
        "pg_attribute",
        vec![
            n("attrelid", DataType::Int64, false),
            n("attname", DataType::Utf8, false),
            n("atttypid", DataType::Int64, false),
            n("atttypmod", DataType::Int32, false),
            n("attnum", DataType::Int16, false),
            n("attnotnull", DataType::Boolean, false),
            n("atthasdef", DataType::Boolean, false),
            n("attisdropped", DataType::Boolean, false),
            n("attcollation", DataType::Int64, false),
            n("attidentity", DataType::Utf8, false),
            n("attgenerated", DataType::Utf8, false),
        ],
        attributes,
    )?;
    // What lake tables have none of: column defaults, collations, indexes,
    // constraints, inheritance, policies, extended statistics,
    // publications. Empty, so that the queries joining them answer.
    for (name, columns) in [
        (
            "pg_attrdef",
            vec![
                ("oid", DataType::Int64),
                ("adrelid", DataType::Int64),
                ("adnum", DataType::Int16),
                ("adbin", DataType::Utf8),
            ],
        ),
        (
            "pg_collation",
            vec![("oid", DataType::Int64), ("collname", DataType::Utf8)],
        ),
        (
            "pg_index",
            vec![
                ("indexrelid", DataType::Int64),
                ("indrelid", DataType::Int64),
                ("indisprimary", DataType::Boolean),
                ("indisunique", DataType::Boolean),
            ],
        ),
        (
            "pg_constraint",
            vec![
                ("oid", DataType::Int64),
                ("conname", DataType::Utf8),
                ("conrelid", DataType::Int64),
                ("confrelid", DataType::Int64),
                ("contype", DataType::Utf8),
            ],
        ),
        (
            "pg_inherits",
            vec![
                ("inhrelid", DataType::Int64),
                ("inhparent", DataType::Int64),
                ("inhseqno", DataType::Int32),
            ],
        ),
        (
            "pg_policy",
            vec![
                ("oid", DataType::Int64),
                ("polname", DataType::Utf8),
                ("polrelid", DataType::Int64),
            ],
        ),
        (
            "pg_statistic_ext",
            vec![
                ("oid", DataType::Int64),
                ("stxname", DataType::Utf8),
                ("stxrelid", DataType::Int64),
                ("stxnamespace", DataType::Int64),
            ],
        ),
        (
            "pg_publication",
            vec![
                ("oid", DataType::Int64),
                ("pubname", DataType::Utf8),
                ("puballtables", DataType::Boolean),
            ],
        ),
        (
            "pg_publication_rel",
            vec![
                ("oid", DataType::Int64),
                ("prpubid", DataType::Int64),
                ("prrelid", DataType::Int64),
            ],
        ),
        (
            "pg_publication_namespace",
            vec![
                ("oid", DataType::Int64),
                ("pnpubid", DataType::Int64),
                ("pnnspid", DataType::Int64),
            ],
        ),
        (
            "pg_trigger",
            vec![
                ("oid", DataType::Int64),
                ("tgname", DataType::Utf8),
                ("tgrelid", DataType::Int64),
            ],
        ),
        (
            "pg_opclass",
            vec![
                ("oid", DataType::Int64),
                ("opcname", DataType::Utf8),
                ("opcdefault", DataType::Boolean),
            ],
        ),
        (
            "pg_sequence",
            vec![
                ("seqrelid", DataType::Int64),
                ("seqstart", DataType::Int64),
                ("seqincrement", DataType::Int64),
                ("seqmin", DataType::Int64),
                ("seqmax", DataType::Int64),
                ("seqcache", DataType::Int64),
                ("seqcycle", DataType::Boolean),
            ],
        ),
        (
            "pg_description",
            vec![
                ("objoid", DataType::Int64),
                ("classoid", DataType::Int64),
                ("objsubid", DataType::Int32),
                ("description", DataType::Utf8),
            ],
        ),
    ] {
        let fields = columns
            .into_iter()
            .map(|(c, t)| Field::new(c, t, true))
            .collect();
        add(&schema, name, fields, vec![])?;
    }
    let types = TYPES
        .iter()
        .map(|t| {
            row![
                i64::from(t.oid()),
                t.name(),
                PG_CATALOG_OID,
                type_name(t.oid(), -1),
                0i64,
                0i64,
                ","
            ]
        })
        .collect();
    add(
        &schema,
        "pg_type",
        vec![
            n("oid", DataType::Int64, false),
            n("typname", DataType::Utf8, false),
            n("typnamespace", DataType::Int64, false),
            n("typdisplay", DataType::Utf8, false),
            n("typcollation", DataType::Int64, false),
            n("typarray", DataType::Int64, false),
            n("typdelim", DataType::Utf8, false),
        ],
        types,
    )?;
    add(
        &schema,
        "pg_am",
        vec![
            n("oid", DataType::Int64, false),
            n("amname", DataType::Utf8, false),
        ],
        vec![row![HEAP_AM_OID, "heap"]],
    )?;
    add(
        &schema,
        "pg_database",
        vec![
            n("oid", DataType::Int64, false),
            n("datname", DataType::Utf8, false),
            n("datdba", DataType::Int64, false),
            n("encoding", DataType::Int32, false),
        ],
        vec![row![FIRST_USER_OID, "strata", OWNER_OID, 6i32]],
    )?;
    add(
        &schema,
        "pg_roles",
        vec![
            n("oid", DataType::Int64, false),
            n("rolname", DataType::Utf8, false),
            n("rolsuper", DataType::Boolean, false),
        ],
        vec![row![OWNER_OID, "strata", false]],
    )?;
    ctx.catalog(crate::engine::CATALOG)
        .expect("the session's catalog")
        .register_schema(PG_CATALOG, schema)?;
    ctx.register_udf(to_regclass(regclass));
    Ok(())
}

/// `to_regclass(name)`: a table's OID by `schema.table` (or a table name
/// alone when one schema has it), NULL for what the lake does not have.
fn to_regclass(oids: BTreeMap<String, i64>) -> datafusion::logical_expr::ScalarUDF {
    create_udf(
        "to_regclass",
        vec![DataType::Utf8],
        DataType::Int64,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            use datafusion::arrow::array::{Array, AsArray};
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let names = arrays[0].as_string::<i32>();
            let found: datafusion::arrow::array::Int64Array = (0..names.len())
                .map(|i| {
                    if names.is_null(i) {
                        return None;
                    }
                    let name = names.value(i).trim().replace('"', "");
                    if let Ok(oid) = name.parse::<i64>() {
                        return Some(oid);
                    }
                    if let Some(oid) = oids.get(&name) {
                        return Some(*oid);
                    }
                    let mut alone = oids
                        .iter()
                        .filter(|(k, _)| k.rsplit('.').next() == Some(name.as_str()));
                    match (alone.next(), alone.next()) {
                        (Some((_, oid)), None) => Some(*oid),
                        _ => None,
                    }
                })
                .collect();
            let out: ArrayRef = Arc::new(found);
            Ok(ColumnarValue::Array(out))
        }),
    )
}

fn add(
    schema: &MemorySchemaProvider,
    name: &str,
    fields: Vec<Field>,
    rows: Vec<Vec<ScalarValue>>,
) -> Result<()> {
    let schema_ref = Arc::new(Schema::new(fields));
    let columns = (0..schema_ref.fields().len())
        .map(|c| {
            let f = schema_ref.field(c);
            if rows.is_empty() {
                return Ok(datafusion::arrow::array::new_empty_array(f.data_type()));
            }
            ScalarValue::iter_to_array(rows.iter().map(|r| r[c].clone()))
        })
        .collect::<datafusion::error::Result<Vec<ArrayRef>>>()?;
    let batch = RecordBatch::try_new(schema_ref.clone(), columns)?;
    let table = MemTable::try_new(schema_ref, vec![vec![batch]])?;
    schema.register_table(name.to_string(), Arc::new(table))?;
    Ok(())
}

/// PostgreSQL's name for a type and modifier, as `format_type` gives it.
fn type_name(oid: u32, modifier: i32) -> String {
    match Type::from_oid(oid) {
        Some(Type::BOOL) => "boolean".into(),
        Some(Type::INT2) => "smallint".into(),
        Some(Type::INT4) => "integer".into(),
        Some(Type::INT8) => "bigint".into(),
        Some(Type::FLOAT4) => "real".into(),
        Some(Type::FLOAT8) => "double precision".into(),
        Some(Type::NUMERIC) if modifier >= 4 => {
            let m = modifier - 4;
            format!("numeric({},{})", m >> 16, m & 0xffff)
        }
        Some(Type::VARCHAR) => "character varying".into(),
        Some(Type::TIMESTAMP) => "timestamp without time zone".into(),
        Some(Type::TIMESTAMPTZ) => "timestamp with time zone".into(),
        Some(Type::TIME) => "time without time zone".into(),
        Some(t) => t.name().to_string(),
        None => "???".into(),
    }
}

/// The catalog functions psql and BI tools call.
fn functions(ctx: &SessionContext) {
    let constant = |name: &str, inputs: Vec<DataType>, value: ScalarValue| {
        let out = value.data_type();
        create_udf(
            name,
            inputs,
            out,
            Volatility::Stable,
            Arc::new(move |_args: &[ColumnarValue]| Ok(ColumnarValue::Scalar(value.clone()))),
        )
    };
    // Every lake table is visible: a client names them with their schema,
    // and each layer has its own `sales`.
    ctx.register_udf(constant(
        "pg_table_is_visible",
        vec![DataType::Int64],
        ScalarValue::Boolean(Some(true)),
    ));
    ctx.register_udf(constant(
        "pg_get_userbyid",
        vec![DataType::Int64],
        ScalarValue::from("strata"),
    ));
    ctx.register_udf(constant(
        "obj_description",
        vec![DataType::Int64, DataType::Utf8],
        ScalarValue::Utf8(None),
    ));
    ctx.register_udf(constant(
        "col_description",
        vec![DataType::Int64, DataType::Int32],
        ScalarValue::Utf8(None),
    ));
    // Of a default expression (pg_attrdef is empty, so never called on a row).
    ctx.register_udf(constant(
        "pg_get_expr",
        vec![DataType::Utf8, DataType::Int64, DataType::Boolean],
        ScalarValue::Utf8(None),
    ));
    // Of a constraint's definition (pg_constraint is empty).
    ctx.register_udf(constant(
        "pg_get_constraintdef",
        vec![DataType::Int64, DataType::Boolean],
        ScalarValue::Utf8(None),
    ));
    ctx.register_udf(constant(
        "pg_encoding_to_char",
        vec![DataType::Int32],
        ScalarValue::from("UTF8"),
    ));
    ctx.register_udf(constant(
        "current_schema",
        vec![],
        ScalarValue::from("public"),
    ));
    ctx.register_udf(constant(
        "version",
        vec![],
        ScalarValue::from(
            format!(
                "PostgreSQL 16.0 (Strata {} on Apache DataFusion)",
                env!("CARGO_PKG_VERSION")
            )
            .as_str(),
        ),
    ));
    // A type's OID by name, NULL for a type this server does not have
    // (drivers probe for extension types such as hstore).
    ctx.register_udf(create_udf(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            use datafusion::arrow::array::{Array, AsArray};
            let names = arrays[0].as_string::<i32>();
            let oids: datafusion::arrow::array::Int64Array = (0..names.len())
                .map(|i| {
                    if names.is_null(i) {
                        return None;
                    }
                    let name = names.value(i).trim().to_ascii_lowercase();
                    TYPES
                        .iter()
                        .find(|t| t.name() == name || type_name(t.oid(), -1) == name)
                        .map(|t| i64::from(t.oid()))
                })
                .collect();
            let out: ArrayRef = Arc::new(oids);
            Ok(ColumnarValue::Array(out))
        }),
    ));
    ctx.register_udf(create_udf(
        "format_type",
        vec![DataType::Int64, DataType::Int32],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let oids = datafusion::arrow::compute::cast(&arrays[0], &DataType::Int64)?;
            let mods = datafusion::arrow::compute::cast(&arrays[1], &DataType::Int32)?;
            use datafusion::arrow::array::{Array, AsArray};
            let oids = oids.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            let mods = mods.as_primitive::<datafusion::arrow::datatypes::Int32Type>();
            let names: datafusion::arrow::array::StringArray = (0..oids.len())
                .map(|i| {
                    (!oids.is_null(i)).then(|| {
                        type_name(
                            oids.value(i) as u32,
                            if mods.is_null(i) { -1 } else { mods.value(i) },
                        )
                    })
                })
                .collect();
            let out: ArrayRef = Arc::new(names);
            Ok(ColumnarValue::Array(out))
        }),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psql_spellings_become_datafusion_ones() {
        let sql = "SELECT pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class c \
                   WHERE c.relname OPERATOR(pg_catalog.~) '^(sales)$' COLLATE pg_catalog.default \
                   AND c.oid = 'gold.sales'::regclass";
        assert_eq!(
            pg_spelling(sql),
            "SELECT pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class c \
             WHERE c.relname ~ '^(sales)$' \
             AND c.oid = 'gold.sales'::BIGINT"
        );
        assert!(matches!(pg_spelling("SELECT 1"), Cow::Borrowed(_)));
        assert_eq!(
            pg_spelling("SELECT t.oid FROM pg_type t JOIN pg_catalog.pg_namespace n ON true"),
            "SELECT t.oid FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON true"
        );
        assert!(about_nothing_here(
            "SELECT pol.polname FROM pg_catalog.pg_policy pol WHERE pol.polrelid = '1'"
        ));
        assert!(!about_nothing_here(
            "SELECT c.oid FROM pg_catalog.pg_class c"
        ));
    }

    #[test]
    fn what_a_lake_column_lacks_is_null_without_its_subquery() {
        let sql = "SELECT a.attname, CASE WHEN pg_catalog.pg_attribute.atthasdef THEN (SELECT \
                   pg_catalog.pg_get_expr(d.adbin, d.adrelid) FROM pg_catalog.pg_attrdef d \
                   WHERE d.adnum = a.attnum) ELSE NULL END AS \"default\", \
                   CASE WHEN (pg_catalog.pg_attribute.attcollation != $1 AND (SELECT t.x FROM t \
                   WHERE 'END)' = t.y) != 0) THEN (SELECT CASE WHEN f(c.oid) THEN NULL ELSE \
                   n.nspname END FROM c) ELSE NULL END AS collation, 'CASE' AS s FROM a";
        assert_eq!(
            pg_spelling(sql),
            "SELECT a.attname, CAST(NULL AS VARCHAR) AS \"default\", \
             CAST(NULL AS VARCHAR) AS collation, 'CASE' AS s FROM a"
        );
        assert_eq!(
            pg_spelling("SELECT 1 FROM d WHERE d.classoid = CAST($3 AS REGCLASS)"),
            "SELECT 1 FROM d WHERE d.classoid = to_regclass($3)"
        );
    }

    #[test]
    fn types_are_named_as_format_type_names_them() {
        assert_eq!(
            type_name(Type::NUMERIC.oid(), (18 << 16 | 2) + 4),
            "numeric(18,2)"
        );
        assert_eq!(type_name(Type::INT4.oid(), -1), "integer");
        assert_eq!(
            type_name(Type::TIMESTAMP.oid(), -1),
            "timestamp without time zone"
        );
    }
}
