//! The messages of PostgreSQL's `pgoutput` plugin (protocol version 1),
//! decoded: transactions, the relations they touch, and each row's
//! change with its values as text.

use bytes::{Buf, Bytes};

use super::{Lsn, unix_micros};
use crate::error::{Error, Result};

/// A column of a published relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Its name.
    pub name: String,
    /// Its type's OID.
    pub type_oid: u32,
    /// Its type modifier (precision and scale of a NUMERIC, length of a VARCHAR).
    pub type_modifier: i32,
    /// Whether it is part of the replica identity.
    pub key: bool,
}

/// A relation, as the stream describes it before its first change (and
/// again after its definition changes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Its OID: how changes name it.
    pub id: u32,
    /// Its schema.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `d` default (primary key), `n` nothing, `f` full row, `i` an index.
    pub replica_identity: u8,
    /// Its columns, in order.
    pub columns: Vec<RelationColumn>,
}

/// One column's value in a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// NULL.
    Null,
    /// A TOASTed value the change did not touch (not sent).
    Unchanged,
    /// The value in PostgreSQL's text output.
    Text(String),
}

/// One pgoutput message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A transaction starts.
    Begin {
        /// Where its commit record is.
        final_lsn: Lsn,
        /// Its commit time, µs since 1970.
        commit_ts: i64,
    },
    /// It committed.
    Commit {
        /// Its commit record.
        commit_lsn: Lsn,
        /// The end of the commit record: where a restart resumes after it.
        end_lsn: Lsn,
        /// Its commit time, µs since 1970.
        commit_ts: i64,
    },
    /// A relation's definition.
    Relation(Relation),
    /// A row was inserted.
    Insert {
        /// The relation's OID.
        relation: u32,
        /// The new row.
        new: Vec<Value>,
    },
    /// A row was updated.
    Update {
        /// The relation's OID.
        relation: u32,
        /// The old row (all of it under REPLICA IDENTITY FULL, its key
        /// columns under an index identity, none when the key is unchanged).
        old: Option<Vec<Value>>,
        /// The new row.
        new: Vec<Value>,
    },
    /// A row was deleted.
    Delete {
        /// The relation's OID.
        relation: u32,
        /// The old row (or its key).
        old: Vec<Value>,
    },
    /// Tables were truncated.
    Truncate {
        /// Their OIDs.
        relations: Vec<u32>,
    },
    /// Origin, type and logical messages: nothing Strata applies.
    Other(u8),
}

/// A decoding failure: the stream is not what protocol version 1 says.
fn malformed(what: &str) -> Error {
    Error::source(format!("pgoutput: malformed {what} message"))
}

struct Reader(Bytes);

impl Reader {
    fn need(&self, n: usize, what: &str) -> Result<()> {
        if self.0.remaining() < n {
            return Err(malformed(what));
        }
        Ok(())
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        self.need(1, what)?;
        Ok(self.0.get_u8())
    }
    fn i16(&mut self, what: &str) -> Result<i16> {
        self.need(2, what)?;
        Ok(self.0.get_i16())
    }
    fn i32(&mut self, what: &str) -> Result<i32> {
        self.need(4, what)?;
        Ok(self.0.get_i32())
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        self.need(4, what)?;
        Ok(self.0.get_u32())
    }
    fn i64(&mut self, what: &str) -> Result<i64> {
        self.need(8, what)?;
        Ok(self.0.get_i64())
    }
    fn string(&mut self, what: &str) -> Result<String> {
        let end = self
            .0
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| malformed(what))?;
        let s = String::from_utf8(self.0.split_to(end).to_vec()).map_err(|_| malformed(what))?;
        self.0.advance(1);
        Ok(s)
    }
    fn tuple(&mut self, what: &str) -> Result<Vec<Value>> {
        let n = self.i16(what)?;
        let mut out = Vec::with_capacity(n.max(0) as usize);
        for _ in 0..n {
            out.push(match self.u8(what)? {
                b'n' => Value::Null,
                b'u' => Value::Unchanged,
                b't' => {
                    let len = self.i32(what)?;
                    let len = usize::try_from(len).map_err(|_| malformed(what))?;
                    self.need(len, what)?;
                    let v = self.0.split_to(len);
                    Value::Text(String::from_utf8(v.to_vec()).map_err(|_| malformed(what))?)
                }
                _ => return Err(malformed(what)),
            });
        }
        Ok(out)
    }
}

/// Decodes one message.
pub fn decode(data: Bytes) -> Result<Message> {
    let mut r = Reader(data);
    let tag = r.u8("empty")?;
    Ok(match tag {
        b'B' => {
            let final_lsn = Lsn(r.i64("Begin")? as u64);
            let commit_ts = unix_micros(r.i64("Begin")?);
            let _xid = r.u32("Begin")?;
            Message::Begin {
                final_lsn,
                commit_ts,
            }
        }
        b'C' => {
            let _flags = r.u8("Commit")?;
            Message::Commit {
                commit_lsn: Lsn(r.i64("Commit")? as u64),
                end_lsn: Lsn(r.i64("Commit")? as u64),
                commit_ts: unix_micros(r.i64("Commit")?),
            }
        }
        b'R' => {
            let id = r.u32("Relation")?;
            let namespace = r.string("Relation")?;
            let name = r.string("Relation")?;
            let replica_identity = r.u8("Relation")?;
            let n = r.i16("Relation")?;
            let mut columns = vec![];
            for _ in 0..n {
                let flags = r.u8("Relation")?;
                columns.push(RelationColumn {
                    name: r.string("Relation")?,
                    type_oid: r.u32("Relation")?,
                    type_modifier: r.i32("Relation")?,
                    key: flags & 1 == 1,
                });
            }
            Message::Relation(Relation {
                id,
                namespace,
                name,
                replica_identity,
                columns,
            })
        }
        b'I' => {
            let relation = r.u32("Insert")?;
            if r.u8("Insert")? != b'N' {
                return Err(malformed("Insert"));
            }
            Message::Insert {
                relation,
                new: r.tuple("Insert")?,
            }
        }
        b'U' => {
            let relation = r.u32("Update")?;
            let mut old = None;
            let mut kind = r.u8("Update")?;
            if kind == b'K' || kind == b'O' {
                old = Some(r.tuple("Update")?);
                kind = r.u8("Update")?;
            }
            if kind != b'N' {
                return Err(malformed("Update"));
            }
            Message::Update {
                relation,
                old,
                new: r.tuple("Update")?,
            }
        }
        b'D' => {
            let relation = r.u32("Delete")?;
            let kind = r.u8("Delete")?;
            if kind != b'K' && kind != b'O' {
                return Err(malformed("Delete"));
            }
            Message::Delete {
                relation,
                old: r.tuple("Delete")?,
            }
        }
        b'T' => {
            let n = r.i32("Truncate")?;
            let _options = r.u8("Truncate")?;
            let relations = (0..n)
                .map(|_| r.u32("Truncate"))
                .collect::<Result<Vec<_>>>()?;
            Message::Truncate { relations }
        }
        other => Message::Other(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, BytesMut};

    fn tuple(buf: &mut BytesMut, values: &[Option<&str>]) {
        buf.put_i16(values.len() as i16);
        for v in values {
            match v {
                None => buf.put_u8(b'n'),
                Some(t) => {
                    buf.put_u8(b't');
                    buf.put_i32(t.len() as i32);
                    buf.put_slice(t.as_bytes());
                }
            }
        }
    }

    #[test]
    fn a_relation_and_an_update_with_its_old_row_decode() {
        let mut rel = BytesMut::new();
        rel.put_u8(b'R');
        rel.put_u32(16384);
        rel.put_slice(b"public\0sales\0");
        rel.put_u8(b'f');
        rel.put_i16(2);
        rel.put_u8(1);
        rel.put_slice(b"sale_id\0");
        rel.put_u32(20);
        rel.put_i32(-1);
        rel.put_u8(1);
        rel.put_slice(b"region\0");
        rel.put_u32(1043);
        rel.put_i32(34);
        let Message::Relation(r) = decode(rel.freeze()).unwrap() else {
            panic!("not a relation")
        };
        assert_eq!(
            (r.id, r.name.as_str(), r.replica_identity),
            (16384, "sales", b'f')
        );
        assert_eq!(r.columns[1].name, "region");
        assert_eq!(r.columns[1].type_modifier, 34);

        let mut up = BytesMut::new();
        up.put_u8(b'U');
        up.put_u32(16384);
        up.put_u8(b'O');
        tuple(&mut up, &[Some("7"), Some("sul")]);
        up.put_u8(b'N');
        tuple(&mut up, &[Some("7"), None]);
        assert_eq!(
            decode(up.freeze()).unwrap(),
            Message::Update {
                relation: 16384,
                old: Some(vec![Value::Text("7".into()), Value::Text("sul".into())]),
                new: vec![Value::Text("7".into()), Value::Null],
            }
        );
    }

    #[test]
    fn a_commit_carries_its_end_and_time_in_unix_microseconds() {
        let mut c = BytesMut::new();
        c.put_u8(b'C');
        c.put_u8(0);
        c.put_u64(0x10);
        c.put_u64(0x20);
        c.put_i64(0);
        assert_eq!(
            decode(c.freeze()).unwrap(),
            Message::Commit {
                commit_lsn: Lsn(0x10),
                end_lsn: Lsn(0x20),
                commit_ts: 946_684_800_000_000,
            }
        );
    }

    #[test]
    fn a_truncated_message_is_an_error_not_a_panic() {
        let mut d = BytesMut::new();
        d.put_u8(b'D');
        d.put_u32(1);
        d.put_u8(b'O');
        d.put_i16(3);
        assert!(decode(d.freeze()).is_err());
    }
}
