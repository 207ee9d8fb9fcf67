//! How commands print: readable tables on a terminal, JSON with
//! `--format json`, colour only on a terminal and never with `NO_COLOR`.

use std::io::{IsTerminal, Write};

use serde::Serialize;

use crate::error::{CliError, CliResult};

/// `--format` of commands that print data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// JSON for scripts (stable field names, the API's wire types).
    Json,
}

/// Whether to colour a stream: a terminal, and `NO_COLOR` unset or empty.
pub fn use_color(is_terminal: bool, no_color: Option<&str>) -> bool {
    is_terminal && no_color.is_none_or(str::is_empty)
}

/// Colour decision for stderr in this process.
pub fn stderr_color() -> bool {
    use_color(
        std::io::stderr().is_terminal(),
        std::env::var("NO_COLOR").ok().as_deref(),
    )
}

/// Colour decision for stdout in this process.
pub fn stdout_color() -> bool {
    use_color(
        std::io::stdout().is_terminal(),
        std::env::var("NO_COLOR").ok().as_deref(),
    )
}

/// Prints `value` as pretty JSON on stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) -> CliResult<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)
        .map_err(|e| CliError::new("cannot write JSON").source(e))?;
    writeln!(out)?;
    Ok(())
}

/// A table being built: a header and rows of cells.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&'static str]) -> Self {
        Self {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders the table; the header is bold when `color`.
    pub fn render(&self, color: bool) -> String {
        let cols = self.header.len();
        let mut width: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(cols) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let line = |cells: Vec<&str>| -> String {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    let pad = width[i] - c.chars().count() + 2;
                    s.extend(std::iter::repeat_n(' ', pad));
                }
            }
            s.trim_end().to_owned()
        };
        let mut out = String::new();
        let head = line(self.header.clone());
        if color {
            out.push_str(&format!("\x1b[1m{head}\x1b[0m\n"));
        } else {
            out.push_str(&head);
            out.push('\n');
        }
        for r in &self.rows {
            out.push_str(&line(r.iter().map(String::as_str).collect()));
            out.push('\n');
        }
        out
    }

    /// Prints the table on stdout (or `empty` on stderr when it has no row).
    pub fn print(&self, empty: &str) -> CliResult<()> {
        if self.rows.is_empty() {
            eprintln!("{empty}");
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        out.write_all(self.render(stdout_color()).as_bytes())?;
        Ok(())
    }
}

/// A human note on stderr (stdout stays for data).
pub fn note(msg: &str) {
    eprintln!("{msg}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_rules() {
        assert!(use_color(true, None));
        assert!(use_color(true, Some("")));
        assert!(!use_color(true, Some("1")));
        assert!(!use_color(false, None));
    }

    #[test]
    fn table_aligns_columns() {
        let mut t = Table::new(&["NAME", "VERSION"]);
        t.row(vec!["DATABASE_URL".into(), "3".into()]);
        t.row(vec!["A".into(), "12".into()]);
        assert_eq!(
            t.render(false),
            "NAME          VERSION\nDATABASE_URL  3\nA             12\n"
        );
    }
}
