//! Reading and writing `.env` files, plus JSON and shell-escaped output.
//!
//! Accepted input (what `vault secrets import` reads):
//!
//! - blank lines and `# comments`; an optional `export ` prefix;
//! - `NAME=value` with spaces allowed around `=`; an unquoted value ends at
//!   the end of the line or at a ` #` comment, and is trimmed;
//! - `'single quoted'`: literal, may span lines;
//! - `"double quoted"`: may span lines; `\n \r \t \" \\ \$` are escapes, any
//!   other backslash is kept as is.
//!
//! Values are never expanded (`$OTHER` stays literal). Parse errors name the
//! line, never the value.

use std::fmt::Write as _;

use vault_core::names::SecretName;
use vault_core::secret::SecretText;

/// A `.env` parse error (line number and what is wrong; no value text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

/// One parsed entry (`Debug` shows the value as `[redacted]`).
#[derive(Debug)]
pub struct Entry {
    /// Name.
    pub name: SecretName,
    /// Value.
    pub value: SecretText,
}

/// Parses a `.env` text into entries, in file order (a later duplicate is
/// kept: callers decide).
pub fn parse(text: &str) -> Result<Vec<Entry>, ParseError> {
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
    };
    let mut out = Vec::new();
    loop {
        p.skip_blank_and_comments();
        if p.at_end() {
            return Ok(out);
        }
        let start_line = p.line;
        p.skip_keyword("export");
        let name_text = p.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
        let name = SecretName::parse(&name_text).map_err(|e| ParseError {
            line: start_line,
            what: format!("bad name: {e}"),
        })?;
        p.skip_inline_space();
        if p.peek() != Some('=') {
            return Err(ParseError {
                line: start_line,
                what: format!("expected `=` after {name}"),
            });
        }
        p.pos += 1;
        p.skip_inline_space();
        let value = match p.peek() {
            Some('\'' | '"') => {
                // Quoted segments may be glued together, as in a shell:
                // `'it'\''s'` (what `export --format shell` writes).
                let mut v = String::new();
                loop {
                    match p.peek() {
                        Some('\'') => {
                            p.pos += 1;
                            v.push_str(&p.quoted('\'', false, start_line, &name)?);
                        }
                        Some('"') => {
                            p.pos += 1;
                            v.push_str(&p.quoted('"', true, start_line, &name)?);
                        }
                        Some('\\') => match p.chars.get(p.pos + 1) {
                            Some(&c @ ('\'' | '"' | '\\')) => {
                                v.push(c);
                                p.pos += 2;
                            }
                            _ => break v,
                        },
                        _ => break v,
                    }
                }
            }
            _ => p.unquoted(),
        };
        p.end_of_entry(start_line, &name)?;
        out.push(Entry {
            name,
            value: SecretText::new(value),
        });
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    line: usize,
}

impl Parser {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn skip_inline_space(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }

    fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            self.pos += 1;
        }
    }

    fn skip_blank_and_comments(&mut self) {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r' | '\u{feff}') => self.pos += 1,
                Some('\n') => {
                    self.bump();
                }
                Some('#') => self.skip_comment(),
                _ => return,
            }
        }
    }

    fn skip_keyword(&mut self, kw: &str) {
        let n = kw.chars().count();
        let matches = self.chars[self.pos..]
            .iter()
            .take(n)
            .copied()
            .eq(kw.chars())
            && matches!(self.chars.get(self.pos + n), Some(' ' | '\t'));
        if matches {
            self.pos += n;
            self.skip_inline_space();
        }
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek().filter(|c| f(*c)) {
            s.push(c);
            self.pos += 1;
        }
        s
    }

    fn unquoted(&mut self) -> String {
        let mut s = String::new();
        let mut prev_space = true;
        while let Some(c) = self.peek() {
            if c == '\n' || (c == '#' && prev_space) {
                break;
            }
            prev_space = c == ' ' || c == '\t';
            s.push(c);
            self.pos += 1;
        }
        s.trim_end_matches([' ', '\t', '\r']).to_owned()
    }

    fn quoted(
        &mut self,
        quote: char,
        escapes: bool,
        line: usize,
        name: &SecretName,
    ) -> Result<String, ParseError> {
        let mut s = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(ParseError {
                    line,
                    what: format!("unterminated {quote}-quoted value of {name}"),
                });
            };
            if c == quote {
                return Ok(s);
            }
            if escapes && c == '\\' {
                match self.peek() {
                    Some('n') => s.push('\n'),
                    Some('r') => s.push('\r'),
                    Some('t') => s.push('\t'),
                    Some(e @ ('"' | '\\' | '$')) => s.push(e),
                    _ => {
                        s.push('\\');
                        continue;
                    }
                }
                self.pos += 1;
                continue;
            }
            s.push(c);
        }
    }

    fn end_of_entry(&mut self, line: usize, name: &SecretName) -> Result<(), ParseError> {
        self.skip_inline_space();
        match self.peek() {
            None => Ok(()),
            Some('\n') => {
                self.bump();
                Ok(())
            }
            Some('\r') if self.chars.get(self.pos + 1) == Some(&'\n') => {
                self.pos += 1;
                self.bump();
                Ok(())
            }
            Some('#') => {
                self.skip_comment();
                Ok(())
            }
            Some(_) => Err(ParseError {
                line,
                what: format!("unexpected text after the closing quote of {name}"),
            }),
        }
    }
}

/// Output formats of `vault secrets export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// `NAME='value'` lines (`.env`).
    Dotenv,
    /// One JSON object, name → value.
    Json,
    /// `export NAME='value'` lines for `eval` in a POSIX shell.
    Shell,
}

/// Renders `entries` (sorted by the caller) in `format`.
pub fn render<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a SecretText)>,
    format: ExportFormat,
) -> String {
    let mut out = String::new();
    match format {
        ExportFormat::Json => {
            let map: serde_json::Map<String, serde_json::Value> = entries
                .into_iter()
                .map(|(k, v)| {
                    (
                        k.to_owned(),
                        serde_json::Value::String(v.expose_secret().to_owned()),
                    )
                })
                .collect();
            out = serde_json::to_string_pretty(&serde_json::Value::Object(map))
                .unwrap_or_else(|_| "{}".to_owned());
            out.push('\n');
        }
        ExportFormat::Dotenv => {
            for (k, v) in entries {
                let _ = writeln!(out, "{k}={}", dotenv_quote(v.expose_secret()));
            }
        }
        ExportFormat::Shell => {
            for (k, v) in entries {
                let _ = writeln!(out, "export {k}={}", shell_quote(v.expose_secret()));
            }
        }
    }
    out
}

/// Quotes a value for a `.env` file: single quotes (literal in every
/// dotenv dialect) when possible, else double quotes with escapes.
pub fn dotenv_quote(v: &str) -> String {
    if !v.contains('\'') && !v.chars().any(char::is_control) {
        return format!("'{v}'");
    }
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '$' => s.push_str("\\$"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Quotes a value for a POSIX shell: `'...'`, with `'` written as `'\''`.
pub fn shell_quote(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('\'');
    for c in v.chars() {
        if c == '\'' {
            s.push_str("'\\''");
        } else {
            s.push(c);
        }
    }
    s.push('\'');
    s
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|e| (e.name.to_string(), e.value.expose_secret().to_owned()))
            .collect()
    }

    #[test]
    fn parses_the_usual_forms() {
        let text = "# comment\n\
            \n\
            export A=plain value  # trailing comment\n\
            B = 'single # not a comment'\n\
            C=\"double \\\"q\\\" \\n $HOME \\$X \\\\ \\q\"\n\
            D=\"multi\n\
            line\"\n\
            E='multi\n\
            line too'\n\
            F=\n\
            G=a#b\n\
            H=\"\" # empty\r\n\
            exported=1\n";
        assert_eq!(
            pairs(text),
            vec![
                ("A".into(), "plain value".into()),
                ("B".into(), "single # not a comment".into()),
                ("C".into(), "double \"q\" \n $HOME $X \\ \\q".into()),
                ("D".into(), "multi\nline".into()),
                ("E".into(), "multi\nline too".into()),
                ("F".into(), String::new()),
                ("G".into(), "a#b".into()),
                ("H".into(), String::new()),
                ("exported".into(), "1".into()),
            ]
        );
    }

    #[test]
    fn crlf_files_parse() {
        assert_eq!(
            pairs("A=1\r\nB='2'\r\n"),
            vec![("A".into(), "1".into()), ("B".into(), "2".into())]
        );
    }

    #[test]
    fn errors_name_the_line_not_the_value() {
        let e = parse("A=1\nB=\"unterminated-s3cret\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(!e.to_string().contains("s3cret"));
        let e = parse("A=1\n\nNOT-A-NAME=x\n").unwrap_err();
        assert_eq!(e.line, 3);
        let e = parse("A 1\n").unwrap_err();
        assert!(e.to_string().contains("expected `=`"));
        let e = parse("A='x'junk-s3cret\n").unwrap_err();
        assert!(!e.to_string().contains("s3cret"));
    }

    #[test]
    fn glued_shell_quotes_parse() {
        assert_eq!(
            pairs("export A='it'\\''s'\nB=\"a\"'b'\\\"\n"),
            vec![("A".into(), "it's".into()), ("B".into(), "ab\"".into())]
        );
    }

    #[test]
    fn shell_quote_is_posix() {
        assert_eq!(shell_quote("it's $x"), "'it'\\''s $x'");
    }

    fn arb_map() -> impl Strategy<Value = BTreeMap<String, String>> {
        proptest::collection::btree_map("[A-Za-z_][A-Za-z0-9_]{0,12}", any::<String>(), 0..8)
    }

    proptest! {
        #[test]
        fn dotenv_export_import_round_trips(map in arb_map()) {
            let secrets: Vec<(String, SecretText)> =
                map.iter().map(|(k, v)| (k.clone(), SecretText::from(v.as_str()))).collect();
            let text = render(secrets.iter().map(|(k, v)| (k.as_str(), v)), ExportFormat::Dotenv);
            let back: BTreeMap<String, String> = parse(&text)
                .unwrap()
                .into_iter()
                .map(|e| (e.name.to_string(), e.value.expose_secret().to_owned()))
                .collect();
            prop_assert_eq!(back, map);
        }

        #[test]
        fn shell_export_import_round_trips(map in arb_map()) {
            // Our dotenv reader also reads `export NAME='...'` lines.
            let secrets: Vec<(String, SecretText)> =
                map.iter().map(|(k, v)| (k.clone(), SecretText::from(v.as_str()))).collect();
            let text = render(secrets.iter().map(|(k, v)| (k.as_str(), v)), ExportFormat::Shell);
            let back: BTreeMap<String, String> = parse(&text)
                .unwrap()
                .into_iter()
                .map(|e| (e.name.to_string(), e.value.expose_secret().to_owned()))
                .collect();
            prop_assert_eq!(back, map);
        }

        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = parse(&text);
        }
    }
}
