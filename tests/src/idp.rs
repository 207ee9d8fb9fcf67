//! Real OpenID providers for the SSO tests, run with Node from `tests/idp`
//! (the test command installs their npm packages):
//!
//! - [`Idp::provider`]: `oidc-provider`, a certified OpenID provider with
//!   users alice and bob, a `groups` claim a test can change, and loopback
//!   redirect URIs for the named vault providers.
//! - [`Idp::mock`]: `oauth2-mock-server`, which issues deliberately bad ID
//!   tokens (picked by client id) for the refusal tests. It checks no PKCE,
//!   code or redirect URI, so it never stands in for the happy path.
//!
//! Each listens on a free port of 127.0.0.1 (it prints its issuer) and is
//! killed on drop.

// Test support: a broken fixture should stop the test loudly.
#![allow(clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running IdP.
pub struct Idp {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub issuer: String,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("idp")
}

impl Idp {
    /// oidc-provider, accepting callbacks for the vault providers `names`.
    pub fn provider(names: &[&str]) -> Idp {
        Self::start("provider.mjs", &[("CALLBACK_NAMES", &names.join(","))])
    }

    /// oauth2-mock-server (bad tokens by client id `tamper-*`).
    pub fn mock() -> Idp {
        Self::start("mock.mjs", &[])
    }

    /// A workload JWT issuer (`issuer.mjs`): signs tokens on request, and
    /// stands in for GitHub's ID-token endpoint at `/actions/token`, which
    /// wants `Authorization: bearer <request_token>` and hands out tokens
    /// with `github_claims` (a JSON object).
    pub fn jwt_issuer(request_token: &str, github_claims: &str) -> Idp {
        Self::start(
            "issuer.mjs",
            &[
                ("REQUEST_TOKEN", request_token),
                ("GITHUB_CLAIMS", github_claims),
            ],
        )
    }

    fn post_json(&self, path: &str, body: &serde_json::Value) -> serde_json::Value {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut r = agent
            .post(&format!("{}{path}", self.issuer))
            .send_json(body)
            .expect("issuer request");
        assert_eq!(r.status().as_u16(), 200, "{path}");
        r.body_mut().read_json().expect("issuer answer")
    }

    /// A JWT from [`Idp::jwt_issuer`]: `claims` over `iss`, `iat` = now,
    /// `exp` = now + 300; `alg` RS256, ES256 or EdDSA; `tamper` as
    /// `issuer.mjs` documents (`none`, `hmac-with-public-key`, `sig`,
    /// `unknown-kid`).
    pub fn sign(&self, claims: serde_json::Value, alg: &str, tamper: Option<&str>) -> String {
        let mut body = serde_json::json!({ "claims": claims, "alg": alg });
        if let Some(t) = tamper {
            body["tamper"] = t.into();
        }
        self.post_json("/__test/sign", &body)["jwt"]
            .as_str()
            .expect("jwt")
            .to_owned()
    }

    /// Replaces the issuer's RS256 key (a key rotation).
    pub fn rotate(&self) {
        self.post_json("/__test/rotate", &serde_json::json!({}));
    }

    fn start(script: &str, env: &[(&str, &str)]) -> Idp {
        assert!(
            dir().join("node_modules").exists(),
            "tests/idp/node_modules is missing: run `npm ci --prefix tests/idp` (scripts/test does)"
        );
        let mut cmd = Command::new("node");
        cmd.arg(dir().join(script))
            .current_dir(dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start node (is Node.js installed?)");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(i) = line.strip_prefix("ISSUER=") {
                    let _ = tx.send(i.to_owned());
                }
            }
        });
        let Ok(issuer) = rx.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            panic!("{script} did not print its issuer within 30 s");
        };
        Idp { child, issuer }
    }

    /// Sets `user`'s groups at the IdP (effective at their next login).
    pub fn set_groups(&self, user: &str, groups: &[&str]) {
        let url = format!(
            "{}/__test/groups?user={user}&groups={}",
            self.issuer,
            groups.join(",")
        );
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let r = agent.post(&url).send_empty().expect("set groups");
        assert_eq!(r.status().as_u16(), 204);
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
