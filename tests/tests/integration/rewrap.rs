//! Rotation and rewrap: SIGKILL in the middle of a rewrap job, restart, the
//! job resumes, every secret still decrypts, and the old KEK version can
//! then be retired and destroyed.

use std::time::Duration;

use serde_json::{Value, json};
use vault_tests::{Options, Server, wait_for};

const SECRETS: usize = 400;

fn kek(keys: &Value, project: &str, version: u64) -> Value {
    keys["keks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["project"] == project && k["version"] == version)
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn sigkill_mid_rewrap_resumes_after_restart() {
    // One data key per rewrap transaction, so the job takes long enough to kill.
    let opts = Options {
        env: vec![("VAULT_KEYS_REWRAP_BATCH".into(), "1".into())],
        ..Default::default()
    };
    let mut s = Server::dev_with(opts.clone());
    let c = s.client();
    c.setup("big", "prod");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in (t..SECRETS).step_by(8) {
                    c.write("big", "prod", &format!("S_{i}"), &format!("value-{i}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let rot = c.post_empty("/v1/projects/big/keys/rotate");
    assert_eq!(rot.json["version"], 2, "{rot:?}");
    let keys = c.get("/v1/keys").json;
    assert_eq!(kek(&keys, "big", 1)["state"], "decrypt_only");
    assert_eq!(kek(&keys, "big", 1)["data_keys"], SECRETS as u64);
    // Retiring a version that still wraps data is refused.
    let r = c.post_empty("/v1/projects/big/keys/1/retire");
    assert_eq!((r.status, r.code()), (409, "keys.lifecycle"));

    let job = c.post("/v1/keys/rewrap", json!({"project": "big"}));
    assert_eq!(job.status, 202, "{job:?}");
    assert_eq!(job.json["total"], SECRETS as u64);
    let id = job.json["id"].as_str().unwrap().to_owned();
    let done_at_kill = wait_for(Duration::from_secs(30), "rewrap progress", || {
        let j = c.get(&format!("/v1/keys/rewrap/{id}"));
        let done = j.json["done"].as_u64().unwrap_or(0);
        (done >= 20).then_some(done)
    });
    s.kill();
    assert!(
        done_at_kill < SECRETS as u64,
        "the job finished before the kill; make it slower"
    );

    let dir = s.data_dir.clone();
    let _tmp = s.take_tmp();
    let s2 = Server::dev_in(&dir, opts);
    let c = s2.client();
    let finished = wait_for(Duration::from_secs(60), "the resumed job to finish", || {
        let j = c.get(&format!("/v1/keys/rewrap/{id}"));
        (j.json["state"] == "done").then_some(j.json)
    });
    assert!(
        finished["done"].as_u64().unwrap() >= SECRETS as u64 - 1,
        "{finished}"
    );
    let keys = c.get("/v1/keys").json;
    assert_eq!(kek(&keys, "big", 1)["data_keys"], 0, "{keys}");
    assert_eq!(kek(&keys, "big", 2)["data_keys"], SECRETS as u64);
    let bundle = c.get("/v1/projects/big/environments/prod/bundle");
    assert_eq!(bundle.status, 200, "{bundle:?}");
    for i in 0..SECRETS {
        assert_eq!(
            bundle.json["secrets"][format!("S_{i}")],
            format!("value-{i}")
        );
    }
    // Now the old version wraps nothing: retire, then destroy.
    assert_eq!(
        c.post_empty("/v1/projects/big/keys/2/retire").code(),
        "keys.lifecycle"
    );
    let r = c.post_empty("/v1/projects/big/keys/1/destroy");
    assert_eq!(r.status, 409, "destroy needs retire first: {r:?}");
    assert_eq!(
        c.post_empty("/v1/projects/big/keys/1/retire").json["state"],
        "retired"
    );
    assert_eq!(
        c.post_empty("/v1/projects/big/keys/1/destroy").json["state"],
        "destroyed"
    );
    assert_eq!(c.read("big", "prod", "S_7").json["value"], "value-7");
}

#[test]
fn root_rotation_rewraps_keks_only() {
    let s = Server::dev();
    let c = s.client();
    c.setup("r", "dev");
    c.write("r", "dev", "A", "alpha");
    let before = c.get("/v1/keys").json["root_version"].as_u64().unwrap();
    let rot = c.post_empty("/v1/sys/rotate-root");
    assert_eq!(rot.json["version"], before + 1, "{rot:?}");
    assert_eq!(rot.json["keks_rewrapped"], 1);
    assert_eq!(c.read("r", "dev", "A").json["value"], "alpha");
    // Seal and unseal (key file): the new root key is what the unseal key opens.
    c.post_empty("/v1/sys/seal");
    let key = std::fs::read_to_string(s.data_dir.join("unseal.key")).unwrap();
    let st = s
        .anonymous()
        .post("/v1/sys/unseal", json!({ "key": key.trim() }));
    assert_eq!(st.json["sealed"], false, "{st:?}");
    assert_eq!(c.read("r", "dev", "A").json["value"], "alpha");
    c.write("r", "dev", "A", "beta");
    assert_eq!(c.read("r", "dev", "A").json["value"], "beta");
}

#[test]
fn automatic_rotation_by_wrap_count() {
    let s = Server::dev_with(Options {
        env: vec![("VAULT_KEYS_ROTATION_MAX_WRAPS".into(), "5".into())],
        ..Default::default()
    });
    let c = s.client();
    c.setup("auto", "dev");
    for i in 0..5 {
        c.write("auto", "dev", "K", &i.to_string());
    }
    let keys = wait_for(Duration::from_secs(10), "automatic rotation", || {
        let k = c.get("/v1/keys").json;
        (kek(&k, "auto", 2)["state"] == "active").then_some(k)
    });
    assert_eq!(kek(&keys, "auto", 1)["state"], "decrypt_only");
    c.write("auto", "dev", "K", "after");
    assert_eq!(c.read("auto", "dev", "K").json["value"], "after");
    assert_eq!(
        c.get("/v1/projects/auto/environments/dev/secrets/K?version=1")
            .json["value"],
        "0"
    );
    let audit = c.get("/v1/audit?action=keys.auto_rotate");
    assert_eq!(
        audit.json["records"][0]["detail"], "wrap_count",
        "{audit:?}"
    );
}
