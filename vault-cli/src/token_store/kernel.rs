//! The Linux kernel keyring as the OS keyring: tokens live in the user's
//! persistent keyring (persistent-keyring(7)), linked into the session
//! keyring on use. They are never written to disk, survive logout, and are
//! dropped at reboot or after the keyring goes unused for the kernel's
//! expiry (3 days by default). Like a 0600 file, any process of the same
//! user can read them. Where the kernel refuses keyrings (some container
//! sandboxes), [`KernelKeyringStore::open`] answers `None` and the file
//! store is used.

use linux_keyutils::{KeyError, KeyRing, KeyRingIdentifier};
use vault_core::secret::{SecretBytes, SecretText};

use super::TokenStore;
use crate::error::{CliError, CliResult};

/// Tokens in a kernel keyring, one key per server address.
pub struct KernelKeyringStore {
    ring: KeyRing,
    what: &'static str,
}

fn description(address: &str) -> String {
    format!("vault-cli:token:{address}")
}

fn keyring_error(action: &str, e: KeyError) -> CliError {
    CliError::new(format!("cannot {action} the token in the kernel keyring"))
        .source(e)
        .hint("set VAULT_TOKEN_STORE=file to keep the token in a 0600 file instead")
}

impl KernelKeyringStore {
    /// The user's persistent keyring, if this system lets us use it.
    pub fn open() -> Option<Self> {
        KeyRing::get_persistent(KeyRingIdentifier::Session)
            .ok()
            .map(|ring| Self {
                ring,
                what: "the kernel keyring (per user, never on disk; dropped at reboot or after a few days unused)",
            })
    }

    /// A store over this process's own keyring (tests: isolated, gone when
    /// the process ends).
    pub fn process_keyring() -> Option<Self> {
        KeyRing::from_special_id(KeyRingIdentifier::Process, true)
            .ok()
            .map(|ring| Self {
                ring,
                what: "the process keyring",
            })
    }
}

impl TokenStore for KernelKeyringStore {
    fn describe(&self) -> String {
        self.what.to_owned()
    }

    fn load(&self, address: &str) -> CliResult<Option<SecretText>> {
        let key = match self.ring.search(&description(address)) {
            Ok(k) => k,
            Err(KeyError::KeyDoesNotExist | KeyError::KeyExpired | KeyError::KeyRevoked) => {
                return Ok(None);
            }
            Err(e) => return Err(keyring_error("read", e)),
        };
        let bytes = key.read_to_vec().map_err(|e| keyring_error("read", e))?;
        SecretText::from_utf8(SecretBytes::new(bytes))
            .map(Some)
            .ok_or_else(|| {
                CliError::new("the token in the kernel keyring is not text")
                    .hint("log in again to replace it")
            })
    }

    fn save(&self, address: &str, token: &SecretText) -> CliResult<()> {
        self.ring
            .add_key(&description(address), token.expose_secret().as_bytes())
            .map(|_| ())
            .map_err(|e| keyring_error("store", e))
    }

    fn delete(&self, address: &str) -> CliResult<bool> {
        match self.ring.search(&description(address)) {
            Ok(key) => {
                key.invalidate().map_err(|e| keyring_error("delete", e))?;
                Ok(true)
            }
            Err(KeyError::KeyDoesNotExist | KeyError::KeyExpired | KeyError::KeyRevoked) => {
                Ok(false)
            }
            Err(e) => Err(keyring_error("delete", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_delete_in_a_private_keyring() {
        let Some(store) = KernelKeyringStore::process_keyring() else {
            eprintln!("skipped: the kernel refuses keyrings here");
            return;
        };
        let addr = "https://kernel-test.invalid:8200";
        assert!(store.load(addr).unwrap().is_none());
        store.save(addr, &SecretText::from("tok-1")).unwrap();
        assert_eq!(store.load(addr).unwrap().unwrap().expose_secret(), "tok-1");
        store.save(addr, &SecretText::from("tok-2")).unwrap();
        assert_eq!(store.load(addr).unwrap().unwrap().expose_secret(), "tok-2");
        assert!(store.delete(addr).unwrap());
        assert!(store.load(addr).unwrap().is_none());
        assert!(!store.delete(addr).unwrap());
    }
}
