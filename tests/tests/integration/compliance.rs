//! The compliance report against a known history, through the real server
//! and CLI: each safeguard line's status and figures, a tampered report
//! refused offline, and a broken audit chain reported as "not met".

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::identity_kit::{PW, grant, login, login_resp, member, server, user};
use super::passkeys_mfa::register;

fn line<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["report"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == id)
        .unwrap_or_else(|| panic!("no line {id}"))
}

fn evidence(l: &Value) -> String {
    l["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn the_report_states_each_safeguard_from_the_history() {
    let s = server();
    let root = s.client();
    root.setup("payments", "prod");
    root.setup("tmp", "dev");
    let secret = "/v1/projects/payments/environments/prod/secrets/DB_PASSWORD";
    assert!(root.put(secret, json!({ "value": "s3cret-v1" })).status < 300);
    // Users: an admin with a passkey, one without a second factor, a
    // reader, a break-glass holder.
    user(&root, "ops");
    grant(&root, "ops", "admin", "*");
    user(&root, "ana");
    grant(&root, "ana", "admin", "*");
    let mut key = webauthn_authenticator_rs::softpasskey::SoftPasskey::new(true);
    register(&s, &login(&s, "ana"), &mut key, "laptop");
    let reader = member(&s, "rita", "reader", "payments/*");
    assert_eq!(reader.get(secret).status, 200);
    let doc = member(&s, "drew", "break-glass", "*");
    let r = doc.post(
        "/v1/emergency",
        json!({ "reason": "patient in ER, on-call DBA unreachable" }),
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(doc.get(secret).status, 200);
    // Failed logins up to the throttle.
    for _ in 0..3 {
        let _ = login_resp(&s, "rita", "not the password at all");
    }
    // Rotation, rewrap, and the old key version destroyed.
    assert_eq!(
        root.post_empty("/v1/projects/payments/keys/rotate").status,
        200
    );
    let job = root.post("/v1/keys/rewrap", json!({ "project": "payments" }));
    let id = job.json["id"].as_str().unwrap().to_owned();
    let until = Instant::now() + Duration::from_secs(20);
    while root.get(&format!("/v1/keys/rewrap/{id}")).json["state"] != "done" {
        assert!(Instant::now() < until, "rewrap did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        root.post_empty("/v1/projects/payments/keys/1/retire")
            .status,
        200
    );
    assert_eq!(
        root.post_empty("/v1/projects/payments/keys/1/destroy")
            .status,
        200
    );
    // A project crypto-shredded.
    assert!(root.delete("/v1/projects/tmp").status < 300);
    // Offboarding: rita read the secret; it is rotated afterwards.
    let off = root.post("/v1/users/rita/offboard", json!({ "since": 0 }));
    assert_eq!(off.status, 200, "{off:?}");
    assert!(root.put(secret, json!({ "value": "s3cret-v2" })).status < 300);
    // An access review, closed.
    let rev = root.post("/v1/access/reviews", json!({ "scope": "payments/*" }));
    let rid = rev.json["id"].as_str().unwrap().to_owned();
    for item in rev.json["items"].as_array().unwrap() {
        let b = item["binding_id"].as_str().unwrap();
        let d = root.post(
            &format!("/v1/access/reviews/{rid}/bindings/{b}"),
            json!({ "decision": "keep" }),
        );
        assert_eq!(d.status, 200, "{d:?}");
    }
    assert_eq!(
        root.post(&format!("/v1/access/reviews/{rid}/close"), json!({}))
            .status,
        200
    );
    let _ = login(&s, "ops");

    // The report, as JSON.
    let r = root.get("/v1/compliance/report?format=json");
    assert_eq!(r.status, 200, "{r:?}");
    let report = r.json;
    let lines = report["report"]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 20, "one line per safeguard");
    let status = |id: &str| line(&report, id)["status"].as_str().unwrap().to_owned();
    // Audit chain verifies; retention 90 days is under 6 years.
    assert_eq!(status("164.312(b)"), "needs_attention");
    assert!(evidence(line(&report, "164.312(b)")).contains("the audit chain verifies"));
    assert!(evidence(line(&report, "164.312(b)")).contains("6 years"));
    // An admin without a second factor; one with.
    assert_eq!(status("164.312(d)"), "needs_attention");
    let auth = evidence(line(&report, "164.312(d)"));
    assert!(auth.contains("without a second factor: ops"), "{auth}");
    assert!(
        auth.contains("1 of 3 active user(s) have a passkey"),
        "{auth}"
    );
    // The emergency grant with its reason and the read under it.
    let em = evidence(line(&report, "164.312(a)(2)(ii)"));
    assert!(
        em.contains("patient in ER")
            && em.contains("1 read(s) under it: payments/prod/DB_PASSWORD"),
        "{em}"
    );
    assert!(
        !line(&report, "164.312(a)(2)(ii)")["audit_seqs"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Failed logins and throttling, per account.
    assert_eq!(status("164.308(a)(5)(ii)(C)"), "needs_attention");
    assert!(evidence(line(&report, "164.308(a)(5)(ii)(C)")).contains("user:rita 3"));
    // Offboarding with its rotation work-list, rotated.
    assert_eq!(status("164.308(a)(3)(ii)(C)"), "met");
    let off = evidence(line(&report, "164.308(a)(3)(ii)(C)"));
    assert!(
        off.contains("1 secret(s) on the rotation work-list, 1 rotated"),
        "{off}"
    );
    // Disposal: the project and the key version.
    let disposal = evidence(line(&report, "164.310(d)(2)(i)"));
    assert!(
        disposal.contains("tmp") && disposal.contains("payments v1"),
        "{disposal}"
    );
    // Keys: encrypted, rotated, no integrity failure.
    assert_eq!(status("164.312(a)(2)(iv)"), "met");
    assert_eq!(status("164.312(c)(1)"), "met");
    // The review is current.
    assert_eq!(status("164.308(a)(1)(ii)(D)"), "met");
    // A dev server serves plain HTTP on loopback: transmission is not met.
    assert_eq!(status("164.312(e)(1)"), "not_met");
    // Nobody is alerted on critical events yet.
    assert_eq!(status("164.308(a)(6)"), "needs_attention");
    let sum = &report["report"]["summary"];
    let total: u64 = ["met", "needs_attention", "not_met", "not_applicable"]
        .iter()
        .map(|k| sum[k].as_u64().unwrap())
        .sum();
    assert_eq!(total, 20);
    assert!(!r.text.contains("s3cret"), "no secret value in a report");
    assert!(!r.text.contains(PW));

    // The HTML report verifies offline; an edited copy does not.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.html");
    let key_file = dir.path().join("vault.pub");
    let out = vault_tests::cli::vault(&s)
        .args(["compliance", "report", "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = vault_tests::cli::vault(&s)
        .args(["audit", "verify", "--print-public-key"])
        .output()
        .unwrap();
    std::fs::write(&key_file, &key.stdout).unwrap();
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(html.contains("<svg") && html.contains("164.312(b)"));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    let check = |path: &std::path::Path| {
        vault_tests::cli::vault(&s)
            .args(["compliance", "verify"])
            .arg(path)
            .arg("--public-key")
            .arg(&key_file)
            .output()
            .unwrap()
    };
    let ok = check(&file);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let edited = dir.path().join("edited.html");
    std::fs::write(&edited, html.replacen("not met", "met", 1)).unwrap();
    let bad = check(&edited);
    assert_eq!(bad.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("changed after it was signed"));
    // It opens in the real browser with no error and no request out; the
    // screenshot is kept as an artifact.
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("compliance-report.png");
    vault_tests::run_browser_script(
        "report.mjs",
        &[
            ("REPORT", file.to_str().unwrap()),
            ("SHOT", shot.to_str().unwrap()),
        ],
    );
    assert!(shot.exists());
    let trail = root.get("/v1/audit?action=compliance.report").text;
    assert!(trail.contains("compliance.report"));

    // A broken chain: audit controls and integrity are not met.
    let db = rusqlite::Connection::open(s.db_path()).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    db.execute("UPDATE audit_log SET resource = 'forged' WHERE seq = 3", [])
        .unwrap();
    let broken = root.get("/v1/compliance/report?format=json").json;
    assert_eq!(line(&broken, "164.312(b)")["status"], "not_met");
    assert_eq!(line(&broken, "164.312(c)(1)")["status"], "not_met");
    assert!(evidence(line(&broken, "164.312(b)")).contains("does NOT verify"));
}
