//! A project's unwrapped KEKs, by version, with the active one marked.
//! Lives only in an unsealed server's memory.

use std::collections::BTreeMap;
use std::fmt;

use super::CryptoError;
use super::envelope::{Envelope, SecretContext, open, rewrap};
use super::keys::Kek;
use crate::names::ProjectName;
use crate::secret::SecretBytes;

/// The KEK versions of one project.
pub struct KeyRing {
    project: ProjectName,
    keks: BTreeMap<u32, Kek>,
    active: Option<u32>,
}

impl KeyRing {
    /// An empty ring for `project`.
    pub fn new(project: ProjectName) -> Self {
        Self {
            project,
            keks: BTreeMap::new(),
            active: None,
        }
    }

    /// The project.
    pub fn project(&self) -> &ProjectName {
        &self.project
    }

    /// Adds a KEK version (replacing one with the same version).
    pub fn insert(&mut self, kek: Kek) -> Result<(), CryptoError> {
        if kek.project() != &self.project {
            return Err(CryptoError::WrongKey("KEK belongs to another project"));
        }
        self.keks.insert(kek.version(), kek);
        Ok(())
    }

    /// Removes (and wipes) a KEK version, e.g. when it is destroyed.
    pub fn remove(&mut self, version: u32) {
        self.keks.remove(&version);
        if self.active == Some(version) {
            self.active = None;
        }
    }

    /// Marks `version` as the one all new seals use.
    pub fn set_active(&mut self, version: u32) -> Result<(), CryptoError> {
        if !self.keks.contains_key(&version) {
            return Err(CryptoError::InvalidParameter(format!(
                "no KEK version {version}"
            )));
        }
        self.active = Some(version);
        Ok(())
    }

    /// The active KEK.
    pub fn active(&self) -> Option<&Kek> {
        self.active.and_then(|v| self.keks.get(&v))
    }

    /// A KEK version.
    pub fn kek(&self, version: u32) -> Option<&Kek> {
        self.keks.get(&version)
    }

    /// Versions held, ascending.
    pub fn versions(&self) -> impl Iterator<Item = u32> + '_ {
        self.keks.keys().copied()
    }

    /// Seals under the active KEK.
    pub fn seal(&self, ctx: &SecretContext, value: &SecretBytes) -> Result<Envelope, CryptoError> {
        self.active()
            .ok_or(CryptoError::WrongKey("project has no active KEK"))?
            .seal(ctx, value)
    }

    /// Opens with whichever KEK version the envelope names.
    pub fn open(&self, ctx: &SecretContext, env: &Envelope) -> Result<SecretBytes, CryptoError> {
        let kek = self
            .keks
            .get(&env.kek_version())
            .ok_or(CryptoError::WrongKey(
                "envelope's KEK version is not available",
            ))?;
        open(kek, ctx, env)
    }

    /// Moves an envelope onto the active KEK; `None` if it is already there.
    pub fn rewrap_to_active(
        &self,
        ctx: &SecretContext,
        env: &Envelope,
    ) -> Result<Option<Envelope>, CryptoError> {
        let active = self
            .active()
            .ok_or(CryptoError::WrongKey("project has no active KEK"))?;
        if env.kek_version() == active.version() {
            return Ok(None);
        }
        let old = self
            .keks
            .get(&env.kek_version())
            .ok_or(CryptoError::WrongKey(
                "envelope's KEK version is not available",
            ))?;
        rewrap(old, active, ctx, env).map(Some)
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("project", &self.project)
            .field("versions", &self.keks.keys().collect::<Vec<_>>())
            .field("active", &self.active)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{EnvName, SecretName};

    #[test]
    fn rotation_keeps_old_versions_decryptable_and_rewraps() {
        let p = ProjectName::parse("demo").unwrap();
        let mut ring = KeyRing::new(p.clone());
        ring.insert(Kek::generate(&p, 1).unwrap()).unwrap();
        ring.set_active(1).unwrap();
        let c = SecretContext {
            project: p.clone(),
            environment: EnvName::parse("dev").unwrap(),
            name: SecretName::parse("A").unwrap(),
            version: 1,
        };
        let old = ring.seal(&c, &SecretBytes::new(b"x".to_vec())).unwrap();
        ring.insert(Kek::generate(&p, 2).unwrap()).unwrap();
        ring.set_active(2).unwrap();
        assert_eq!(
            ring.seal(&c, &SecretBytes::new(b"y".to_vec()))
                .unwrap()
                .kek_version(),
            2
        );
        assert_eq!(ring.open(&c, &old).unwrap().expose_secret(), b"x");
        let moved = ring.rewrap_to_active(&c, &old).unwrap().unwrap();
        assert_eq!(moved.kek_version(), 2);
        assert!(ring.rewrap_to_active(&c, &moved).unwrap().is_none());
        ring.remove(1);
        assert!(ring.open(&c, &old).is_err());
        assert_eq!(ring.open(&c, &moved).unwrap().expose_secret(), b"x");
        assert!(
            ring.insert(Kek::generate(&ProjectName::parse("x").unwrap(), 1).unwrap())
                .is_err()
        );
    }
}
