//! Password hashing: Argon2id, PHC strings, constant-time verification.
//!
//! Hashing is slow by design (about 45 ms with the default parameters on the
//! reference machine): callers run it off the async runtime and cap how many
//! run at once.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use super::CryptoError;
use crate::secret::SecretText;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    m_kib: u32,
    t: u32,
    p: u32,
}

impl PasswordParams {
    /// OWASP's recommendation: m = 19 MiB, t = 2, p = 1. The default.
    pub const fn owasp() -> Self {
        Self {
            m_kib: 19 * 1024,
            t: 2,
            p: 1,
        }
    }

    /// Cheap parameters for tests only: never use them for real passwords.
    pub const fn danger_weak_for_tests() -> Self {
        Self {
            m_kib: 64,
            t: 1,
            p: 1,
        }
    }

    fn hasher(self) -> Result<Argon2<'static>, CryptoError> {
        let params = Params::new(self.m_kib, self.t, self.p, None)
            .map_err(|_| CryptoError::InvalidParameter("argon2 parameters".into()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self::owasp()
    }
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=...`) with a fresh salt.
pub fn hash_password(password: &SecretText, params: PasswordParams) -> Result<String, CryptoError> {
    let hash: PasswordHash = params
        .hasher()?
        .hash_password(password.expose_secret().as_bytes())
        .map_err(|_| CryptoError::InvalidParameter("password hashing failed".into()))?;
    Ok(hash.to_string())
}

/// Checks a password against a stored PHC string (parameters come from the
/// string). False for a wrong password or an unreadable hash.
pub fn verify_password(password: &SecretText, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.expose_secret().as_bytes(), &parsed)
        .is_ok()
}

/// True when `phc` was not made by Argon2id with exactly `params` (older or
/// other parameters, another algorithm, or an unreadable string), so a
/// successful login should store a fresh hash (OWASP Password Storage Cheat
/// Sheet, "upgrading the work factor").
pub fn needs_rehash(phc: &str, params: PasswordParams) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    let Ok(stored) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm != Algorithm::Argon2id.ident()
        || stored.m_cost() != params.m_kib
        || stored.t_cost() != params.t
        || stored.p_cost() != params.p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rehash_only_when_parameters_differ() {
        let pw = SecretText::new("correct horse battery staple".into());
        let weak = PasswordParams::danger_weak_for_tests();
        let phc = hash_password(&pw, weak).unwrap();
        assert!(!needs_rehash(&phc, weak));
        assert!(needs_rehash(&phc, PasswordParams::owasp()));
        assert!(needs_rehash("not a phc string", weak));
    }

    #[test]
    fn hash_and_verify() {
        let pw = SecretText::from("a long enough passphrase");
        let phc = hash_password(&pw, PasswordParams::danger_weak_for_tests()).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(!phc.contains("passphrase"));
        assert!(verify_password(&pw, &phc));
        assert!(!verify_password(
            &SecretText::from("a long enough passphrasE"),
            &phc
        ));
        assert!(!verify_password(&pw, "garbage"));
        let again = hash_password(&pw, PasswordParams::danger_weak_for_tests()).unwrap();
        assert_ne!(again, phc, "salt must be fresh");
    }

    #[test]
    fn owasp_parameters_are_the_default() {
        let pw = SecretText::from("another long passphrase");
        let phc = hash_password(&pw, PasswordParams::default()).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(&pw, &phc));
    }
}
