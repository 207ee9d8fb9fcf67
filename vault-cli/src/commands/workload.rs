//! Workload identity in the CLI (docs/ci.md): get this CI job's or pod's
//! identity token from its platform, trade it for a short service token
//! (`vault login --workload`, `vault run --workload`), and manage the roles
//! (`vault workload roles`).
//!
//! Where the token comes from, first that applies: `--jwt-env VAR`,
//! `--jwt-file PATH`, GitHub Actions (`ACTIONS_ID_TOKEN_REQUEST_URL` and
//! `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, asking for the issuer's audience), the
//! Kubernetes service-account token file (only with `--workload` given).

use std::collections::BTreeMap;
use std::time::Duration;

use ureq::http::Method;
use vault_core::api::{
    CreateWorkloadRole, CreatedServiceToken, WorkloadIssuerList, WorkloadLogin, WorkloadRole,
    WorkloadRoleList,
};
use vault_core::secret::SecretText;

use crate::cli::{WorkloadArgs, WorkloadCommand, WorkloadRolesCommand};
use crate::client::Client;
use crate::commands::Ctx;
use crate::commands::audit::encode_query;
use crate::config::Settings;
use crate::error::{CliError, CliResult, exit};
use crate::output::{self, Format, Table};

/// The projected service-account token of a Kubernetes pod.
pub const K8S_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The issuer and role to use: the flags, else `.vault.toml`'s `[workload]`;
/// `None` when neither names one.
pub fn wanted(args: &WorkloadArgs, settings: &Settings) -> Option<(String, String)> {
    match (&args.workload, &args.role) {
        (Some(i), Some(r)) => Some((i.clone(), r.clone())),
        _ => settings
            .workload
            .as_ref()
            .map(|w| (w.issuer.clone(), w.role.clone())),
    }
}

/// Trades the job's identity token for a service token at `client`'s
/// server (an unauthenticated client is enough).
pub fn exchange(
    client: &Client,
    args: &WorkloadArgs,
    issuer: &str,
    role: &str,
) -> CliResult<CreatedServiceToken> {
    let jwt = identity_token(client, args, issuer)?;
    client
        .send(
            Method::POST,
            "/v1/auth/workload/login",
            &WorkloadLogin {
                issuer: issuer.to_owned(),
                role: role.to_owned(),
                jwt,
            },
        )
        .map_err(|e| {
            // A refusal's message ends with the reason code; the generic
            // "run vault login" hint would be wrong advice in CI.
            let refused = crate::commands::identity::status_of(&e).is_some();
            let e = e.context(format!("workload login as {issuer}/{role} failed"));
            if !refused {
                return e;
            }
            e.hint(
                "the message ends with the reason code; docs/ci.md \"Troubleshooting by \
                     reason code\" says what to do (the audit record has the token's claim values)",
            )
        })
}

fn identity_token(client: &Client, args: &WorkloadArgs, issuer: &str) -> CliResult<SecretText> {
    if let Some(var) = &args.jwt_env {
        return env(var).map(SecretText::new).ok_or_else(|| {
            CliError::new(format!(
                "the environment variable {var} is empty or not set"
            ))
            .hint("on GitLab, declare it under `id_tokens:` in the job (docs/ci.md)")
        });
    }
    if let Some(path) = &args.jwt_file {
        return read_token_file(path);
    }
    if let (Some(url), Some(request_token)) = (
        env("ACTIONS_ID_TOKEN_REQUEST_URL"),
        env("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        let audience = match &args.audience {
            Some(a) => a.clone(),
            None => {
                let list: WorkloadIssuerList = client.get("/v1/auth/workload/issuers")?;
                list.issuers
                    .into_iter()
                    .find(|i| i.name == issuer)
                    .and_then(|i| i.audiences.into_iter().next())
                    .ok_or_else(|| {
                        CliError::new(format!("the server has no workload issuer {issuer:?}"))
                            .hint("see GET /v1/auth/workload/issuers, or ask an administrator")
                    })?
            }
        };
        return github_token(&url, &request_token, &audience);
    }
    // The pod's service-account token is also a credential for the
    // cluster's API: sent only when --workload was given on the command
    // line, never because a repository's .vault.toml asked.
    let k8s = std::path::Path::new(K8S_TOKEN_FILE);
    if args.workload.is_some() && k8s.exists() {
        return read_token_file(k8s);
    }
    Err(CliError::new("no workload identity token found").hint(
        "on GitHub Actions give the job `permissions: id-token: write`; on GitLab use --jwt-env \
         with the variable of `id_tokens:`; on Kubernetes mount the service-account token or pass \
         --jwt-file",
    ))
}

fn read_token_file(path: &std::path::Path) -> CliResult<SecretText> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::new(format!(
            "cannot read the identity token file {}",
            path.display()
        ))
        .source(e)
    })?;
    Ok(SecretText::new(text.trim().to_owned()))
}

/// GitHub Actions' ID token for `audience` (the job needs
/// `permissions: id-token: write`).
fn github_token(url: &str, request_token: &str, audience: &str) -> CliResult<SecretText> {
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!("{url}{sep}audience={}", encode_query(audience));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut r = agent
        .get(&full)
        .header("authorization", &format!("bearer {request_token}"))
        .header("accept", "application/json")
        .call()
        .map_err(|e| {
            CliError::new("cannot reach GitHub's ID-token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL)")
                .source(e)
        })?;
    if r.status() != 200 {
        return Err(CliError::new(format!(
            "GitHub's ID-token endpoint answered {}",
            r.status()
        ))
        .hint("the job needs `permissions: id-token: write`"));
    }
    let v: serde_json::Value = r.body_mut().read_json().map_err(|e| {
        CliError::new("GitHub's ID-token endpoint answered something else than JSON").source(e)
    })?;
    v["value"]
        .as_str()
        .map(|s| SecretText::new(s.to_owned()))
        .ok_or_else(|| CliError::new("GitHub's ID-token answer has no `value`"))
}

/// `vault workload ...`.
pub fn run(cmd: WorkloadCommand, ctx: &Ctx) -> CliResult<u8> {
    let (_, client) = ctx.connect(None, None)?;
    let WorkloadCommand::Roles(cmd) = cmd;
    match cmd {
        WorkloadRolesCommand::List { output: out } => {
            let l: WorkloadRoleList = client.get("/v1/workload/roles")?;
            if out.format == Format::Json {
                return output::json(&l).map(|()| 0);
            }
            let mut t = Table::new(&[
                "ISSUER",
                "ROLE",
                "BOUND CLAIMS",
                "SCOPE",
                "ACTIONS",
                "TTL",
                "SOURCE",
            ]);
            for r in &l.roles {
                t.row(vec![
                    r.issuer.clone(),
                    r.name.clone(),
                    r.bound_claims
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                    r.scope.clone(),
                    r.actions.join(","),
                    format!("{}s", r.ttl_secs),
                    r.source.clone(),
                ]);
            }
            t.print("no workload roles (see docs/ci.md)")?;
        }
        WorkloadRolesCommand::Create {
            issuer,
            name,
            claims,
            glob,
            scope,
            actions,
            ttl,
            output: out,
        } => {
            let mut bound = BTreeMap::new();
            for c in &claims {
                let (k, v) = c.split_once('=').ok_or_else(|| {
                    CliError::new(format!("--claim {c:?} is not NAME=VALUE")).code(exit::USAGE)
                })?;
                bound.insert(k.to_owned(), v.to_owned());
            }
            let ttl_secs = ttl
                .as_deref()
                .map(crate::commands::identity::parse_duration)
                .transpose()?;
            let r: WorkloadRole = client.send(
                Method::POST,
                "/v1/workload/roles",
                &CreateWorkloadRole {
                    issuer,
                    name,
                    bound_claims: bound,
                    bound_claims_glob: glob,
                    scope,
                    actions,
                    ttl_secs,
                },
            )?;
            if out.format == Format::Json {
                return output::json(&r).map(|()| 0);
            }
            output::note(&format!(
                "workload role {}/{} made: tokens for {} ({}) for {}s",
                r.issuer,
                r.name,
                r.scope,
                r.actions.join(","),
                r.ttl_secs
            ));
        }
        WorkloadRolesCommand::Delete { issuer, name } => {
            client.call_empty(
                Method::DELETE,
                &format!(
                    "/v1/workload/roles/{}/{}",
                    encode_query(&issuer),
                    encode_query(&name)
                ),
            )?;
            output::note(&format!("workload role {issuer}/{name} deleted"));
        }
    }
    Ok(0)
}
