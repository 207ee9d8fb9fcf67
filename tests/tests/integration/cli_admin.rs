//! The admin commands through the real CLI: audit export and offline
//! verification (and tamper detection, exit 3), key rotation and a followed
//! rewrap, operator status, JSON output, completion scripts.

use vault_tests::Server;
use vault_tests::cli::{run, seed, stderr, stdout};

#[test]
fn audit_export_verifies_offline_and_tampering_exits_3() {
    let s = Server::dev();
    seed(&s, "a", "dev", &[("K", "v1"), ("L", "v2")]);
    let dir = tempfile::tempdir().unwrap();
    let key = stdout(&run(&s, &["audit", "verify", "--print-public-key"]));
    let key = key.trim();
    assert!(!key.is_empty());
    let o = run(&s, &["audit", "verify"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for format in ["jsonl", "csv"] {
        let file = dir.path().join(format!("audit.{format}"));
        let f = file.to_str().unwrap();
        let o = run(&s, &["audit", "export", "--format", format, "-o", f]);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = run(&s, &["audit", "verify", "--file", f, "--public-key", key]);
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        assert!(stdout(&o).contains(": ok:"), "{}", stdout(&o));

        // Edit one record's resource: detected, exit code 3.
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("a/dev/K"));
        let bad = dir.path().join(format!("tampered.{format}"));
        std::fs::write(&bad, text.replacen("a/dev/K", "a/dev/Z", 1)).unwrap();
        let o = run(
            &s,
            &[
                "audit",
                "verify",
                "--file",
                bad.to_str().unwrap(),
                "--public-key",
                key,
            ],
        );
        assert_eq!(o.status.code(), Some(3), "{format}: {}", stderr(&o));
        assert!(stdout(&o).contains("was edited"), "{}", stdout(&o));
    }
    // A key file works as well as the text; a wrong key is an error, not "ok".
    let key_file = dir.path().join("audit.pub");
    std::fs::write(&key_file, key).unwrap();
    let f = dir.path().join("audit.jsonl");
    let o = run(
        &s,
        &[
            "audit",
            "verify",
            "--file",
            f.to_str().unwrap(),
            "--public-key",
            key_file.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(
        &s,
        &[
            "audit",
            "verify",
            "--file",
            f.to_str().unwrap(),
            "--public-key",
            "not-a-key",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("public key"), "{}", stderr(&o));

    let o = run(
        &s,
        &[
            "audit",
            "list",
            "--action",
            "secret.write",
            "--format",
            "json",
        ],
    );
    let page: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(page["records"].as_array().unwrap().len(), 2);
}

#[test]
fn keys_rotate_and_a_followed_rewrap() {
    let s = Server::dev();
    seed(&s, "k", "dev", &[("A", "1"), ("B", "2"), ("C", "3")]);
    let o = run(&s, &["keys", "rotate", "-p", "k", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let kek: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(kek["version"], 2);
    let o = run(&s, &["keys", "rewrap", "-p", "k", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let job: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(job["state"], "done", "{job}");
    let o = run(&s, &["keys", "status", "-p", "k", "--format", "json"]);
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let v1 = st["keks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["version"] == 1)
        .unwrap();
    assert_eq!(v1["data_keys"], 0, "{st}");
    let table = stdout(&run(&s, &["keys", "status"]));
    assert!(
        table.contains("PROJECT") && table.contains("decrypt-only"),
        "{table}"
    );
    // The data is still there.
    let o = run(
        &s,
        &[
            "run",
            "-p",
            "k",
            "-e",
            "dev",
            "--",
            "sh",
            "-c",
            "printf %s \"$A$B$C\"",
        ],
    );
    assert_eq!(stdout(&o), "123");
}

#[test]
fn operator_status_projects_and_completion() {
    let s = Server::dev();
    let o = run(&s, &["operator", "status", "--format", "json"]);
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (st["initialized"].as_bool(), st["sealed"].as_bool()),
        (Some(true), Some(false))
    );
    assert!(run(&s, &["projects", "create", "p1"]).status.success());
    assert!(
        run(&s, &["envs", "create", "-p", "p1", "dev"])
            .status
            .success()
    );
    let o = run(&s, &["projects", "create", "p1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("hint:"), "{}", stderr(&o));
    let list = stdout(&run(&s, &["envs", "list", "-p", "p1"]));
    assert!(
        list.starts_with("ENVIRONMENT") && list.contains("dev"),
        "{list}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let o = run(&s, &["completion", shell]);
        assert!(o.status.success());
        assert!(stdout(&o).contains("secrets"), "{shell}");
    }
}

#[test]
fn operator_init_unseal_seal_through_the_cli() {
    use std::io::Write;
    use std::process::Stdio;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndanger_plain_http_loopback = true\n\
         data_dir = \"{}\"\n",
        dir.display()
    );
    let s = Server::with_config(&config, &dir);
    let o = run(&s, &["operator", "status", "--format", "json"]);
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(st["initialized"], false, "{}", stderr(&o));

    let o = run(
        &s,
        &[
            "operator",
            "init",
            "--shares",
            "3",
            "--threshold",
            "2",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let init: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let shares: Vec<String> = init["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(shares.len(), 3);
    let root = init["root_token"].as_str().unwrap().to_owned();

    // Each share on stdin, never on the command line.
    let unseal = |share: &str| {
        let mut child = vault_tests::cli::vault(&s)
            .args(["operator", "unseal", "--format", "json"])
            .env("VAULT_TOKEN", &root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{share}").unwrap();
        drop(stdin);
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(!stderr(&o).contains(share));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let st = unseal(&shares[0]);
    assert_eq!(
        (st["sealed"].as_bool(), st["progress"].as_u64()),
        (Some(true), Some(1))
    );
    let st = unseal(&shares[2]);
    assert_eq!(st["sealed"], false, "{st}");

    let as_root = |args: &[&str]| {
        vault_tests::cli::vault(&s)
            .args(args)
            .env("VAULT_TOKEN", &root)
            .output()
            .unwrap()
    };
    assert!(as_root(&["projects", "create", "p"]).status.success());
    let o = as_root(&["operator", "status"]);
    assert_eq!(o.status.code(), Some(0), "unsealed: exit 0");
    let o = as_root(&["operator", "seal"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = as_root(&["operator", "status"]);
    assert_eq!(o.status.code(), Some(2), "sealed: exit 2 for health checks");
    let o = as_root(&["projects", "list"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unseal"), "{}", stderr(&o));
}

#[test]
fn https_server_needs_the_ca_from_vault_cacert_or_cacert() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, cert) = Server::https(tmp.path());
    let https = s.addr.clone();
    let key = tmp.path().join("key.pem");
    let status = |extra: &[(&str, &str)], args: &[&str]| {
        let mut c = vault_tests::cli::vault(&s);
        c.env("VAULT_ADDR", &https);
        for (k, v) in extra {
            c.env(k, v);
        }
        c.args(args)
            .args(["operator", "status", "--format", "json"])
            .output()
            .unwrap()
    };
    let o = status(&[], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("VAULT_CACERT"), "{}", stderr(&o));
    // Connected: the server answers "not initialized" (exit 2).
    let o = status(&[("VAULT_CACERT", cert.to_str().unwrap())], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = status(&[], &["--cacert", cert.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // A CA file without a certificate is refused with a clear message.
    let o = status(&[("VAULT_CACERT", key.to_str().unwrap())], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no certificate found"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_reader_that_stops_early_is_no_crash() {
    // Exactly the reported input: `vault completion bash | head -5`.
    let o = std::process::Command::new("bash")
        .args([
            "-c",
            "set -o pipefail; \"$0\" completion bash | head -5 >/dev/null",
        ])
        .arg(vault_tests::cli_bin())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(o.status.code(), Some(0), "{err}");
}

#[test]
fn a_bare_server_says_how_to_start_it() {
    let tmp = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(vault_tests::server_bin())
        .current_dir(tmp.path())
        .env_remove("VAULT_SERVER_TLS_CERT")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--dev") && err.contains("--config"), "{err}");
}

#[test]
fn an_uninitialized_server_says_init_not_unseal() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndanger_plain_http_loopback = true\ndata_dir = \"{}\"\n",
        dir.display()
    );
    let s = Server::with_config(&config, &dir);
    let o = run(&s, &["projects", "list"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("vault operator init"), "{err}");
    assert!(!err.contains("unseal"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let s = Server::dev();
    let tmp = tempfile::tempdir().unwrap();
    // No project anywhere (no flag, no VAULT_PROJECT, no .vault.toml).
    let o = vault_tests::cli::vault(&s)
        .current_dir(tmp.path())
        .args(["secrets", "list"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no project given"), "{}", stderr(&o));
    let o = run(
        &s,
        &[
            "tokens",
            "create",
            "--scope",
            "a/b",
            "--actions",
            "read",
            "--ttl",
            "5x",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a duration"), "{}", stderr(&o));
}

#[test]
fn a_failing_dev_server_script_fails_the_eval_with_a_reason() {
    // The README runs `eval "$(./scripts/dev-server)"`: a failure must print
    // why and make the eval fail, not leave a shell without VAULT_ADDR.
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/dev-server");
    let o = std::process::Command::new("bash")
        .args(["-c", "eval \"$(\"$0\")\"; echo \"rc=$?\""])
        .arg(&script)
        .env("VAULT_DEV_PORT", "not-a-port")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(out.contains("rc=1"), "{out}");
    assert!(
        err.contains("did not start") && err.contains("not a port number"),
        "{err}"
    );
}

#[test]
fn environments_clone_and_diff() {
    let s = Server::dev();
    vault_tests::cli::seed(&s, "shop", "dev", &[("A", "alpha"), ("B", "beta")]);
    let o = run(&s, &["envs", "clone", "-p", "shop", "dev", "staging"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let c = s.client();
    assert_eq!(c.read("shop", "staging", "A").json["value"], "alpha");
    assert_eq!(c.read("shop", "staging", "B").json["value"], "beta");
    // Fresh data keys: the stored envelopes differ from the source's.
    let db = rusqlite::Connection::open(s.db_path()).unwrap();
    let envelopes: Vec<Vec<u8>> = db
        .prepare("SELECT v.envelope FROM secret_versions v JOIN secrets s ON s.id = v.secret_id WHERE s.name = 'A'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(envelopes.len(), 2);
    assert_ne!(envelopes[0], envelopes[1]);
    // Cloning onto an existing environment is refused.
    let o = run(&s, &["envs", "clone", "-p", "shop", "dev", "staging"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // Diff: names only.
    c.write("shop", "staging", "ONLY_STAGING", "s3cret-value");
    let o = run(
        &s,
        &[
            "envs", "diff", "-p", "shop", "dev", "staging", "--format", "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let d: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        d["only_in"]["staging"],
        serde_json::json!(["ONLY_STAGING"]),
        "{d}"
    );
    assert_eq!(d["only_in"]["dev"], serde_json::json!([]));
    assert_eq!(d["in_both"], serde_json::json!(["A", "B"]));
    assert!(!stdout(&o).contains("s3cret") && !stdout(&o).contains("alpha"));
}

#[test]
fn a_detached_rewrap_can_be_followed_later() {
    let s = Server::dev();
    vault_tests::cli::seed(&s, "rw", "dev", &[("A", "1"), ("B", "2")]);
    assert_eq!(
        s.client().post_empty("/v1/projects/rw/keys/rotate").status,
        200
    );
    let o = run(&s, &["keys", "rewrap", "--detach", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let job: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    let o = run(
        &s,
        &[
            "keys", "rewrap", "status", &id, "--follow", "--format", "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let done: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["done"], done["total"]);
    let o = run(&s, &["keys", "rewrap", "status", "no-such-job"]);
    assert_eq!(o.status.code(), Some(1));
}

/// `vault audit list` shows the tail of the trail, or newest first with a
/// page cursor.
#[test]
fn audit_list_tail_and_newest_first() {
    let s = Server::dev();
    seed(&s, "a", "dev", &[("K", "v"), ("L", "w")]);
    let json = |args: &[&str]| -> serde_json::Value {
        let o = run(&s, args);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str(&stdout(&o)).unwrap()
    };
    let seqs = |v: &serde_json::Value| -> Vec<u64> {
        v["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["seq"].as_u64().unwrap())
            .collect()
    };
    let all = seqs(&json(&[
        "audit", "list", "--limit", "1000", "--format", "json",
    ]));
    let last = *all.last().unwrap();
    let tail = seqs(&json(&["audit", "list", "--tail", "3", "--format", "json"]));
    assert_eq!(tail.len(), 3);
    assert!(tail[0] < tail[1] && tail[1] < tail[2], "{tail:?}");
    // The tail ends at or after what the full listing saw (listing is audited too).
    assert!(tail[2] >= last, "{tail:?} vs {last}");
    let newest = json(&[
        "audit",
        "list",
        "--newest-first",
        "--limit",
        "2",
        "--format",
        "json",
    ]);
    let n = seqs(&newest);
    assert!(n[0] > n[1], "{n:?}");
    let before = newest["next_before"].as_u64().unwrap();
    let next = seqs(&json(&[
        "audit",
        "list",
        "--newest-first",
        "--before",
        &before.to_string(),
        "--limit",
        "1",
        "--format",
        "json",
    ]));
    assert_eq!(next, vec![before - 1]);
    let o = run(&s, &["audit", "list", "--tail", "3", "--after", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
