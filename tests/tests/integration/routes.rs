//! Every route in the OpenAPI document is served; protected routes refuse
//! anonymous callers; a sealed server serves only health, seal-status, init
//! and unseal; errors have one shape with a request id.

use serde_json::Value;
use vault_tests::{Client, Server};

const OPEN: [&str; 10] = [
    "/v1/sys/health",
    // Single sign-on: the flow itself is the credential.
    "/v1/auth/oidc/providers",
    "/v1/auth/oidc/corp/start",
    "/v1/auth/oidc/corp/callback",
    // Workload identity: the JWT is the credential.
    "/v1/auth/workload/issuers",
    // Passkey sign-in: the assertion is the credential.
    "/v1/auth/passkeys/login/start",
    "/v1/sys/seal-status",
    "/v1/sys/init",
    "/v1/sys/unseal",
    // Authenticated by the unseal key material, not a token.
    "/v1/sys/generate-root",
];

fn routes(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path
                .replace("{p}", "demo")
                .replace("{e}", "dev")
                .replace("{name}", "K")
                .replace("{version}", "1")
                .replace("{id}", "nope")
                .replace("{provider}", "corp")
                .replace("{issuer}", "github");
            out.push((method.to_uppercase(), concrete));
        }
    }
    out
}

fn call(c: &Client, method: &str, path: &str) -> vault_tests::Resp {
    c.request(method, path, serde_json::json!({}))
}

#[test]
fn every_documented_route_is_served_and_guarded() {
    let s = Server::dev();
    let c = s.client();
    let doc = c.get("/v1/openapi.json");
    assert_eq!(doc.json["openapi"], "3.1.0");
    let all = routes(&doc.json);
    assert!(all.len() >= 33, "{}", all.len());
    let anon = s.anonymous();
    for (m, p) in &all {
        let r = call(&anon, m, p);
        assert_ne!(r.code(), "route.not_found", "{m} {p} not routed");
        assert_ne!(r.status, 405, "{m} {p}");
        let open = OPEN.contains(&p.as_str()) || p == "/v1/openapi.json";
        if !open {
            // A body that does not parse is refused before anything else;
            // everything else must be refused for want of a token.
            let refused = (r.status, r.code()) == (401, "auth.required")
                || (r.status == 400 && r.code() == "request.invalid_json");
            assert!(refused, "{m} {p} must need a token: {r:?}");
        }
        let page = r
            .content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("text/html"));
        if r.status >= 400 && page {
            // The browser routes of single sign-on answer pages.
            assert!(r.request_id.is_some(), "{m} {p}: no request id");
        } else if r.status >= 400 {
            assert!(
                r.json["error"]["request_id"].is_string(),
                "{m} {p}: {}",
                r.text
            );
            assert_eq!(
                r.json["error"]["request_id"].as_str(),
                r.request_id.as_deref()
            );
        }
    }
    let m = c.get("/v1/sys/metrics");
    assert!(m.text.contains("vault_http_responses_total"), "{}", m.text);
    let h = anon.get("/v1/sys/health");
    assert_eq!(h.json["sealed"], false);
}

#[test]
fn sealed_server_serves_only_the_unseal_routes() {
    let s = Server::dev();
    let c = s.client();
    c.setup("demo", "dev");
    c.write("demo", "dev", "K", "v");
    assert_eq!(c.post_empty("/v1/sys/seal").json["sealed"], true);
    let doc_routes = [
        ("GET", "/v1/projects"),
        ("GET", "/v1/projects/demo/environments/dev/secrets/K"),
        ("PUT", "/v1/projects/demo/environments/dev/secrets/K"),
        ("GET", "/v1/projects/demo/environments/dev/bundle"),
        ("GET", "/v1/keys"),
        ("GET", "/v1/audit"),
        ("GET", "/v1/openapi.json"),
        ("POST", "/v1/sys/seal"),
    ];
    for (m, p) in doc_routes {
        let r = call(&c, m, p);
        assert_eq!((r.status, r.code()), (503, "vault.sealed"), "{m} {p}");
        assert!(!r.text.contains("\"v\""));
    }
    assert_eq!(c.get("/v1/sys/health").status, 200);
    assert_eq!(c.get("/v1/sys/seal-status").json["sealed"], true);
    let key = std::fs::read_to_string(s.data_dir.join("unseal.key")).unwrap();
    let st = s
        .anonymous()
        .post("/v1/sys/unseal", serde_json::json!({ "key": key.trim() }));
    assert_eq!(st.json["sealed"], false, "{st:?}");
    assert_eq!(c.read("demo", "dev", "K").json["value"], "v");
}

#[test]
fn request_ids_are_echoed_and_headers_safe() {
    let s = Server::dev();
    let r = s.client().get("/v1/projects");
    assert_eq!(r.status, 200);
    assert!(r.request_id.as_deref().is_some_and(|id| id.len() >= 16));
}

#[test]
fn metrics_need_a_permission_unless_configured_open() {
    let s = Server::dev();
    let r = s.anonymous().get("/v1/sys/metrics");
    assert_eq!((r.status, r.code()), (401, "auth.required"), "{r:?}");
    // A scraper gets a token of the `monitoring` role's one action.
    let t = s.client().post(
        "/v1/tokens",
        serde_json::json!({"name": "prometheus", "scopes": ["*"], "actions": ["metrics.read"], "ttl_secs": 3600}),
    );
    assert_eq!(t.status, 201, "{t:?}");
    let scraper = s.anonymous().with_token(t.json["token"].as_str());
    let m = scraper.get("/v1/sys/metrics");
    assert_eq!(m.status, 200, "{m:?}");
    assert!(m.text.contains("vault_sealed"));
    assert_eq!(
        scraper.get("/v1/projects").json["projects"],
        serde_json::json!([])
    );
    let open = Server::dev_with(vault_tests::Options {
        env: vec![(
            "VAULT_TELEMETRY_UNAUTHENTICATED_METRICS".into(),
            "true".into(),
        )],
        ..Default::default()
    });
    assert_eq!(open.anonymous().get("/v1/sys/metrics").status, 200);
}

/// Without a credential a protected route answers 401 before it reads any
/// input (a caller learns nothing of what it would accept), and the refusal
/// is recorded under the route's action and the resource its path names.
#[test]
fn no_credential_is_refused_before_input_is_read() {
    let s = Server::dev();
    let anon = s.anonymous();
    for (method, path, body) in [
        ("POST", "/v1/projects", serde_json::json!({ "name": "" })),
        ("POST", "/v1/keys/rewrap", serde_json::json!(null)),
        (
            "PUT",
            "/v1/projects/p/environments/e/secrets/not%20a%20name",
            serde_json::json!([1]),
        ),
    ] {
        let r = match method {
            "POST" => anon.post(path, body),
            _ => anon.put(path, body),
        };
        assert_eq!(
            (r.status, r.code()),
            (401, "auth.required"),
            "{method} {path}"
        );
    }
    let root = s.client();
    let page = root
        .get("/v1/audit?order=newest&limit=5&action=project.create")
        .json;
    let rec = &page["records"][0];
    assert_eq!(rec["outcome"], "denied", "{page}");
    assert_eq!(rec["detail"], "auth.required");
    assert_eq!(rec["resource"], "projects");
}

/// Bodies are JSON objects; a JSON number with a zero fraction is the
/// integer it equals (RFC 8259 has one number type).
#[test]
fn bodies_are_objects_and_integral_numbers_are_integers() {
    let s = Server::dev();
    let c = s.client();
    c.setup("p", "e");
    let w = c.put(
        "/v1/projects/p/environments/e/secrets/K",
        serde_json::json!({ "value": "v" }),
    );
    assert_eq!(w.status, 200, "{w:?}");
    let cas = c.put(
        "/v1/projects/p/environments/e/secrets/K",
        serde_json::from_str::<Value>(r#"{"value": "w", "cas": 1.0}"#).unwrap(),
    );
    assert_eq!(cas.status, 200, "{cas:?}");
    let frac = c.put(
        "/v1/projects/p/environments/e/secrets/K",
        serde_json::from_str::<Value>(r#"{"value": "x", "cas": 2.5}"#).unwrap(),
    );
    assert_eq!((frac.status, frac.code()), (400, "request.invalid_json"));
    for body in [serde_json::json!([null, null]), serde_json::json!("x")] {
        let r = c.post("/v1/sys/unseal", body.clone());
        assert_eq!(
            (r.status, r.code()),
            (400, "request.invalid_json"),
            "{body}"
        );
        let r = c.post("/v1/projects", body.clone());
        assert_eq!(
            (r.status, r.code()),
            (400, "request.invalid_json"),
            "{body}"
        );
    }
    // `null` is "no body" for the rewrap route, whose body is optional.
    let rw = c.post("/v1/keys/rewrap", serde_json::json!(null));
    assert_eq!(rw.status, 202, "{rw:?}");
}
