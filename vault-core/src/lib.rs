//! # vault-core
//!
//! The pure heart of the vault, shared by `vault-server` and the `vault` CLI.
//! It does no I/O and runs no async runtime: everything here is a function of
//! its inputs, plus the operating system's random number generator inside
//! [`crypto`] (nonces and keys are never chosen by callers).
//!
//! - [`crypto`]: the key hierarchy (root key → per-project KEKs → one data key
//!   per secret version) and envelope encryption with AES-256-GCM, rotation,
//!   rewrap, unseal protection (Shamir, passphrase, key file) and password
//!   hashing.
//! - [`secret`]: types for secret material that zeroize on drop and never print.
//! - [`names`]: validated names (projects, environments, secrets); a value of
//!   these types is valid by construction.
//! - [`clock`]: the one place that reads the system clock.
//! - [`audit`]: the tamper-evident audit chain (hash chain + signed checkpoints).
//! - [`access`]: permissions, roles, scope patterns and the access decision.
//! - [`identity`]: normalized usernames and the password policy.
//! - [`session`]: session lifetimes and login throttling.
//! - [`sso`]: single sign-on rules: safe `return_to`, outbound address
//!   checks, PKCE S256, new-user names, group-to-role bindings, refusal codes.
//! - [`workload`]: workload identity (CI and Kubernetes JWTs): accepted
//!   algorithms, bound-claim matching, token age, names, refusal codes.
//! - [`api`]: the JSON wire types of the HTTP API, so server and CLI agree by
//!   construction.

pub mod access;
pub mod alerts;
pub mod api;
pub mod audit;
pub mod clock;
pub mod compliance;
pub mod crypto;
pub mod identity;
pub mod names;
pub mod quota;
pub mod secret;
pub mod session;
pub mod sso;
pub mod workload;
