//! Reading and writing `.env` files, plus JSON and shell-escaped output.
//!
//! Accepted input (what `vault secrets import` reads):
//!
//! - blank lines and `# comments`; an optional `export ` prefix;
//! - `NAME=value` with spaces allowed around `=`; an unquoted value ends at
//!   the end of the line or at a `#` that follows whitespace (a comment), and
//!   is trimmed; a value that *starts* with `#` (`A=#x`) is kept;
//! - `'single quoted'`: literal, may span lines;
//! - `"double quoted"`: may span lines; `\n \r \t \" \\ \$ \`` are escapes,
//!   any other backslash is kept as is;
//! - line endings inside quoted values become `\n` (CRLF files too).
//!
//! Values are never expanded (`$OTHER` stays literal). Parse errors name the
//! line and column and what was expected, never any text of the line.

use std::fmt::Write as _;

use vault_core::names::SecretName;
use vault_core::secret::SecretText;

/// A `.env` parse error: where (line, column) and what was expected; never
/// any text of the line, which may hold a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {what}")]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters) where the problem was found.
    pub column: usize,
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
    /// The 1-based line it starts on.
    pub line: usize,
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
        let name_column = p.column();
        let name_text = p.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
        let name = SecretName::parse(&name_text).map_err(|_| ParseError {
            line: start_line,
            column: name_column,
            what: "expected a name (letters, digits and `_`, not starting with a digit)".into(),
        })?;
        p.skip_inline_space();
        if p.peek() != Some('=') {
            // The "name" may be a pasted credential: say where, not what.
            return Err(ParseError {
                line: start_line,
                column: p.column(),
                what: "expected `=` after the name".into(),
            });
        }
        p.pos += 1;
        let spaced = matches!(p.peek(), Some(' ' | '\t'));
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
                            v.push_str(&p.quoted('\'', false, start_line)?);
                        }
                        Some('"') => {
                            p.pos += 1;
                            v.push_str(&p.quoted('"', true, start_line)?);
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
            _ => p.unquoted(spaced),
        };
        p.end_of_entry(start_line)?;
        out.push(Entry {
            name,
            value: SecretText::new(value),
            line: start_line,
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

    /// 1-based column of the current position on its line.
    fn column(&self) -> usize {
        let start = self.chars[..self.pos]
            .iter()
            .rposition(|&c| c == '\n')
            .map_or(0, |i| i + 1);
        self.pos - start + 1
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

    /// An unquoted value; `spaced` when whitespace came between `=` and it
    /// (then a `#` right here starts a comment, as everywhere after a space).
    fn unquoted(&mut self, spaced: bool) -> String {
        let mut s = String::new();
        let mut prev_space = spaced;
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

    fn quoted(&mut self, quote: char, escapes: bool, line: usize) -> Result<String, ParseError> {
        let mut s = String::new();
        let column = self.column();
        loop {
            let Some(c) = self.bump() else {
                return Err(ParseError {
                    line,
                    column,
                    what: format!("expected the closing {quote} of the value begun here"),
                });
            };
            if c == quote {
                return Ok(s);
            }
            // A CRLF file: the line ending inside a value is `\n`, as on
            // the single lines around it.
            if c == '\r' && self.peek() == Some('\n') {
                continue;
            }
            if escapes && c == '\\' {
                match self.peek() {
                    Some('n') => s.push('\n'),
                    Some('r') => s.push('\r'),
                    Some('t') => s.push('\t'),
                    Some(e @ ('"' | '\\' | '$' | '`')) => s.push(e),
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

    fn end_of_entry(&mut self, line: usize) -> Result<(), ParseError> {
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
                column: self.column(),
                what: "expected the end of the line or a `#` comment after the closing quote"
                    .into(),
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
    /// `NAME=value` lines for `docker run --env-file`: no quotes (Docker
    /// takes the rest of the line literally), so a value with a line break
    /// cannot be written and is refused.
    Docker,
}

/// A value that `format` cannot carry (only `docker`: a line break).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the value of {name} has a line break, which a Docker env file cannot carry")]
pub struct ExportError {
    /// The secret's name (never its value).
    pub name: String,
}

/// Renders `entries` (sorted by the caller) in `format`. Every format is
/// safe to source or parse: no value can run a command or end its line early.
///
/// # Errors
/// [`ExportError`] for a value `docker` cannot carry.
pub fn render<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a SecretText)>,
    format: ExportFormat,
) -> Result<String, ExportError> {
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
                let _ = writeln!(out, "export {k}={}", dotenv_quote(v.expose_secret()));
            }
        }
        ExportFormat::Docker => {
            for (k, v) in entries {
                let v = v.expose_secret();
                if v.contains(['\n', '\r']) {
                    return Err(ExportError { name: k.to_owned() });
                }
                let _ = writeln!(out, "{k}={v}");
            }
        }
    }
    Ok(out)
}

/// Quotes a value for a `.env` file that a POSIX shell may also source:
/// single quotes (literal in sh and in dotenv), a `'` written as `'\''`, so
/// no character can run a command and sourcing gives the exact value. A value
/// with a carriage return uses double quotes with escapes instead (a reader
/// turns line endings inside quotes into `\n`); sourced by sh, that one
/// keeps its escapes literally, still running nothing.
pub fn dotenv_quote(v: &str) -> String {
    if !v.contains('\r') {
        return shell_quote(v);
    }
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '$' => s.push_str("\\$"),
            // A backquote in double quotes is command substitution when the
            // file is sourced by a shell.
            '`' => s.push_str("\\`"),
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
            exported=1\n\
            DB_PASS=#Hunter2xyz\n\
            J= # only a comment\n";
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
                ("DB_PASS".into(), "#Hunter2xyz".into()),
                ("J".into(), String::new()),
            ]
        );
    }

    #[test]
    fn crlf_files_parse() {
        assert_eq!(
            pairs("A=1\r\nB='2'\r\nC=\"x\r\ny\"\r\nD='p\r\nq'\r\n"),
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "2".into()),
                ("C".into(), "x\ny".into()),
                ("D".into(), "p\nq".into()),
            ]
        );
    }

    #[test]
    fn a_pasted_credential_is_never_quoted_in_an_error() {
        let e = parse("A=1\nghp_abcdefghijklmnop1234\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 25));
        assert!(!e.to_string().contains("ghp"), "{e}");
        assert!(e.to_string().contains("expected `=`"), "{e}");
        let e = parse("9abc-s3cret=1\n").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn docker_export_refuses_what_it_cannot_carry() {
        let ok = [("A", SecretText::from("it's `x` $y #z"))];
        let text = render(ok.iter().map(|(k, v)| (*k, v)), ExportFormat::Docker).unwrap();
        assert_eq!(text, "A=it's `x` $y #z\n");
        let bad = [("B", SecretText::from("two\nlines"))];
        let e = render(bad.iter().map(|(k, v)| (*k, v)), ExportFormat::Docker).unwrap_err();
        assert_eq!(e.name, "B");
        assert!(!e.to_string().contains("lines"));
    }

    #[test]
    fn a_dotenv_export_sourced_by_sh_runs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let value = format!(
            "it's `touch {}` $(touch {}) \"q\" \\",
            marker.display(),
            marker.display()
        );
        let v = SecretText::from(value.as_str());
        for format in [ExportFormat::Dotenv, ExportFormat::Shell] {
            let text = render([("V", &v)], format).unwrap();
            let got = source_with_sh(&text, dir.path());
            assert!(!marker.exists(), "{format:?} ran a command");
            assert_eq!(got.get("V"), Some(&value), "{format:?}");
        }
    }

    /// Sources `text` with `sh` (`set -a`, so dotenv lines are exported too)
    /// and returns the environment it ends with.
    fn source_with_sh(text: &str, dir: &std::path::Path) -> BTreeMap<String, String> {
        let file = dir.join("out.env");
        std::fs::write(&file, text).unwrap();
        let out = std::process::Command::new("sh")
            .args(["-c", "set -a; . \"$0\"; env -0"])
            .arg(&file)
            .env_clear()
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
            .split(|b| *b == 0)
            .filter_map(|kv| {
                let kv = String::from_utf8(kv.to_vec()).ok()?;
                let (k, v) = kv.split_once('=')?;
                Some((k.to_owned(), v.to_owned()))
            })
            .collect()
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

    /// Values a shell can hold: any UTF-8 but NUL, and no carriage return
    /// (quoted line endings are read as `\n`); the hard cases weighted in.
    fn shell_value() -> impl Strategy<Value = String> {
        let hard = prop_oneof![
            Just("'".to_owned()),
            Just("\"".to_owned()),
            Just("`".to_owned()),
            Just("$".to_owned()),
            Just("$(x)".to_owned()),
            Just("#".to_owned()),
            Just(" ".to_owned()),
            Just("\\".to_owned()),
            Just("\n".to_owned()),
            Just("\t".to_owned()),
            "[^\u{0}\r]{0,6}",
        ];
        proptest::collection::vec(hard, 0..6).prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn dotenv_export_import_round_trips(map in arb_map()) {
            let secrets: Vec<(String, SecretText)> =
                map.iter().map(|(k, v)| (k.clone(), SecretText::from(v.as_str()))).collect();
            let text = render(secrets.iter().map(|(k, v)| (k.as_str(), v)), ExportFormat::Dotenv).unwrap();
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
            let text = render(secrets.iter().map(|(k, v)| (k.as_str(), v)), ExportFormat::Shell).unwrap();
            let back: BTreeMap<String, String> = parse(&text)
                .unwrap()
                .into_iter()
                .map(|e| (e.name.to_string(), e.value.expose_secret().to_owned()))
                .collect();
            prop_assert_eq!(back, map);
        }

        #[test]
        fn docker_export_import_round_trips(map in proptest::collection::btree_map(
            "[A-Za-z_][A-Za-z0-9_]{0,12}", "[^\u{0}\r\n]{0,20}", 0..8)) {
            // What Docker reads back: everything after the first `=`.
            let secrets: Vec<(String, SecretText)> =
                map.iter().map(|(k, v)| (k.clone(), SecretText::from(v.as_str()))).collect();
            let text = render(secrets.iter().map(|(k, v)| (k.as_str(), v)), ExportFormat::Docker)
                .unwrap();
            let back: BTreeMap<String, String> = text
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            prop_assert_eq!(back, map);
        }

        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = parse(&text);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn exports_sourced_by_sh_give_back_the_exact_values(
            values in proptest::collection::btree_map("[A-Z][A-Z0-9_]{0,8}", shell_value(), 1..6)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let secrets: Vec<(String, SecretText)> =
                values.iter().map(|(k, v)| (format!("V_{k}"), SecretText::from(v.as_str()))).collect();
            for format in [ExportFormat::Dotenv, ExportFormat::Shell] {
                let text = render(secrets.iter().map(|(k, v)| (k.as_str(), v)), format).unwrap();
                // Our own reader gives them back too.
                let parsed: BTreeMap<String, String> = parse(&text)
                    .unwrap()
                    .into_iter()
                    .map(|e| (e.name.to_string(), e.value.expose_secret().to_owned()))
                    .collect();
                let sourced = source_with_sh(&text, dir.path());
                for (k, v) in &secrets {
                    prop_assert_eq!(sourced.get(k), Some(&v.expose_secret().to_owned()), "{:?} sourced", format);
                    prop_assert_eq!(parsed.get(k), Some(&v.expose_secret().to_owned()), "{:?} parsed", format);
                }
            }
        }
    }
}
