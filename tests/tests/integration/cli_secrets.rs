//! `vault secrets` through the real CLI: set from stdin, raw get, list,
//! history and rollback, delete and restore, and an export → import round
//! trip of tricky values.

use std::io::Write;
use std::process::Stdio;

use vault_tests::Server;
use vault_tests::cli::{run, seed, stderr, stdout, vault};

fn set(s: &Server, name: &str, value: &str, extra: &[&str]) {
    let mut child = vault(s)
        .args(["secrets", "set", name, "-p", "demo", "-e", "dev"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(value.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains(value) || value.is_empty());
}

#[test]
fn set_get_history_rollback_delete_restore() {
    let s = Server::dev();
    seed(&s, "demo", "dev", &[]);
    set(&s, "API_KEY", "first\n", &[]); // one trailing newline trimmed
    set(&s, "API_KEY", "second\n", &["--raw"]); // kept
    let get = |extra: &[&str]| {
        let mut a = vec!["secrets", "get", "API_KEY", "-p", "demo", "-e", "dev"];
        a.extend(extra);
        stdout(&run(&s, &a))
    };
    assert_eq!(get(&[]), "second\n");
    assert_eq!(get(&["--version", "1"]), "first");
    let h = stdout(&run(
        &s,
        &[
            "secrets", "history", "API_KEY", "-p", "demo", "-e", "dev", "--format", "json",
        ],
    ));
    let h: serde_json::Value = serde_json::from_str(&h).unwrap();
    assert_eq!(h["versions"].as_array().unwrap().len(), 2);
    let o = run(
        &s,
        &[
            "secrets", "rollback", "API_KEY", "--to", "1", "-p", "demo", "-e", "dev",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(get(&[]), "first");
    let o = run(
        &s,
        &["secrets", "delete", "API_KEY", "-p", "demo", "-e", "dev"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(
        &s,
        &["secrets", "get", "API_KEY", "-p", "demo", "-e", "dev"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("hint:"));
    let o = run(
        &s,
        &["secrets", "restore", "API_KEY", "-p", "demo", "-e", "dev"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(get(&[]), "first");
    let list = stdout(&run(&s, &["secrets", "list", "-p", "demo", "-e", "dev"]));
    assert!(
        list.contains("API_KEY") && !list.contains("first"),
        "{list}"
    );
}

#[test]
fn export_then_import_round_trips() {
    let s = Server::dev();
    let values = [
        ("PLAIN", "abc"),
        ("SPACES", "  a b  "),
        ("QUOTES", "it's \"quoted\""),
        ("MULTI", "line1\nline2\n"),
        ("DOLLAR", "$HOME ${X} \\n"),
        ("EMPTY", ""),
    ];
    seed(&s, "demo", "dev", &values);
    s.client().setup("demo", "copy");
    for format in ["dotenv", "shell"] {
        let o = run(
            &s,
            &[
                "secrets", "export", "-p", "demo", "-e", "dev", "--format", format,
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let mut child = vault(&s)
            .args(["secrets", "import", "-", "-p", "demo", "-e", "copy"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&o.stdout).unwrap();
        let imp = child.wait_with_output().unwrap();
        assert!(imp.status.success(), "{format}: {}", stderr(&imp));
        for (name, value) in values {
            let got = stdout(&run(
                &s,
                &["secrets", "get", name, "-p", "demo", "-e", "copy"],
            ));
            assert_eq!(got, value, "{format} {name}");
        }
    }
    let o = run(
        &s,
        &[
            "secrets", "export", "-p", "demo", "-e", "dev", "--format", "json",
        ],
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["MULTI"], "line1\nline2\n");
}

fn import_file(s: &Server, text: &str, extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("in.env");
    std::fs::write(&f, text).unwrap();
    vault(s)
        .args([
            "secrets", "import", "-p", "demo", "-e", "dev", "--format", "json",
        ])
        .arg(&f)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn import_is_exact_refuses_duplicates_and_skips_unchanged() {
    let s = Server::dev();
    s.client().setup("demo", "dev");
    // A value starting with `#` is a value, not a comment.
    let o = import_file(&s, "DB_PASS=#Hunter2xyz\nAPI=\"a\r\nb\"\r\n", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let c = s.client();
    assert_eq!(
        c.read("demo", "dev", "DB_PASS").json["value"],
        "#Hunter2xyz"
    );
    assert_eq!(c.read("demo", "dev", "API").json["value"], "a\nb");
    // The same file again: nothing is written.
    let o = import_file(&s, "DB_PASS=#Hunter2xyz\nAPI=\"a\r\nb\"\r\n", &[]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["written"], serde_json::json!([]), "{report}");
    assert_eq!(report["unchanged"], serde_json::json!(["DB_PASS", "API"]));
    assert_eq!(c.read("demo", "dev", "DB_PASS").json["version"], 1);
    // A name defined twice: refused, naming both lines, nothing written...
    let twice = "X=first\nY=1\nX=second\n";
    let o = import_file(&s, twice, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("line 1 and line 3"), "{}", stderr(&o));
    assert_eq!(c.read("demo", "dev", "Y").status, 404);
    // ...unless a flag says which line wins, and the report says so.
    let o = import_file(&s, twice, &["--on-duplicate", "last"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(c.read("demo", "dev", "X").json["value"], "second");
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["duplicates_overridden"], serde_json::json!(["X"]));
    // A malformed line: where, and what was expected; never its text.
    let o = import_file(&s, "OK=1\nghp_notanassignment123\n", &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("line 2, column") && err.contains("expected `=`"),
        "{err}"
    );
    assert!(!err.contains("ghp_"), "{err}");
}

#[test]
fn docker_export_writes_or_refuses_whole() {
    let s = Server::dev();
    seed(&s, "demo", "dev", &[("A", "it's `x` $y")]);
    let o = run(
        &s,
        &[
            "secrets", "export", "-p", "demo", "-e", "dev", "--format", "docker",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "A=it's `x` $y\n");
    s.client().write("demo", "dev", "B", "two\nlines");
    let o = run(
        &s,
        &[
            "secrets", "export", "-p", "demo", "-e", "dev", "--format", "docker",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).is_empty(), "nothing half-written");
    assert!(
        stderr(&o).contains("B") && !stderr(&o).contains("lines"),
        "{}",
        stderr(&o)
    );
}
