//! The one integration test binary: each module drives the real
//! `vault-server` (and later the real `vault` CLI) over loopback HTTP.
//! To add tests, add a line below and a file `tests/integration/<name>.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

// An inline module makes `mod x;` resolve to `integration/x.rs`.
mod integration {
    mod access_reviews;
    mod alerts;
    mod audit;
    mod audit_trust;
    mod browser;
    mod browser_real;
    mod canary;
    mod cli_admin;
    mod cli_config;
    mod cli_identity;
    mod cli_run;
    mod cli_secrets;
    mod compliance;
    mod concurrency;
    mod connections;
    mod failclosed;
    mod identity_emergency;
    mod identity_kit;
    mod identity_login;
    mod identity_rbac;
    mod identity_routes;
    mod identity_sessions;
    mod identity_tokens;
    mod lifecycle;
    mod passkeys;
    mod passkeys_mfa;
    mod read_cache;
    mod rewrap;
    mod root_tokens;
    mod routes;
    mod secrets;
    mod sso;
    mod tamper;
    mod tls;
    mod workload;
}
