//! The OpenAPI 3.1 document at `/v1/openapi.json`, built from the route
//! table in [`super::ROUTES`] (a test checks every route is described and
//! served) and a compact description of the wire types in `vault_core::api`.

use axum::Json;
use serde_json::{Map, Value, json};

use super::ROUTES;

/// An operation: (method, path, summary, request schema, response schema,
/// success status).
pub type Op = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    u16,
);

const OPS: &[Op] = &[
    (
        "GET",
        "/v1/sys/health",
        "Health (always served)",
        None,
        Some("Health"),
        200,
    ),
    (
        "POST",
        "/v1/sys/init",
        "Initialize the vault",
        Some("InitRequest"),
        Some("InitResponse"),
        200,
    ),
    (
        "GET",
        "/v1/sys/seal-status",
        "Seal status",
        None,
        Some("SealStatus"),
        200,
    ),
    (
        "POST",
        "/v1/sys/unseal",
        "Give one share or the passphrase",
        Some("UnsealRequest"),
        Some("SealStatus"),
        200,
    ),
    (
        "POST",
        "/v1/sys/seal",
        "Seal (wipe keys from memory)",
        None,
        Some("SealStatus"),
        200,
    ),
    (
        "POST",
        "/v1/sys/generate-root",
        "A new root token, for the holders of the unseal key material",
        Some("GenerateRoot"),
        Some("GeneratedRoot"),
        200,
    ),
    (
        "POST",
        "/v1/sys/rotate-root",
        "Rotate the root key",
        None,
        Some("RootKeyStatus"),
        200,
    ),
    (
        "GET",
        "/v1/sys/metrics",
        "Prometheus metrics (text)",
        None,
        None,
        200,
    ),
    ("GET", "/v1/openapi.json", "This document", None, None, 200),
    (
        "GET",
        "/v1/projects",
        "List projects",
        None,
        Some("ProjectList"),
        200,
    ),
    (
        "POST",
        "/v1/projects",
        "Create a project",
        Some("CreateProject"),
        Some("Project"),
        201,
    ),
    (
        "DELETE",
        "/v1/projects/{p}",
        "Delete a project (crypto-shred)",
        None,
        None,
        204,
    ),
    (
        "GET",
        "/v1/projects/{p}/environments",
        "List environments",
        None,
        Some("EnvironmentList"),
        200,
    ),
    (
        "POST",
        "/v1/projects/{p}/environments",
        "Create an environment",
        Some("CreateEnvironment"),
        Some("Environment"),
        201,
    ),
    (
        "GET",
        "/v1/projects/{p}/environments/{e}/secrets",
        "List secret names",
        None,
        Some("SecretList"),
        200,
    ),
    (
        "GET",
        "/v1/projects/{p}/environments/{e}/bundle",
        "Every current value",
        None,
        Some("Bundle"),
        200,
    ),
    (
        "GET",
        "/v1/projects/{p}/environments/{e}/secrets/{name}",
        "Read a secret (?version=N)",
        None,
        Some("SecretValue"),
        200,
    ),
    (
        "PUT",
        "/v1/projects/{p}/environments/{e}/secrets/{name}",
        "Write a new version (cas optional)",
        Some("WriteSecret"),
        Some("SecretMeta"),
        200,
    ),
    (
        "DELETE",
        "/v1/projects/{p}/environments/{e}/secrets/{name}",
        "Move to the trash",
        None,
        Some("TrashedSecret"),
        200,
    ),
    (
        "GET",
        "/v1/projects/{p}/environments/{e}/secrets/{name}/history",
        "Version history (no values)",
        None,
        Some("SecretHistory"),
        200,
    ),
    (
        "POST",
        "/v1/projects/{p}/environments/{e}/secrets/{name}/rollback",
        "Roll back to a version",
        Some("Rollback"),
        Some("SecretMeta"),
        200,
    ),
    (
        "GET",
        "/v1/projects/{p}/environments/{e}/trash",
        "List the trash",
        None,
        Some("TrashList"),
        200,
    ),
    (
        "POST",
        "/v1/projects/{p}/environments/{e}/trash/{name}/restore",
        "Restore from the trash",
        None,
        Some("SecretMeta"),
        200,
    ),
    (
        "DELETE",
        "/v1/projects/{p}/environments/{e}/trash/{name}",
        "Destroy for good",
        None,
        None,
        204,
    ),
    (
        "GET",
        "/v1/keys",
        "KEK status per version",
        None,
        Some("KeyStatus"),
        200,
    ),
    (
        "POST",
        "/v1/projects/{p}/keys/rotate",
        "Rotate a project's KEK",
        None,
        Some("KekVersionStatus"),
        200,
    ),
    (
        "POST",
        "/v1/projects/{p}/keys/{version}/retire",
        "Retire a KEK version that wraps nothing",
        None,
        Some("KekVersionStatus"),
        200,
    ),
    (
        "POST",
        "/v1/projects/{p}/keys/{version}/destroy",
        "Destroy a retired KEK version",
        None,
        Some("KekVersionStatus"),
        200,
    ),
    (
        "POST",
        "/v1/keys/rewrap",
        "Start a rewrap job",
        Some("StartRewrap"),
        Some("RewrapJob"),
        202,
    ),
    (
        "GET",
        "/v1/keys/rewrap/{id}",
        "Rewrap job progress",
        None,
        Some("RewrapJob"),
        200,
    ),
    (
        "GET",
        "/v1/audit",
        "Audit records (filters: from,to,actor,action,resource,after,limit)",
        None,
        Some("AuditPage"),
        200,
    ),
    (
        "GET",
        "/v1/audit/export",
        "Export (format=jsonl|csv, same filters)",
        None,
        None,
        200,
    ),
    (
        "GET",
        "/v1/audit/verify",
        "Verify the chain and checkpoints (against_seq + against_hash: a saved head it must still contain)",
        None,
        Some("AuditVerifyReport"),
        200,
    ),
    (
        "GET",
        "/v1/audit/head",
        "The signed head of the chain, to save for a later verify --against",
        None,
        Some("Checkpoint"),
        200,
    ),
    (
        "GET",
        "/v1/audit/public-key",
        "Checkpoint verifying key",
        None,
        Some("AuditPublicKey"),
        200,
    ),
];

/// Wire types: (name, [(field, type)]) where type is `string`, `integer`,
/// `boolean`, `object`, `#Ref` or `[]Ref` / `[]string`.
const SCHEMAS: &[(&str, &[(&str, &str)])] = &[
    ("ErrorBody", &[("error", "#ErrorDetail")]),
    (
        "ErrorDetail",
        &[
            ("code", "string"),
            ("message", "string"),
            ("request_id", "string"),
        ],
    ),
    (
        "Health",
        &[
            ("initialized", "boolean"),
            ("sealed", "boolean"),
            ("version", "string"),
        ],
    ),
    ("InitRequest", &[("mode", "object")]),
    (
        "InitResponse",
        &[
            ("shares", "[]string"),
            ("threshold", "integer"),
            ("root_token", "string"),
        ],
    ),
    (
        "UnsealRequest",
        &[
            ("share", "string"),
            ("passphrase", "string"),
            ("reset", "boolean"),
            ("key", "string"),
        ],
    ),
    (
        "GenerateRoot",
        &[
            ("shares", "[]string"),
            ("passphrase", "string"),
            ("key", "string"),
            ("ttl_secs", "integer"),
        ],
    ),
    (
        "RootToken",
        &[
            ("id", "string"),
            ("origin", "string"),
            ("created_at", "integer"),
            ("expires_at", "integer"),
            ("revoked_at", "integer"),
        ],
    ),
    (
        "GeneratedRoot",
        &[("root_token", "string"), ("token", "#RootToken")],
    ),
    (
        "SealStatus",
        &[
            ("initialized", "boolean"),
            ("sealed", "boolean"),
            ("mode", "string"),
            ("threshold", "integer"),
            ("progress", "integer"),
        ],
    ),
    (
        "RootKeyStatus",
        &[("version", "integer"), ("keks_rewrapped", "integer")],
    ),
    ("CreateProject", &[("name", "string")]),
    ("Project", &[("name", "string"), ("created_at", "integer")]),
    ("ProjectList", &[("projects", "[]Project")]),
    ("CreateEnvironment", &[("name", "string")]),
    (
        "Environment",
        &[
            ("project", "string"),
            ("name", "string"),
            ("created_at", "integer"),
        ],
    ),
    ("EnvironmentList", &[("environments", "[]Environment")]),
    ("WriteSecret", &[("value", "string"), ("cas", "integer")]),
    (
        "SecretMeta",
        &[
            ("name", "string"),
            ("version", "integer"),
            ("created_at", "integer"),
            ("created_by", "string"),
        ],
    ),
    (
        "SecretValue",
        &[
            ("name", "string"),
            ("version", "integer"),
            ("value", "string"),
            ("created_at", "integer"),
            ("created_by", "string"),
        ],
    ),
    (
        "SecretSummary",
        &[
            ("name", "string"),
            ("version", "integer"),
            ("updated_at", "integer"),
        ],
    ),
    ("SecretList", &[("secrets", "[]SecretSummary")]),
    (
        "Bundle",
        &[
            ("project", "string"),
            ("environment", "string"),
            ("secrets", "object"),
        ],
    ),
    (
        "HistoryEntry",
        &[
            ("version", "integer"),
            ("created_at", "integer"),
            ("created_by", "string"),
            ("kind", "string"),
            ("source_version", "integer"),
        ],
    ),
    (
        "SecretHistory",
        &[("name", "string"), ("versions", "[]HistoryEntry")],
    ),
    ("Rollback", &[("version", "integer"), ("cas", "integer")]),
    (
        "TrashedSecret",
        &[
            ("name", "string"),
            ("version", "integer"),
            ("deleted_at", "integer"),
            ("purge_after", "integer"),
        ],
    ),
    ("TrashList", &[("secrets", "[]TrashedSecret")]),
    (
        "KekVersionStatus",
        &[
            ("project", "string"),
            ("version", "integer"),
            ("state", "string"),
            ("created_at", "integer"),
            ("age_secs", "integer"),
            ("wrap_count", "integer"),
            ("data_keys", "integer"),
        ],
    ),
    (
        "KeyStatus",
        &[("root_version", "integer"), ("keks", "[]KekVersionStatus")],
    ),
    ("StartRewrap", &[("project", "string")]),
    (
        "RewrapJob",
        &[
            ("id", "string"),
            ("state", "string"),
            ("total", "integer"),
            ("done", "integer"),
            ("started_at", "integer"),
            ("finished_at", "integer"),
            ("error", "string"),
        ],
    ),
    (
        "AuditRecord",
        &[
            ("seq", "integer"),
            ("time", "integer"),
            ("request_id", "string"),
            ("actor", "string"),
            ("token_id", "string"),
            ("action", "string"),
            ("resource", "string"),
            ("outcome", "string"),
            ("source", "string"),
            ("detail", "string"),
            ("prev_hash", "string"),
            ("hash", "string"),
        ],
    ),
    (
        "AuditPage",
        &[("records", "[]AuditRecord"), ("next_after", "integer")],
    ),
    (
        "AuditVerifyReport",
        &[
            ("ok", "boolean"),
            ("records", "integer"),
            ("checkpoints", "integer"),
            ("problem", "string"),
        ],
    ),
    (
        "AuditPublicKey",
        &[("algorithm", "string"), ("public_key", "string")],
    ),
    (
        "Checkpoint",
        &[
            ("seq", "integer"),
            ("time", "integer"),
            ("hash", "string"),
            ("key_id", "string"),
            ("signature", "string"),
        ],
    ),
];

fn type_schema(t: &str) -> Value {
    if let Some(r) = t.strip_prefix('#') {
        json!({ "$ref": format!("#/components/schemas/{r}") })
    } else if let Some(item) = t.strip_prefix("[]") {
        json!({ "type": "array", "items": type_schema(if item == "string" { "string" } else { item }) })
    } else if matches!(t, "string" | "integer" | "boolean" | "object") {
        json!({ "type": t })
    } else {
        json!({ "$ref": format!("#/components/schemas/{t}") })
    }
}

fn error_response(desc: &str) -> Value {
    json!({
        "description": desc,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } }
    })
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (method, path, summary, req, resp, status) in all_ops() {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let ok = match resp {
            Some(r) => json!({
                "description": "success",
                "content": { "application/json": { "schema": type_schema(&format!("#{r}")) } }
            }),
            None => json!({ "description": "success" }),
        };
        let mut op = json!({
            "summary": summary,
            "x-vault-action": super::route_access::action_of(method, path),
            "operationId": format!("{}{}", method.to_ascii_lowercase(), path.replace(['/', '{', '}', '-', '.'], "_")),
            "parameters": params,
            "responses": {
                status.to_string(): ok,
                "400": error_response("invalid request"),
                "401": error_response("no or invalid token"),
                "403": error_response("not allowed"),
                "404": error_response("not found"),
                "409": error_response("conflict (e.g. stale cas)"),
                "429": error_response("too many failed logins"),
                "500": error_response("internal or integrity error"),
                "503": error_response("sealed"),
            },
        });
        if let Some(r) = req
            && let Some(o) = op.as_object_mut()
        {
            o.insert(
                "requestBody".into(),
                json!({ "required": true, "content": { "application/json": { "schema": type_schema(&format!("#{r}")) } } }),
            );
        }
        if let Some(entry) = paths
            .entry(path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
        {
            entry.insert(method.to_ascii_lowercase(), op);
        }
    }
    let schemas: Map<String, Value> = all_schemas()
        .map(|(name, fields)| {
            let props: Map<String, Value> = fields
                .iter()
                .map(|(f, t)| (f.to_string(), type_schema(t)))
                .collect();
            (
                name.to_string(),
                json!({ "type": "object", "properties": props }),
            )
        })
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": { "title": "vault", "version": env!("CARGO_PKG_VERSION") },
        "components": {
            "schemas": schemas,
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } }
        },
        "security": [ { "bearer": [] } ],
        "paths": paths,
    })
}

/// `GET /v1/openapi.json`.
pub async fn serve() -> Json<Value> {
    Json(document())
}

fn all_ops() -> impl Iterator<Item = &'static Op> {
    OPS.iter().chain(super::identity::OPS)
}

fn all_schemas()
-> impl Iterator<Item = &'static (&'static str, &'static [(&'static str, &'static str)])> {
    SCHEMAS.iter().chain(super::identity::SCHEMAS)
}

fn all_routes() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    ROUTES.iter().chain(super::identity::ROUTES)
}

/// Routes described here and routes served must be the same set.
pub fn undocumented() -> Vec<String> {
    let mut missing: Vec<String> = all_routes()
        .filter(|(m, p)| !all_ops().any(|o| o.0 == *m && o.1 == *p))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    missing.extend(
        all_ops()
            .filter(|o| !all_routes().any(|(m, p)| o.0 == *m && o.1 == *p))
            .map(|o| format!("documented but not routed: {} {}", o.0, o.1)),
    );
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented() {
        assert_eq!(undocumented(), Vec::<String>::new());
        let doc = document();
        for (m, p) in all_routes() {
            assert!(
                doc["paths"][p][m.to_ascii_lowercase()].is_object(),
                "{m} {p}"
            );
        }
    }

    #[test]
    fn every_schema_reference_resolves() {
        let doc = document().to_string();
        for part in doc.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(
                all_schemas().any(|(n, _)| *n == name),
                "missing schema {name}"
            );
        }
    }
}
