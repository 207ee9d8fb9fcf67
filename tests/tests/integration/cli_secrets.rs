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
