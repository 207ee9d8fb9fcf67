//! One module per command group. Each takes its parsed arguments and a
//! [`Ctx`] and returns the process exit code.

pub mod admin;
pub mod alerts;
pub mod audit;
pub mod completion;
pub mod compliance;
pub mod identity;
pub mod keys;
pub mod operator;
pub mod reviews;
pub mod secrets;
pub mod sso;
pub mod workload;

use std::path::PathBuf;

use vault_core::names::{EnvName, ProjectName};
use vault_core::secret::SecretText;

use crate::client::Client;
use crate::config::{self, Flags, Inputs, Settings};
use crate::error::CliResult;
use crate::token_store;

/// What every command may need: global flags, the process environment and
/// the current directory (read once in `main`, passed in).
pub struct Ctx {
    /// `--addr`.
    pub addr: Option<String>,
    /// `--cacert`.
    pub cacert: Option<PathBuf>,
    /// Current directory.
    pub cwd: PathBuf,
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Ctx {
    /// Resolves settings with these command flags.
    pub fn settings(
        &self,
        project: Option<&ProjectName>,
        environment: Option<&EnvName>,
    ) -> CliResult<Settings> {
        config::resolve(&Inputs {
            flags: Flags {
                address: self.addr.clone(),
                cacert: self.cacert.clone(),
                project: project.cloned(),
                environment: environment.cloned(),
            },
            env: &process_env,
            cwd: self.cwd.clone(),
        })
    }

    /// A client for the resolved server, authenticated with `VAULT_TOKEN`
    /// or the stored login token for that address.
    pub fn client(&self, settings: &Settings) -> CliResult<Client> {
        let address = settings.address()?;
        let token = match std::env::var("VAULT_TOKEN") {
            Ok(t) if !t.is_empty() => Some(SecretText::new(t)),
            _ => token_store::default_store(&process_env)?.load(address)?,
        };
        Client::new(address, settings.cacert.as_deref(), token.as_ref())
            .map(|c| c.with_origins(settings.origins()))
    }

    /// Whether `VAULT_TOKEN` is set or a login is stored for the server.
    pub fn has_credential(&self, settings: &Settings) -> bool {
        std::env::var("VAULT_TOKEN").is_ok_and(|t| !t.is_empty())
            || settings.address().ok().is_some_and(|a| {
                token_store::default_store(&process_env)
                    .and_then(|s| s.load(a))
                    .is_ok_and(|t| t.is_some())
            })
    }

    /// A client for the resolved server with no credential.
    pub fn anonymous(&self, settings: &Settings) -> CliResult<Client> {
        Client::new(settings.address()?, settings.cacert.as_deref(), None)
            .map(|c| c.with_origins(settings.origins()))
    }

    /// A client for the resolved server with `token`.
    pub fn with_token(&self, settings: &Settings, token: &SecretText) -> CliResult<Client> {
        Client::new(settings.address()?, settings.cacert.as_deref(), Some(token))
            .map(|c| c.with_origins(settings.origins()))
    }

    /// Settings and client in one go.
    pub fn connect(
        &self,
        project: Option<&ProjectName>,
        environment: Option<&EnvName>,
    ) -> CliResult<(Settings, Client)> {
        let s = self.settings(project, environment)?;
        let c = self.client(&s)?;
        Ok((s, c))
    }
}

/// Formats a timestamp for tables.
pub fn when(t: vault_core::clock::Timestamp) -> String {
    let s = t.to_rfc3339();
    // 2026-11-22T14:28:00.123Z -> 2026-11-22 14:28:00Z
    match (s.get(..10), s.get(11..19)) {
        (Some(d), Some(h)) => format!("{d} {h}Z"),
        _ => s,
    }
}
