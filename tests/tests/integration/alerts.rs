//! Webhook alerts through the real server: a local receiver checks the
//! Standard Webhooks signature, a failed delivery is tried again after its
//! backoff (the server's test clock), the delivery log shows it, payloads
//! carry no secret; deliveries to link-local, metadata, IPv4-mapped
//! loopback and (when not allowed) loopback names are refused, and a
//! redirect is never followed.

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use vault_tests::receiver::Receiver;
use vault_tests::{Client, Options, Server};

use super::identity_kit::{PW, advance, login_resp, refused, user};

fn server(allow_loopback: bool) -> Server {
    Server::dev_with(Options {
        env: vec![
            (
                "VAULT_IDENTITY_DANGER_WEAK_PASSWORD_HASHING".into(),
                "true".into(),
            ),
            ("VAULT_IDENTITY_DANGER_TEST_CLOCK".into(), "true".into()),
            (
                "VAULT_ALERTS_DANGER_ALLOW_LOOPBACK".into(),
                allow_loopback.to_string(),
            ),
        ],
        ..Default::default()
    })
}

fn subscribe(root: &Client, url: &str, events: &[&str]) -> (String, Vec<u8>) {
    let r = root.post("/v1/alerts", json!({ "url": url, "events": events }));
    assert_eq!(r.status, 201, "{r:?}");
    let secret = r.json["secret"].as_str().unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    (
        r.json["subscription"]["id"].as_str().unwrap().to_owned(),
        key,
    )
}

/// The delivery log once `pred` holds for it (15 s at most).
fn deliveries_when(root: &Client, id: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let l = root.get(&format!("/v1/alerts/{id}/deliveries"));
        let d = l.json["deliveries"].as_array().cloned().unwrap_or_default();
        if pred(&d) || Instant::now() > until {
            return d;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn signed_deliveries_with_retries_and_a_log() {
    let s = server(true);
    let root = s.client();
    let rx = Receiver::start(&[500]);
    let (id, key) = subscribe(
        &root,
        &format!("{}/hook", rx.base),
        &["auth.throttled", "emergency.open"],
    );
    // Guessing a password: the third failure makes the account wait.
    user(&root, "alice");
    for _ in 0..3 {
        let _ = login_resp(&s, "alice", "wrong password guess 1");
    }
    let got = rx.wait_for(1);
    assert_eq!(got.len(), 1, "one attempt so far: {got:?}");
    let first = &got[0];
    assert_eq!(first.path, "/hook");
    let ts: i64 = first.headers["webhook-timestamp"].parse().unwrap();
    let msg = &first.headers["webhook-id"];
    assert!(msg.starts_with("msg_"));
    assert_eq!(
        first.headers["webhook-signature"],
        vault_core::alerts::signature(&key, msg, ts, first.body.as_bytes()),
        "the signature verifies with the secret shown at subscription"
    );
    let body: Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(body["type"], "auth.throttled", "{body}");
    assert_eq!(body["data"]["action"], "auth.login");
    assert!(
        !first.body.contains("wrong password guess"),
        "no secret in a payload"
    );
    // The receiver answered 500: tried again after 10 s (the test clock).
    let d = deliveries_when(&root, &id, |d| {
        d.first().is_some_and(|x| x["attempts"] == 1)
    });
    assert_eq!(d[0]["status"], "pending", "{d:?}");
    assert_eq!(d[0]["last_status"], 500);
    advance(&s, 11);
    let got = rx.wait_for(2);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1].headers["webhook-id"], *msg, "the same id on a retry");
    let d = deliveries_when(&root, &id, |d| {
        d.first().is_some_and(|x| x["status"] == "delivered")
    });
    assert_eq!(d[0]["attempts"], 2, "{d:?}");
    // A test delivery on request.
    assert_eq!(
        root.post_empty(&format!("/v1/alerts/{id}/test")).status,
        202
    );
    let got = rx.wait_for(3);
    let last: Value = serde_json::from_str(&got[2].body).unwrap();
    assert_eq!(last["type"], "alert.test");
    // The CLI lists the log.
    let out = vault_tests::cli::vault(&s)
        .args(["alerts", "deliveries", &id])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("auth.throttled") && text.contains("delivered"),
        "{text}"
    );
    // Bad input changes nothing.
    refused(
        &root.post(
            "/v1/alerts",
            json!({ "url": "http://hooks.example.com/x", "events": ["sys.seal"] }),
        ),
        400,
        "alert.invalid_url",
    );
    refused(
        &root.post(
            "/v1/alerts",
            json!({ "url": "https://hooks.example.com/x", "events": ["nope"] }),
        ),
        400,
        "alert.invalid_event",
    );
    let list = root.get("/v1/alerts");
    assert_eq!(list.json["subscriptions"].as_array().unwrap().len(), 1);
    let trail = root.get("/v1/audit?limit=1000").text;
    assert!(trail.contains("alert.create"));
    assert!(!trail.contains("whsec_"), "the secret is never recorded");
    let _ = PW;
}

#[test]
fn deliveries_never_reach_internal_addresses_or_follow_redirects() {
    let s = server(true);
    let root = s.client();
    let refused_to = |url: &str| {
        let (id, _) = subscribe(&root, url, &["sys.seal"]);
        assert_eq!(
            root.post_empty(&format!("/v1/alerts/{id}/test")).status,
            202
        );
        let d = deliveries_when(&root, &id, |d| {
            d.first().is_some_and(|x| x["attempts"] == 1)
        });
        let err = d[0]["last_error"].as_str().unwrap_or_default().to_owned();
        assert!(err.contains("refused"), "{url}: {d:?}");
        assert!(
            d[0]["last_status"].is_null(),
            "{url}: nothing was sent: {d:?}"
        );
    };
    refused_to("https://169.254.169.254/latest/meta-data");
    refused_to("https://[fd00:ec2::254]/latest");
    let rx = Receiver::start(&[]);
    let port = rx.base.rsplit(':').next().unwrap().to_owned();
    refused_to(&format!("https://[::ffff:127.0.0.1]:{port}/hook"));
    // A redirect (to the metadata address) is a failed delivery, not a hop.
    let redirecting = Receiver::start(&[302, 302, 302, 302, 302, 302]);
    let (id, _) = subscribe(&root, &format!("{}/hook", redirecting.base), &["sys.seal"]);
    assert_eq!(
        root.post_empty(&format!("/v1/alerts/{id}/test")).status,
        202
    );
    let d = deliveries_when(&root, &id, |d| {
        d.first().is_some_and(|x| x["attempts"] == 1)
    });
    assert_eq!(d[0]["last_status"], 302, "{d:?}");
    assert!(d[0]["last_error"].as_str().unwrap().contains("redirect"));
    assert_eq!(redirecting.requests().len(), 1);

    // Without the loopback allowance: no plain HTTP, and a name that
    // resolves to a loopback (private) address is refused at delivery.
    let strict = server(false);
    let root = strict.client();
    refused(
        &root.post(
            "/v1/alerts",
            json!({ "url": format!("{}/hook", rx.base), "events": ["sys.seal"] }),
        ),
        400,
        "alert.invalid_url",
    );
    let (id, _) = subscribe(
        &root,
        &format!("https://localhost:{port}/hook"),
        &["sys.seal"],
    );
    assert_eq!(
        root.post_empty(&format!("/v1/alerts/{id}/test")).status,
        202
    );
    let d = deliveries_when(&root, &id, |d| {
        d.first().is_some_and(|x| x["attempts"] == 1)
    });
    assert!(
        d[0]["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("refused"),
        "{d:?}"
    );
    assert!(
        rx.requests().is_empty(),
        "nothing reached the loopback receiver"
    );
}
