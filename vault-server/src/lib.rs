//! # vault-server
//!
//! The `vault-server` binary's library: HTTP API (axum) → service layer
//! (access checks, audit) → storage (SQLite).
//!
//! - [`config`]: the TOML configuration and its environment overrides.
//! - [`http`]: routes, extractors, error mapping, OpenAPI, TLS listener.
//! - [`service`]: every operation, its access check and its audit record.
//! - [`store`]: the storage port and its SQLite backend (group commit).
//! - [`metrics`]: Prometheus counters.
//! - [`hardening`]: core dumps off, not dumpable.
//! - [`app`]: start-up and shutdown of the whole server.

pub mod app;
pub mod config;
pub mod hardening;
pub mod http;
pub mod metrics;
pub mod service;
pub mod store;
