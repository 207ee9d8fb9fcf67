//! The fallback store: a JSON file readable only by its owner.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vault_core::secret::SecretText;

use super::TokenStore;
use crate::error::{CliError, CliResult};

/// Tokens in a JSON file readable only by its owner.
pub struct FileTokenStore {
    path: PathBuf,
}

#[derive(Default, Serialize, Deserialize)]
struct TokenFile {
    #[serde(default)]
    tokens: BTreeMap<String, SecretText>,
}

impl FileTokenStore {
    /// A store at `path` (nothing is read or created yet).
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> CliResult<TokenFile> {
        let meta = match fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TokenFile::default()),
            Err(e) => {
                return Err(
                    CliError::new(format!("cannot read {}", self.path.display())).source(e),
                );
            }
        };
        if meta.mode() & 0o077 != 0 {
            return Err(CliError::new(format!(
                "refusing to use {}: other users can read it (mode {:o})",
                self.path.display(),
                meta.mode() & 0o777
            ))
            .hint(format!(
                "run `chmod 600 {}` and consider the tokens in it leaked (log in again)",
                self.path.display()
            )));
        }
        if meta.uid() != rustix::process::getuid().as_raw() {
            return Err(CliError::new(format!(
                "refusing to use {}: it belongs to another user",
                self.path.display()
            ))
            .hint("remove it, or set XDG_CONFIG_HOME to a directory you own"));
        }
        let text = fs::read_to_string(&self.path)
            .map_err(|e| CliError::new(format!("cannot read {}", self.path.display())).source(e))?;
        serde_json::from_str(&text).map_err(|_| {
            CliError::new(format!("{} is corrupt", self.path.display()))
                .hint("delete it and log in again")
        })
    }

    fn write(&self, file: &TokenFile) -> CliResult<()> {
        let dir = self
            .path
            .parent()
            .ok_or_else(|| CliError::new("token file has no parent directory"))?;
        fs::create_dir_all(dir)
            .map_err(|e| CliError::new(format!("cannot create {}", dir.display())).source(e))?;
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
        let tmp = dir.join(format!(".tokens.{}.tmp", std::process::id()));
        let _ = fs::remove_file(&tmp);
        let json = zeroize::Zeroizing::new(
            serde_json::to_vec(file).map_err(|_| CliError::new("cannot encode the token file"))?,
        );
        let result = (|| -> std::io::Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)
        })();
        result.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            CliError::new(format!("cannot write {}", self.path.display())).source(e)
        })
    }
}

impl TokenStore for FileTokenStore {
    fn describe(&self) -> String {
        format!("file {} (mode 0600)", self.path.display())
    }

    fn load(&self, address: &str) -> CliResult<Option<SecretText>> {
        Ok(self.read()?.tokens.remove(address))
    }

    fn save(&self, address: &str, token: &SecretText) -> CliResult<()> {
        let mut f = self.read()?;
        f.tokens.insert(address.to_owned(), token.clone());
        self.write(&f)
    }

    fn delete(&self, address: &str) -> CliResult<bool> {
        let mut f = self.read()?;
        let had = f.tokens.remove(address).is_some();
        if had {
            self.write(&f)?;
        }
        Ok(had)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_delete_round_trip_with_0600() {
        let d = tempfile::tempdir().unwrap();
        let store = FileTokenStore::new(d.path().join("vault/tokens.json"));
        assert!(store.load("http://a").unwrap().is_none());
        store.save("http://a", &SecretText::from("tok-a")).unwrap();
        store.save("http://b", &SecretText::from("tok-b")).unwrap();
        assert_eq!(
            store.load("http://a").unwrap().unwrap().expose_secret(),
            "tok-a"
        );
        let mode = fs::metadata(store.path()).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(d.path().join("vault")).unwrap().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        assert!(store.delete("http://a").unwrap());
        assert!(!store.delete("http://a").unwrap());
        assert!(store.load("http://a").unwrap().is_none());
        assert_eq!(
            store.load("http://b").unwrap().unwrap().expose_secret(),
            "tok-b"
        );
        assert!(store.describe().contains("0600"));
    }

    #[test]
    fn refuses_a_world_readable_file() {
        let d = tempfile::tempdir().unwrap();
        let store = FileTokenStore::new(d.path().join("tokens.json"));
        store.save("http://a", &SecretText::from("tok")).unwrap();
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o644)).unwrap();
        let e = store.load("http://a").unwrap_err();
        assert!(e.message().contains("other users can read it"));
        assert!(e.hint_text().unwrap().contains("chmod 600"));
    }
}
