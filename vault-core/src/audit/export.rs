//! Export files (JSON lines and CSV) that verify offline, and archive
//! segments (the same format).
//!
//! A file holds a header (format, version, and the chain head the records
//! continue), then the chain items in order (records, or omitted records in a
//! filtered export), with checkpoints anywhere (the writer puts each after
//! the record it covers). `docs/audit.md` specifies both layouts.

use std::io::{self, BufRead, Write};

use serde::{Deserialize, Serialize};

use super::csv;
use super::keys::{AuditVerifyingKey, Checkpoint};
use super::verification::{Problem, ProblemKind, VerifyReport, verify_items};
use super::{AuditRecord, ChainHead, Outcome};
use crate::clock::Timestamp;

/// The `format` value of every export header.
pub const FORMAT_NAME: &str = "vault-audit-export";
/// The export format version this code writes and reads.
pub const FORMAT_VERSION: u64 = 1;

/// Which export layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// JSON lines (`.jsonl`), one tagged object per line.
    Jsonl,
    /// CSV (`.csv`) with a `kind` column.
    Csv,
}

/// What an export file says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportHeader {
    /// The chain head the first item continues (genesis for a whole chain).
    /// Not trusted by itself: it is anchored by genesis, by a signed
    /// checkpoint at its seq in the file, or by the previous archive segment.
    pub start: ChainHead,
    /// When the file was written.
    pub exported_at: Option<Timestamp>,
    /// Key id of the key that signed its checkpoints (informational).
    pub key_id: Option<String>,
    /// The filter the export was made with, in words (`None`: every record
    /// in the range is present in full).
    pub filter: Option<String>,
}

impl ExportHeader {
    /// A header for items continuing `start`, with no other information.
    pub fn new(start: ChainHead) -> Self {
        Self {
            start,
            exported_at: None,
            key_id: None,
            filter: None,
        }
    }
}

/// A record that a filtered export leaves out: only its seq and content hash,
/// which is enough to keep the chain verifiable without revealing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OmittedRecord {
    /// Its seq.
    pub seq: u64,
    /// Its content hash (hex), see [`AuditRecord::content_hash`].
    pub content_hash: String,
}

impl OmittedRecord {
    /// The stand-in for `record`.
    pub fn of(record: &AuditRecord) -> Self {
        Self {
            seq: record.seq,
            content_hash: record.content_hash().to_hex(),
        }
    }
}

/// One position in the chain in an export.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // records are the common case: no box per record
pub enum ChainItem {
    /// A record in full.
    Record(AuditRecord),
    /// A record left out by a filter.
    Omitted(OmittedRecord),
}

impl ChainItem {
    /// The seq of the item.
    pub fn seq(&self) -> u64 {
        match self {
            Self::Record(r) => r.seq,
            Self::Omitted(o) => o.seq,
        }
    }
}

/// A parsed export file or archive segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFile {
    /// The header.
    pub header: ExportHeader,
    /// Chain items, in file order.
    pub items: Vec<ChainItem>,
    /// Checkpoints, in file order.
    pub checkpoints: Vec<Checkpoint>,
}

impl ExportFile {
    /// An unfiltered file (an export of a seq range, or an archive segment):
    /// `records` continue `start`; `checkpoints` should be those with a seq
    /// from `start.seq` to the last record's, ideally including one at each
    /// end.
    pub fn from_records(
        start: ChainHead,
        records: Vec<AuditRecord>,
        checkpoints: Vec<Checkpoint>,
    ) -> Self {
        Self {
            header: ExportHeader::new(start),
            items: records.into_iter().map(ChainItem::Record).collect(),
            checkpoints,
        }
    }

    /// The records present in full.
    pub fn records(&self) -> impl Iterator<Item = &AuditRecord> {
        self.items.iter().filter_map(|i| match i {
            ChainItem::Record(r) => Some(r),
            ChainItem::Omitted(_) => None,
        })
    }

    /// Verifies the file offline.
    ///
    /// The chain starts at `trusted_start` if given (the previous archive
    /// segment's end, or a head the caller trusts), else at the header's
    /// start, which then must be genesis or vouched for by a signed
    /// checkpoint at its seq in the file (otherwise, with a key, the report
    /// has a [`ProblemKind::StartNotAnchored`] problem).
    pub fn verify(
        &self,
        key: Option<&AuditVerifyingKey>,
        trusted_start: Option<&ChainHead>,
    ) -> VerifyReport {
        let start = trusted_start.copied().unwrap_or(self.header.start);
        let mut report = verify_items(&self.items, &self.checkpoints, key, &start);
        if let Some(key) = key {
            // A file is only "ok" when a signature covers it to its end.
            if let Some((from, to)) = report.unprotected_tail() {
                let at = report.problems.partition_point(|p| p.seq < from);
                report.problems.insert(
                    at,
                    Problem {
                        seq: from,
                        kind: ProblemKind::Unsigned { to },
                    },
                );
            }
            // Said first: with the wrong key every other finding is noise.
            if let Some(named) = &self.header.key_id
                && !named.is_empty()
                && *named != key.key_id()
            {
                report.problems.insert(
                    0,
                    Problem {
                        seq: start.seq.saturating_add(1),
                        kind: ProblemKind::WrongKey {
                            file_key_id: named.clone(),
                            given_key_id: key.key_id(),
                        },
                    },
                );
            }
        }
        if trusted_start.is_none() && key.is_some() && !report.start_anchored {
            let seq = start.seq.saturating_add(1);
            let at = report.problems.partition_point(|p| p.seq < seq);
            report.problems.insert(
                at,
                Problem {
                    seq,
                    kind: ProblemKind::StartNotAnchored,
                },
            );
        }
        report
    }
}

/// Writes an export file item by item (for streaming out of a database).
/// Write items in chain order; write each checkpoint after the record it
/// covers (anywhere is valid, that is only the convention).
pub struct ExportWriter<W: Write> {
    out: W,
    format: ExportFormat,
}

impl<W: Write> ExportWriter<W> {
    /// Starts a file: writes the header (for CSV, the column row and the
    /// header row).
    pub fn new(mut out: W, format: ExportFormat, header: &ExportHeader) -> io::Result<Self> {
        match format {
            ExportFormat::Jsonl => {
                let line = HeaderLine {
                    format: FORMAT_NAME.to_owned(),
                    version: FORMAT_VERSION,
                    start: header.start,
                    exported_at: header.exported_at,
                    key_id: header.key_id.clone(),
                    filter: header.filter.clone(),
                };
                write_json_line(&mut out, &LineRef::Header(&line))?;
            }
            ExportFormat::Csv => {
                csv::write_row(&mut out, &COLUMNS.map(Some))?;
                let mut row = Row::new("header");
                let version = FORMAT_VERSION.to_string();
                let seq = header.start.seq.to_string();
                let hash = header.start.hash.to_hex();
                let time = header.exported_at.map(time_cell);
                row.set(VERSION, &version);
                row.set(SEQ, &seq);
                row.set_opt(TIME, time.as_deref());
                row.set(HASH, &hash);
                row.set_opt(KEY_ID, header.key_id.as_deref());
                row.set_opt(FILTER, header.filter.as_deref());
                row.write(&mut out)?;
            }
        }
        Ok(Self { out, format })
    }

    /// Writes a record.
    pub fn record(&mut self, r: &AuditRecord) -> io::Result<()> {
        match self.format {
            ExportFormat::Jsonl => write_json_line(&mut self.out, &LineRef::Record(r)),
            ExportFormat::Csv => {
                let mut row = Row::new("record");
                let seq = r.seq.to_string();
                let time = time_cell(r.time);
                row.set(SEQ, &seq);
                row.set(TIME, &time);
                row.set(REQUEST_ID, &r.request_id);
                row.set(ACTOR, &r.actor);
                row.set_opt(TOKEN_ID, r.token_id.as_deref());
                row.set(ACTION, &r.action);
                row.set(RESOURCE, &r.resource);
                row.set(OUTCOME, r.outcome.as_str());
                row.set(SOURCE, &r.source);
                row.set_opt(DETAIL, r.detail.as_deref());
                row.set(PREV_HASH, &r.prev_hash);
                row.set(HASH, &r.hash);
                row.write(&mut self.out)
            }
        }
    }

    /// Writes an omitted record.
    pub fn omitted(&mut self, o: &OmittedRecord) -> io::Result<()> {
        match self.format {
            ExportFormat::Jsonl => write_json_line(&mut self.out, &LineRef::Omitted(o)),
            ExportFormat::Csv => {
                let mut row = Row::new("omitted");
                let seq = o.seq.to_string();
                row.set(SEQ, &seq);
                row.set(CONTENT_HASH, &o.content_hash);
                row.write(&mut self.out)
            }
        }
    }

    /// Writes a chain item.
    pub fn item(&mut self, item: &ChainItem) -> io::Result<()> {
        match item {
            ChainItem::Record(r) => self.record(r),
            ChainItem::Omitted(o) => self.omitted(o),
        }
    }

    /// Writes a checkpoint.
    pub fn checkpoint(&mut self, c: &Checkpoint) -> io::Result<()> {
        match self.format {
            ExportFormat::Jsonl => write_json_line(&mut self.out, &LineRef::Checkpoint(c)),
            ExportFormat::Csv => {
                let mut row = Row::new("checkpoint");
                let seq = c.seq.to_string();
                let time = time_cell(c.time);
                row.set(SEQ, &seq);
                row.set(TIME, &time);
                row.set(HASH, &c.hash);
                row.set(KEY_ID, &c.key_id);
                row.set(SIGNATURE, &c.signature);
                row.write(&mut self.out)
            }
        }
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes `file` as JSON lines.
pub fn export_jsonl<W: Write>(out: W, file: &ExportFile) -> io::Result<()> {
    export(out, ExportFormat::Jsonl, file)
}

/// Writes `file` as CSV.
pub fn export_csv<W: Write>(out: W, file: &ExportFile) -> io::Result<()> {
    export(out, ExportFormat::Csv, file)
}

fn export<W: Write>(out: W, format: ExportFormat, file: &ExportFile) -> io::Result<()> {
    let mut w = ExportWriter::new(out, format, &file.header)?;
    let mut cps: Vec<&Checkpoint> = file.checkpoints.iter().collect();
    cps.sort_by_key(|c| c.seq);
    let mut cps = cps.into_iter().peekable();
    for item in &file.items {
        while let Some(c) = cps.next_if(|c| c.seq < item.seq()) {
            w.checkpoint(c)?;
        }
        w.item(item)?;
    }
    for c in cps {
        w.checkpoint(c)?;
    }
    w.finish().map(drop)
}

/// Why an export file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportParseError {
    /// Reading failed (or the file is not UTF-8).
    #[error("reading the audit export failed")]
    Io(#[source] io::Error),
    /// The file does not start like a vault audit export.
    #[error("not a vault audit export: {0}")]
    NotAnExport(&'static str),
    /// A newer format than this build reads.
    #[error(
        "audit export format version {0} is not supported (this build reads version {FORMAT_VERSION})"
    )]
    Version(u64),
    /// A line is malformed.
    #[error("audit export line {line}: {reason}")]
    Malformed {
        /// Line number, from 1.
        line: u64,
        /// What is wrong.
        reason: String,
    },
}

/// Reads an export in either format, telling them apart by the first
/// character (`{` is JSON lines).
pub fn parse_export<R: BufRead>(mut input: R) -> Result<ExportFile, ExportParseError> {
    let buf = input.fill_buf().map_err(ExportParseError::Io)?;
    let buf = buf.strip_prefix("\u{feff}".as_bytes()).unwrap_or(buf);
    let first = buf.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        parse_jsonl(input)
    } else {
        parse_csv(input)
    }
}

/// Reads a JSON lines export.
pub fn parse_jsonl<R: BufRead>(mut input: R) -> Result<ExportFile, ExportParseError> {
    let mut header = None;
    let mut items = Vec::new();
    let mut checkpoints = Vec::new();
    let mut line_no = 0u64;
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line).map_err(ExportParseError::Io)? == 0 {
            break;
        }
        line_no += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(text).map_err(|e| {
            if header.is_none() {
                ExportParseError::NotAnExport("the first line is not a JSON export header")
            } else {
                malformed(line_no, format!("invalid JSON ({e})"))
            }
        })?;
        match (parsed, &header) {
            (Line::Header(h), None) => header = Some(h.into_header()?),
            (Line::Header(_), Some(_)) => {
                return Err(malformed(line_no, "a second header".to_owned()));
            }
            (_, None) => {
                return Err(ExportParseError::NotAnExport(
                    "the first line is not a JSON export header",
                ));
            }
            (Line::Record(r), Some(_)) => items.push(ChainItem::Record(r)),
            (Line::Omitted(o), Some(_)) => items.push(ChainItem::Omitted(o)),
            (Line::Checkpoint(c), Some(_)) => checkpoints.push(c),
        }
    }
    let header = header.ok_or(ExportParseError::NotAnExport("the file is empty"))?;
    Ok(ExportFile {
        header,
        items,
        checkpoints,
    })
}

/// Reads a CSV export.
pub fn parse_csv<R: BufRead>(input: R) -> Result<ExportFile, ExportParseError> {
    let mut reader = csv::Reader::new(input);
    let map_err = |e: csv::ReadError| match e {
        csv::ReadError::Io(e) => ExportParseError::Io(e),
        csv::ReadError::Syntax(line, msg) => malformed(line, msg.to_owned()),
    };
    let not_export = ExportParseError::NotAnExport("the first row is not the expected CSV columns");
    let Some((_, columns)) = reader.next_row().map_err(|_| not_export)? else {
        return Err(ExportParseError::NotAnExport("the file is empty"));
    };
    if columns.len() != COLUMNS.len() || columns.iter().zip(COLUMNS).any(|(c, n)| c.text != n) {
        return Err(ExportParseError::NotAnExport(
            "the first row is not the expected CSV columns",
        ));
    }
    let mut header = None;
    let mut items = Vec::new();
    let mut checkpoints = Vec::new();
    while let Some((line, cells)) = reader.next_row().map_err(map_err)? {
        let row = ReadRow {
            line,
            cells: &cells,
        };
        if cells.len() != COLUMNS.len() {
            return Err(malformed(
                line,
                format!("{} cells, expected {}", cells.len(), COLUMNS.len()),
            ));
        }
        let kind = cells[KIND].text.as_str();
        if header.is_none() && kind != "header" {
            return Err(ExportParseError::NotAnExport(
                "the second row is not the header row",
            ));
        }
        match kind {
            "header" => {
                if header.is_some() {
                    return Err(malformed(line, "a second header row".to_owned()));
                }
                row.only(&[VERSION, SEQ, TIME, HASH, KEY_ID, FILTER])?;
                let version = row.u64(VERSION)?;
                if version != FORMAT_VERSION {
                    return Err(ExportParseError::Version(version));
                }
                header = Some(ExportHeader {
                    start: ChainHead::new(row.u64(SEQ)?, row.hash(HASH)?),
                    exported_at: row.opt(TIME).map(|_| row.time(TIME)).transpose()?,
                    key_id: row.opt(KEY_ID),
                    filter: row.opt(FILTER),
                });
            }
            "record" => {
                row.only(&[
                    SEQ, TIME, REQUEST_ID, ACTOR, TOKEN_ID, ACTION, RESOURCE, OUTCOME, SOURCE,
                    DETAIL, PREV_HASH, HASH,
                ])?;
                items.push(ChainItem::Record(AuditRecord {
                    seq: row.u64(SEQ)?,
                    time: row.time(TIME)?,
                    request_id: row.text(REQUEST_ID),
                    actor: row.text(ACTOR),
                    token_id: row.opt(TOKEN_ID),
                    action: row.text(ACTION),
                    resource: row.text(RESOURCE),
                    outcome: row
                        .text(OUTCOME)
                        .parse::<Outcome>()
                        .map_err(|e| malformed(line, e.to_string()))?,
                    source: row.text(SOURCE),
                    detail: row.opt(DETAIL),
                    prev_hash: row.text(PREV_HASH),
                    hash: row.text(HASH),
                }));
            }
            "omitted" => {
                row.only(&[SEQ, CONTENT_HASH])?;
                items.push(ChainItem::Omitted(OmittedRecord {
                    seq: row.u64(SEQ)?,
                    content_hash: row.text(CONTENT_HASH),
                }));
            }
            "checkpoint" => {
                row.only(&[SEQ, TIME, HASH, KEY_ID, SIGNATURE])?;
                checkpoints.push(Checkpoint {
                    seq: row.u64(SEQ)?,
                    time: row.time(TIME)?,
                    hash: row.text(HASH),
                    key_id: row.text(KEY_ID),
                    signature: row.text(SIGNATURE),
                });
            }
            _ => {
                return Err(malformed(
                    line,
                    "kind is not header, record, omitted or checkpoint".to_owned(),
                ));
            }
        }
    }
    let header = header.ok_or(ExportParseError::NotAnExport("no header row"))?;
    Ok(ExportFile {
        header,
        items,
        checkpoints,
    })
}

// ---- JSON lines ----

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum LineRef<'a> {
    Header(&'a HeaderLine),
    Record(&'a AuditRecord),
    Omitted(&'a OmittedRecord),
    Checkpoint(&'a Checkpoint),
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line {
    Header(HeaderLine),
    Record(AuditRecord),
    Omitted(OmittedRecord),
    Checkpoint(Checkpoint),
}

#[derive(Serialize, Deserialize)]
struct HeaderLine {
    format: String,
    version: u64,
    start: ChainHead,
    exported_at: Option<Timestamp>,
    key_id: Option<String>,
    filter: Option<String>,
}

impl HeaderLine {
    fn into_header(self) -> Result<ExportHeader, ExportParseError> {
        if self.format != FORMAT_NAME {
            return Err(ExportParseError::NotAnExport(
                "the header's format is not vault-audit-export",
            ));
        }
        if self.version != FORMAT_VERSION {
            return Err(ExportParseError::Version(self.version));
        }
        Ok(ExportHeader {
            start: self.start,
            exported_at: self.exported_at,
            key_id: self.key_id,
            filter: self.filter,
        })
    }
}

fn write_json_line<W: Write>(out: &mut W, line: &LineRef<'_>) -> io::Result<()> {
    let mut bytes = serde_json::to_vec(line)?;
    bytes.push(b'\n');
    out.write_all(&bytes)
}

fn malformed(line: u64, reason: String) -> ExportParseError {
    ExportParseError::Malformed { line, reason }
}

// ---- CSV ----

/// The CSV columns, in order (the first row of every CSV export).
pub const COLUMNS: [&str; 18] = [
    "kind",
    "version",
    "seq",
    "time",
    "request_id",
    "actor",
    "token_id",
    "action",
    "resource",
    "outcome",
    "source",
    "detail",
    "prev_hash",
    "hash",
    "content_hash",
    "key_id",
    "signature",
    "filter",
];

const KIND: usize = 0;
const VERSION: usize = 1;
const SEQ: usize = 2;
const TIME: usize = 3;
const REQUEST_ID: usize = 4;
const ACTOR: usize = 5;
const TOKEN_ID: usize = 6;
const ACTION: usize = 7;
const RESOURCE: usize = 8;
const OUTCOME: usize = 9;
const SOURCE: usize = 10;
const DETAIL: usize = 11;
const PREV_HASH: usize = 12;
const HASH: usize = 13;
const CONTENT_HASH: usize = 14;
const KEY_ID: usize = 15;
const SIGNATURE: usize = 16;
const FILTER: usize = 17;

/// A CSV row being written.
struct Row<'a>([Option<&'a str>; COLUMNS.len()]);

impl<'a> Row<'a> {
    fn new(kind: &'a str) -> Self {
        let mut cells = [None; COLUMNS.len()];
        cells[KIND] = Some(kind);
        Self(cells)
    }

    fn set(&mut self, col: usize, v: &'a str) {
        self.0[col] = Some(v);
    }

    fn set_opt(&mut self, col: usize, v: Option<&'a str>) {
        self.0[col] = v;
    }

    fn write<W: Write>(&self, out: &mut W) -> io::Result<()> {
        csv::write_row(out, &self.0)
    }
}

/// RFC 3339 with milliseconds when that reads back exactly, else integer
/// milliseconds since the epoch.
fn time_cell(t: Timestamp) -> String {
    let s = t.to_rfc3339();
    if Timestamp::parse_rfc3339(&s) == Some(t) {
        s
    } else {
        t.as_millis().to_string()
    }
}

/// A CSV row being read (always `COLUMNS.len()` cells).
struct ReadRow<'a> {
    line: u64,
    cells: &'a [csv::Cell],
}

impl ReadRow<'_> {
    /// Every column not in `used` (nor `kind`) must be absent.
    fn only(&self, used: &[usize]) -> Result<(), ExportParseError> {
        for (i, c) in self.cells.iter().enumerate() {
            if i != KIND && !used.contains(&i) && !c.is_absent() {
                return Err(malformed(
                    self.line,
                    format!("column {} must be empty in this row", COLUMNS[i]),
                ));
            }
        }
        Ok(())
    }

    fn text(&self, col: usize) -> String {
        self.cells[col].text.clone()
    }

    fn opt(&self, col: usize) -> Option<String> {
        let c = &self.cells[col];
        (!c.is_absent()).then(|| c.text.clone())
    }

    fn u64(&self, col: usize) -> Result<u64, ExportParseError> {
        let c = &self.cells[col];
        if c.text.is_empty() || !c.text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.bad(col, "a whole number"));
        }
        c.text.parse().map_err(|_| self.bad(col, "a whole number"))
    }

    fn time(&self, col: usize) -> Result<Timestamp, ExportParseError> {
        let t = &self.cells[col].text;
        t.parse::<i64>()
            .ok()
            .map(Timestamp::from_millis)
            .or_else(|| Timestamp::parse_rfc3339(t))
            .ok_or_else(|| self.bad(col, "an RFC 3339 time or milliseconds"))
    }

    fn hash(&self, col: usize) -> Result<super::ChainHash, ExportParseError> {
        super::ChainHash::from_hex(&self.cells[col].text)
            .map_err(|_| self.bad(col, "64 lowercase hex digits"))
    }

    fn bad(&self, col: usize, what: &str) -> ExportParseError {
        malformed(self.line, format!("column {} must be {what}", COLUMNS[col]))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::audit::testutil::*;
    use crate::audit::verify_archive;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    fn to_jsonl(f: &ExportFile) -> String {
        let mut out = Vec::new();
        export_jsonl(&mut out, f).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn to_csv(f: &ExportFile) -> String {
        let mut out = Vec::new();
        export_csv(&mut out, f).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn sample(n: u64) -> (ExportFile, crate::audit::AuditSigningKey) {
        let k = key();
        let (records, head) = chain(n);
        let cps = vec![
            k.sign_checkpoint(&ChainHead::after(&records[1]).unwrap(), t(5)),
            k.sign_checkpoint(&head, t(9)),
        ];
        let mut f = ExportFile::from_records(ChainHead::genesis(), records, cps);
        f.header.exported_at = Some(t(1_795_357_680_123));
        f.header.key_id = Some(k.key_id());
        (f, k)
    }

    #[test]
    fn jsonl_layout() {
        let (f, _) = sample(2);
        let text = to_jsonl(&f);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(lines[0].starts_with(
            "{\"type\":\"header\",\"format\":\"vault-audit-export\",\"version\":1,\"start\":{\"seq\":0,"
        ));
        assert!(lines[1].starts_with("{\"type\":\"record\",\"seq\":1,"));
        assert!(lines[2].starts_with("{\"type\":\"record\",\"seq\":2,"));
        assert!(lines[3].starts_with("{\"type\":\"checkpoint\",\"seq\":2,"));
        assert_eq!(parse_export(text.as_bytes()).unwrap(), f);
    }

    #[test]
    fn csv_layout() {
        let (f, _) = sample(2);
        let text = to_csv(&f);
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), COLUMNS.join(","));
        assert_eq!(
            lines.next().unwrap(),
            format!(
                "header,1,0,2026-11-22T14:28:00.123Z,,,,,,,,,,{},,{},,",
                "0".repeat(64),
                f.header.key_id.as_deref().unwrap()
            )
        );
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("record,,1,2026-11-22T14:28:01.000Z,req-1,")
        );
        assert_eq!(parse_export(text.as_bytes()).unwrap(), f);
    }

    #[test]
    fn exported_files_verify_offline() {
        let (f, k) = sample(6);
        let pk = AuditVerifyingKey::from_base64(&k.verifying_key().to_base64()).unwrap();
        for text in [to_jsonl(&f), to_csv(&f)] {
            let parsed = parse_export(text.as_bytes()).unwrap();
            let r = parsed.verify(Some(&pk), None);
            assert!(r.is_ok(), "{}", r.summary());
            assert_eq!((r.records, r.checkpoints), (6, 2));
        }
    }

    #[test]
    fn tampered_files_fail() {
        let (f, k) = sample(6);
        let pk = k.verifying_key();
        let jsonl = to_jsonl(&f).replace("KEY_3", "KEY_X");
        let r = parse_jsonl(jsonl.as_bytes())
            .unwrap()
            .verify(Some(&pk), None);
        assert_eq!(r.first_problem().unwrap().seq, 3);
        // Delete a record line from a CSV file.
        let csv_text: String = to_csv(&f)
            .split_inclusive('\n')
            .filter(|l| !l.starts_with("record,,3,"))
            .collect();
        let r = parse_csv(csv_text.as_bytes())
            .unwrap()
            .verify(Some(&pk), None);
        let p = r.first_problem().unwrap();
        assert_eq!((p.seq, &p.kind), (3, &ProblemKind::Missing { to: 3 }));
    }

    #[test]
    fn filtered_export_with_omitted_records_verifies() {
        let (f, k) = sample(6);
        let mut filtered = f.clone();
        filtered.header.filter = Some("actor=user:alice, outcome=denied".into());
        filtered.items = f
            .records()
            .map(|r| {
                if r.outcome == Outcome::Denied {
                    ChainItem::Record(r.clone())
                } else {
                    ChainItem::Omitted(OmittedRecord::of(r))
                }
            })
            .collect();
        assert_eq!(filtered.records().count(), 1);
        let pk = k.verifying_key();
        for text in [to_jsonl(&filtered), to_csv(&filtered)] {
            let parsed = parse_export(text.as_bytes()).unwrap();
            assert_eq!(parsed, filtered);
            let r = parsed.verify(Some(&pk), None);
            assert!(r.is_ok(), "{}", r.summary());
        }
        // Editing the one record shown is still caught by the checkpoint.
        let mut bad = filtered.clone();
        if let Some(ChainItem::Record(r)) = bad.items.get_mut(4) {
            r.actor = "user:bob".into();
            r.hash = r.computed_hash().unwrap().to_hex();
        }
        assert!(!bad.verify(Some(&pk), None).is_ok());
        // So is forging an omitted record's content hash.
        let mut bad = filtered;
        if let Some(ChainItem::Omitted(o)) = bad.items.get_mut(0) {
            o.content_hash = "1".repeat(64);
        }
        assert!(!bad.verify(Some(&pk), None).is_ok());
    }

    #[test]
    fn archive_segments_chain_into_the_live_database() {
        let k = key();
        let pk = k.verifying_key();
        let (records, head) = chain(30);
        let cp_at = |i: usize| k.sign_checkpoint(&ChainHead::after(&records[i - 1]).unwrap(), t(1));
        // Retention archived 1..=10 and 11..=20, each sealed with a checkpoint
        // at its end; 21..=30 are live.
        let seg1 = ExportFile::from_records(
            ChainHead::genesis(),
            records[..10].to_vec(),
            vec![cp_at(10)],
        );
        let seg2 = ExportFile::from_records(
            ChainHead::after(&records[9]).unwrap(),
            records[10..20].to_vec(),
            vec![cp_at(10), cp_at(20)],
        );
        // Through the file format and back.
        let seg1 = parse_jsonl(to_jsonl(&seg1).as_bytes()).unwrap();
        let seg2 = parse_csv(to_csv(&seg2).as_bytes()).unwrap();
        let archived = verify_archive(
            &[seg1.clone(), seg2.clone()],
            Some(&pk),
            &ChainHead::genesis(),
        );
        assert!(archived.is_ok(), "{}", archived.summary());
        assert_eq!(archived.end, ChainHead::after(&records[19]).unwrap());
        assert_eq!(archived.records, 20);
        let live_cps = vec![k.sign_checkpoint(&head, t(2))];
        let live = crate::audit::verify(&records[20..], &live_cps, Some(&pk), &archived.end);
        assert!(live.is_ok(), "{}", live.summary());

        // Each segment alone verifies too: seg2's start is anchored by the
        // checkpoint at 10 it carries.
        assert!(seg2.verify(Some(&pk), None).is_ok());

        // A lost segment is reported.
        let r = verify_archive(
            std::slice::from_ref(&seg2),
            Some(&pk),
            &ChainHead::genesis(),
        );
        let p = r.first_problem().unwrap();
        assert_eq!(p.seq, 1);
        assert!(
            matches!(p.kind, ProblemKind::SegmentGap { segment: 0, .. }),
            "{p}"
        );
        // A segment without an anchor is reported when verified alone.
        let mut lone = seg2;
        lone.checkpoints.retain(|c| c.seq != 10);
        let r = lone.verify(Some(&pk), None);
        assert_eq!(
            r.first_problem().unwrap().kind,
            ProblemKind::StartNotAnchored
        );
        assert_eq!(r.first_problem().unwrap().seq, 11);
        // ...but not when chained after its predecessor.
        assert!(verify_archive(&[seg1, lone], Some(&pk), &ChainHead::genesis()).is_ok());
    }

    #[test]
    fn parse_errors_are_clear() {
        let err = |s: &str| parse_export(s.as_bytes()).unwrap_err().to_string();
        assert!(err("").contains("empty"), "{}", err(""));
        assert!(err("hello,world\n").contains("not a vault audit export"));
        assert!(err("{\"type\":\"record\"}\n").contains("not a vault audit export"));
        let (f, _) = sample(2);
        let jsonl = to_jsonl(&f);
        let v2 = jsonl.replacen("\"version\":1", "\"version\":2", 1);
        assert!(
            err(&v2).contains("version 2 is not supported"),
            "{}",
            err(&v2)
        );
        let broken = format!("{jsonl}{{\"type\":\"record\",\"seq\":\"x\"}}\n");
        assert!(
            err(&broken).starts_with("audit export line 6:"),
            "{}",
            err(&broken)
        );
        let csv_text = to_csv(&f);
        let extra = csv_text.replacen("record,,1,", "record,1,1,", 1);
        assert!(
            err(&extra).contains("column version must be empty"),
            "{}",
            err(&extra)
        );
        let bad_outcome = csv_text.replace(",success,", ",maybe,");
        assert!(
            err(&bad_outcome).contains("unknown outcome"),
            "{}",
            err(&bad_outcome)
        );
        let bad_seq = csv_text.replacen("record,,1,", "record,,-1,", 1);
        assert!(err(&bad_seq).contains("column seq must be a whole number"));
    }

    fn file_strategy() -> impl Strategy<Value = ExportFile> {
        (
            proptest::collection::vec((any_entry(), any::<bool>()), 0..8),
            proptest::option::of(nasty_string()),
            proptest::option::of(nasty_string()),
            any::<u64>(),
        )
            .prop_map(|(entries, filter, key_id, start_seq)| {
                let k = key();
                let start_seq = start_seq % 1_000_000;
                let mut head =
                    ChainHead::new(start_seq, crate::audit::ChainHash::from_bytes([3; 32]));
                let start = head;
                let mut items = Vec::new();
                let mut cps = vec![k.sign_checkpoint(&head, t(1))];
                for (e, keep) in entries {
                    let r = head.append(e);
                    items.push(if keep {
                        ChainItem::Record(r)
                    } else {
                        ChainItem::Omitted(OmittedRecord::of(&r))
                    });
                    cps.push(k.sign_checkpoint(&head, t(2)));
                }
                ExportFile {
                    header: ExportHeader {
                        start,
                        exported_at: Some(t(-5)),
                        key_id,
                        filter,
                    },
                    items,
                    checkpoints: cps,
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn jsonl_round_trips(f in file_strategy()) {
            let text = to_jsonl(&f);
            prop_assert_eq!(parse_export(text.as_bytes()).unwrap(), f.clone());
            // The header's key id is free text above; verified, it must name the key.
            let mut f = f;
            f.header.key_id = Some(key().key_id());
            prop_assert!(f.verify(Some(&key().verifying_key()), None).is_ok());
        }

        #[test]
        fn csv_round_trips(f in file_strategy()) {
            let text = to_csv(&f);
            let parsed = parse_export(text.as_bytes()).unwrap();
            prop_assert_eq!(&parsed, &f);
            let mut parsed = parsed;
            parsed.header.key_id = None;
            let r = parsed.verify(Some(&key().verifying_key()), None);
            prop_assert!(r.is_ok(), "{}", r.summary());
        }

        /// Whatever bytes come in, parsing returns (never panics).
        #[test]
        fn parsing_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_export(bytes.as_slice());
            let _ = parse_csv(bytes.as_slice());
            let _ = parse_jsonl(bytes.as_slice());
        }
    }
}
