//! A small, strict RFC 4180 CSV writer and reader (the workspace has no `csv`
//! crate).
//!
//! Writing: a cell is quoted when it contains `,`, `"`, CR or LF, or when it
//! is a present empty string (or starts with a byte order mark); quotes inside are doubled; rows end with LF.
//! An absent value (`None`) is an empty, unquoted cell, so `None` and
//! `Some("")` stay distinct.
//!
//! Reading: rows end with LF or CRLF outside quotes; a quoted cell may span
//! lines; a stray quote in an unquoted cell, text after a closing quote, or
//! an unterminated quote is an error. A UTF-8 byte order mark before the
//! first row is skipped.

use std::io::{self, BufRead, Write};

/// One cell as read: its text and whether it was quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cell {
    pub(crate) text: String,
    pub(crate) quoted: bool,
}

impl Cell {
    /// Absent: empty and not quoted.
    pub(crate) fn is_absent(&self) -> bool {
        !self.quoted && self.text.is_empty()
    }
}

/// Writes one row. `None` is an absent cell.
pub(crate) fn write_row<W: Write>(out: &mut W, cells: &[Option<&str>]) -> io::Result<()> {
    let mut line = String::new();
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        if let Some(s) = cell {
            if s.is_empty() || s.starts_with('\u{feff}') || s.contains([',', '"', '\r', '\n']) {
                line.push('"');
                line.push_str(&s.replace('"', "\"\""));
                line.push('"');
            } else {
                line.push_str(s);
            }
        }
    }
    line.push('\n');
    out.write_all(line.as_bytes())
}

/// Why a row could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(io::Error),
    /// Line number (from 1) where the row starts, and what is wrong.
    Syntax(u64, &'static str),
}

/// Reads rows from a buffered reader.
pub(crate) struct Reader<R> {
    input: R,
    line: u64,
    first: bool,
}

impl<R: BufRead> Reader<R> {
    pub(crate) fn new(input: R) -> Self {
        Self {
            input,
            line: 0,
            first: true,
        }
    }

    /// The next non-blank row and the line it starts on, or `None` at the end.
    pub(crate) fn next_row(&mut self) -> Result<Option<(u64, Vec<Cell>)>, ReadError> {
        loop {
            let mut raw = String::new();
            let start = self.line + 1;
            // Gather physical lines until the quotes balance.
            loop {
                let n = self.input.read_line(&mut raw).map_err(ReadError::Io)?;
                if n == 0 {
                    if raw.is_empty() {
                        return Ok(None);
                    }
                    return Err(ReadError::Syntax(start, "unterminated quoted cell"));
                }
                self.line += 1;
                if raw.bytes().filter(|&b| b == b'"').count() % 2 == 0 {
                    break;
                }
            }
            if self.first {
                self.first = false;
                if let Some(rest) = raw.strip_prefix('\u{feff}') {
                    raw = rest.to_owned();
                }
            }
            // Quotes balance, so a trailing line end is outside any quote.
            let body = raw.strip_suffix('\n').unwrap_or(&raw);
            let body = body.strip_suffix('\r').unwrap_or(body);
            if body.is_empty() {
                continue; // blank line
            }
            return parse_row(body)
                .map(|cells| Some((start, cells)))
                .map_err(|msg| ReadError::Syntax(start, msg));
        }
    }
}

/// Splits one logical row (line end already removed) into cells.
fn parse_row(body: &str) -> Result<Vec<Cell>, &'static str> {
    let mut cells = Vec::new();
    let mut chars = body.chars().peekable();
    loop {
        let mut text = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("unterminated quoted cell"),
                    Some('"') => {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            text.push('"');
                        } else {
                            break;
                        }
                    }
                    Some(c) => text.push(c),
                }
            }
            match chars.next() {
                None => {
                    cells.push(Cell { text, quoted });
                    return Ok(cells);
                }
                Some(',') => cells.push(Cell { text, quoted }),
                Some(_) => return Err("text after a closing quote"),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        cells.push(Cell { text, quoted });
                        return Ok(cells);
                    }
                    Some(',') => {
                        cells.push(Cell { text, quoted });
                        break;
                    }
                    Some('"') => return Err("a quote inside an unquoted cell"),
                    Some('\r' | '\n') => return Err("a line break inside an unquoted cell"),
                    Some(c) => text.push(c),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::audit::testutil::nasty_string;

    fn read_all(input: &str) -> Result<Vec<Vec<Cell>>, ReadError> {
        let mut r = Reader::new(input.as_bytes());
        let mut rows = Vec::new();
        while let Some((_, row)) = r.next_row()? {
            rows.push(row);
        }
        Ok(rows)
    }

    fn texts(rows: &[Vec<Cell>]) -> Vec<Vec<Option<String>>> {
        rows.iter()
            .map(|r| {
                r.iter()
                    .map(|c| (!c.is_absent()).then(|| c.text.clone()))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn writes_rfc4180() {
        let mut out = Vec::new();
        write_row(
            &mut out,
            &[
                Some("a"),
                None,
                Some(""),
                Some("x,y"),
                Some("say \"hi\""),
                Some("l1\nl2"),
            ],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a,,\"\",\"x,y\",\"say \"\"hi\"\"\",\"l1\nl2\"\n"
        );
    }

    #[test]
    fn reads_crlf_bom_and_blank_lines() {
        let rows = read_all("\u{feff}a,\"b\r\nc\"\r\n\r\n1,\"\"\n").unwrap();
        assert_eq!(
            texts(&rows),
            vec![
                vec![Some("a".into()), Some("b\r\nc".into())],
                vec![Some("1".into()), Some(String::new())]
            ]
        );
    }

    #[test]
    fn rejects_bad_quoting() {
        for bad in [
            "a\"b,c\n",
            "\"ab\"c,d\n",
            "\"open\nstill open\n",
            "a,\"x\"\"\n",
        ] {
            assert!(
                matches!(read_all(bad), Err(ReadError::Syntax(1, _))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            read_all("ok\n\"bad\"x\n"),
            Err(ReadError::Syntax(2, _))
        ));
    }

    proptest! {
        #[test]
        fn rows_round_trip(rows in proptest::collection::vec(
            proptest::collection::vec(proptest::option::of(nasty_string()), 1..6), 0..6)) {
            let mut out = Vec::new();
            for row in &rows {
                let cells: Vec<Option<&str>> = row.iter().map(|c| c.as_deref()).collect();
                write_row(&mut out, &cells).unwrap();
            }
            let text = String::from_utf8(out).unwrap();
            // A row of one absent cell is a blank line, which the reader skips.
            let expected: Vec<_> = rows.into_iter().filter(|r| r != &vec![None]).collect();
            prop_assert_eq!(texts(&read_all(&text).unwrap()), expected);
        }
    }
}
