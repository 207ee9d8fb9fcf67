//! Where the login token is kept between commands.
//!
//! [`TokenStore`] is the seam `vault login`/`logout` (identity issue) plug
//! into. Tokens are keyed by server address, so one machine can hold
//! sessions on several servers. `VAULT_TOKEN`, when set, always wins over
//! any store.
//!
//! [`default_store`] picks, unless `VAULT_TOKEN_STORE` says otherwise
//! (`keyring` or `file`):
//!
//! 1. the OS keyring when one is available: on Linux the kernel's per-user
//!    persistent keyring ([`kernel::KernelKeyringStore`], what Kerberos uses
//!    for tickets: never on disk, kept across logins, dropped after a reboot
//!    or days unused);
//! 2. otherwise [`file::FileTokenStore`]: `$XDG_CONFIG_HOME/vault/tokens.json`
//!    (default `~/.config/vault/tokens.json`), `0600` in a `0700`
//!    directory, written atomically, refused when others could read it.

pub mod file;
#[cfg(target_os = "linux")]
pub mod kernel;

use std::path::{Path, PathBuf};

use vault_core::secret::SecretText;

use crate::error::{CliError, CliResult};

/// A place that keeps one token per server address.
pub trait TokenStore {
    /// Says where tokens go, for messages (`"file ~/.config/vault/tokens.json"`).
    fn describe(&self) -> String;
    /// The token for `address`, if one is stored.
    fn load(&self, address: &str) -> CliResult<Option<SecretText>>;
    /// Stores `token` for `address`, replacing any previous one.
    fn save(&self, address: &str, token: &SecretText) -> CliResult<()>;
    /// Forgets the token for `address`; true if there was one.
    fn delete(&self, address: &str) -> CliResult<bool>;
}

/// The store for this machine: `VAULT_TOKEN_STORE` (`keyring` or `file`)
/// if set, else the OS keyring when available, else the file.
pub fn default_store(env: &dyn Fn(&str) -> Option<String>) -> CliResult<Box<dyn TokenStore>> {
    let file = || -> CliResult<Box<dyn TokenStore>> {
        Ok(Box::new(file::FileTokenStore::new(
            config_dir(env)?.join("tokens.json"),
        )))
    };
    match env("VAULT_TOKEN_STORE")
        .as_deref()
        .filter(|v| !v.is_empty())
    {
        Some("file") => file(),
        Some("keyring") => os_keyring().ok_or_else(|| {
            CliError::new("VAULT_TOKEN_STORE=keyring but no OS keyring is available here")
                .hint("unset VAULT_TOKEN_STORE (or set it to `file`) to use the 0600 token file")
        }),
        Some(other) => Err(CliError::new(format!(
            "VAULT_TOKEN_STORE={:?} is not a token store",
            other.escape_default().to_string()
        ))
        .hint("use `keyring` or `file`, or unset it")),
        None => match os_keyring() {
            Some(k) => Ok(k),
            None => file(),
        },
    }
}

/// The OS keyring, when this system has one we can use.
fn os_keyring() -> Option<Box<dyn TokenStore>> {
    #[cfg(target_os = "linux")]
    {
        kernel::KernelKeyringStore::open().map(|k| Box::new(k) as Box<dyn TokenStore>)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// `$XDG_CONFIG_HOME/vault`, or `$HOME/.config/vault`.
pub fn config_dir(env: &dyn Fn(&str) -> Option<String>) -> CliResult<PathBuf> {
    if let Some(x) = env("XDG_CONFIG_HOME").filter(|x| Path::new(x).is_absolute()) {
        return Ok(PathBuf::from(x).join("vault"));
    }
    match env("HOME").filter(|h| !h.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".config").join("vault")),
        None => Err(CliError::new("cannot find a config directory")
            .hint("set HOME or XDG_CONFIG_HOME, or use VAULT_TOKEN")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_dir_prefers_xdg() {
        let env = |k: &str| match k {
            "XDG_CONFIG_HOME" => Some("/x/cfg".to_owned()),
            "HOME" => Some("/home/u".to_owned()),
            _ => None,
        };
        assert_eq!(config_dir(&env).unwrap(), PathBuf::from("/x/cfg/vault"));
        let env = |k: &str| (k == "HOME").then(|| "/home/u".to_owned());
        assert_eq!(
            config_dir(&env).unwrap(),
            PathBuf::from("/home/u/.config/vault")
        );
    }

    #[test]
    fn the_store_can_be_chosen() {
        let d = tempfile::tempdir().unwrap();
        let home = d.path().to_str().unwrap().to_owned();
        let env = |k: &str| match k {
            "VAULT_TOKEN_STORE" => Some("file".to_owned()),
            "HOME" => Some(home.clone()),
            _ => None,
        };
        assert!(default_store(&env).unwrap().describe().starts_with("file "));
        let env = |k: &str| (k == "VAULT_TOKEN_STORE").then(|| "vault".to_owned());
        assert!(default_store(&env).is_err());
    }
}
