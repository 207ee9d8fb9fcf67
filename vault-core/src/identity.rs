//! Who people are: usernames with one spelling, and the password policy.
//!
//! A username is normalized once (Unicode NFKC, then lowercase) and must then
//! be plain ASCII (`[a-z0-9._-]`, starting with a letter or digit, at most 64
//! characters). NFKC folds width and compatibility forms (`ａｌｉｃｅ` is
//! `alice`), and the ASCII rule refuses every remaining look-alike (a Cyrillic
//! `а` in `аlice`), so two accounts can never look the same.
//!
//! Passwords: at least 12 characters, no composition rules (NIST SP 800-63B),
//! at most 1024 bytes (hashing cost), and a strength estimate (zxcvbn) of at
//! least 3 of 4, counting the username and product words as known to the
//! attacker.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::secret::SecretText;

/// A normalized username.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

/// Why a username was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    /// Empty.
    #[error("the username is empty")]
    Empty,
    /// Longer than 64 characters.
    #[error("the username is longer than 64 characters")]
    TooLong,
    /// Outside the allowed alphabet after normalization.
    #[error(
        "username {0:?} is not allowed: use letters a-z, digits, '.', '_' and '-', starting with a letter or digit"
    )]
    Invalid(String),
}

impl Username {
    /// Normalizes and validates.
    pub fn parse(s: &str) -> Result<Self, UsernameError> {
        let norm: String = s.trim().nfkc().collect::<String>().to_lowercase();
        if norm.is_empty() {
            return Err(UsernameError::Empty);
        }
        if norm.chars().count() > 64 {
            return Err(UsernameError::TooLong);
        }
        let first_ok = norm
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok = norm
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
        if first_ok && rest_ok {
            Ok(Self(norm))
        } else {
            Err(UsernameError::Invalid(
                s.chars().take(64).flat_map(char::escape_default).collect(),
            ))
        }
    }

    /// `user`: the name given when nothing better can be derived.
    pub(crate) fn fallback() -> Self {
        Self("user".to_owned())
    }

    /// The normalized name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = UsernameError;
    fn try_from(s: String) -> Result<Self, UsernameError> {
        Self::parse(&s)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> String {
        u.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({:?})", self.0)
    }
}

/// Why a password was refused. Never contains the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    /// Fewer than 12 characters.
    #[error("the password is shorter than {min} characters")]
    TooShort {
        /// The minimum.
        min: usize,
    },
    /// More than 1024 bytes.
    #[error("the password is longer than {max} bytes")]
    TooLong {
        /// The maximum.
        max: usize,
    },
    /// Too easy to guess.
    #[error("the password is too easy to guess{}", .hint.as_ref().map(|h| format!(": {h}")).unwrap_or_default())]
    Weak {
        /// zxcvbn's suggestion, if any (never quotes the password).
        hint: Option<String>,
    },
}

/// Minimum password length, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Maximum password length, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Refuses a password (or passphrase) longer than [`MAX_PASSWORD_BYTES`].
/// Every path that hashes a presented password calls this first, so nobody
/// can make the server run Argon2id over megabytes (OWASP ASVS 2.1.2 caps
/// length at 128 characters or more; we allow 1,024 bytes).
///
/// # Errors
/// [`PasswordPolicyError::TooLong`].
pub fn check_password_length(password: &SecretText) -> Result<(), PasswordPolicyError> {
    if password.expose_secret().len() > MAX_PASSWORD_BYTES {
        return Err(PasswordPolicyError::TooLong {
            max: MAX_PASSWORD_BYTES,
        });
    }
    Ok(())
}

/// Checks a new password for `username` (NIST SP 800-63B 5.1.1.2: length
/// and a strength estimate instead of composition rules). `username` names
/// the account, or the purpose of a passphrase, so it cannot be the secret.
///
/// # Errors
/// Too short, too long or too easy to guess.
pub fn check_password(
    password: &SecretText,
    username: &Username,
) -> Result<(), PasswordPolicyError> {
    check_password_length(password)?;
    let pw = password.expose_secret();
    if pw.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordPolicyError::TooShort {
            min: MIN_PASSWORD_CHARS,
        });
    }
    let estimate = zxcvbn::zxcvbn(pw, &[username.as_str(), "vault", "secret", "password"]);
    if u8::from(estimate.score()) >= 3 {
        return Ok(());
    }
    let hint = estimate.feedback().and_then(|f| {
        f.warning()
            .map(|w| w.to_string())
            .or_else(|| f.suggestions().first().map(|s| s.to_string()))
    });
    Err(PasswordPolicyError::Weak { hint })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_per_name() {
        assert_eq!(Username::parse("Alice").unwrap().as_str(), "alice");
        assert_eq!(Username::parse("ＡＬＩＣＥ").unwrap().as_str(), "alice"); // fullwidth
        assert_eq!(
            Username::parse(" bob.smith ").unwrap().as_str(),
            "bob.smith"
        );
        for bad in [
            "",
            "аlice",
            "al ice",
            "al/ice",
            "-x",
            ".x",
            "al\u{200b}ice",
            "ａ\u{0301}",
            "x\0",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Username::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn password_policy() {
        let u = Username::parse("alice").unwrap();
        let check = |p: &str| check_password(&SecretText::from(p), &u);
        assert_eq!(
            check("short"),
            Err(PasswordPolicyError::TooShort { min: 12 })
        );
        assert!(matches!(
            check("passwordpassword"),
            Err(PasswordPolicyError::Weak { .. })
        ));
        assert!(matches!(
            check("alice1234567"),
            Err(PasswordPolicyError::Weak { .. })
        ));
        assert!(matches!(
            check("111111111111"),
            Err(PasswordPolicyError::Weak { .. })
        ));
        assert!(check("correct horse battery staple").is_ok());
        assert!(check("tXq8-vu2!Lp9zR").is_ok());
        assert_eq!(
            check(&"x".repeat(1025)),
            Err(PasswordPolicyError::TooLong { max: 1024 })
        );
        let e = check("passwordpassword").unwrap_err().to_string();
        assert!(!e.contains("passwordpassword"));
    }
}

/// Recovery codes (issue 10): one-time codes that replace a passkey once.
/// Each is 80 random bits written as 16 characters of Crockford's base32
/// (no `I`, `L`, `O`, `U`; those typed are read as `1`, `1`, `0`, and
/// refused), in four groups: `K7QM-3XRA-...`.
/// 80 bits make a stored SHA-256 hash safe against offline guessing (NIST
/// SP 800-63B §5.1.2.2 asks for at least 64 bits of look-up secrets) and
/// online guessing is throttled like passwords.
pub mod recovery_code {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    /// How many codes a user gets.
    pub const COUNT: usize = 10;

    /// The code for 10 random bytes.
    pub fn encode(random: &[u8; 10]) -> String {
        let mut bits: u128 = 0;
        for b in random {
            bits = (bits << 8) | u128::from(*b);
        }
        let mut out = String::with_capacity(19);
        for i in 0..16 {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            let idx = ((bits >> (75 - 5 * i)) & 31) as usize;
            out.push(char::from(ALPHABET[idx]));
        }
        out
    }

    /// The canonical form of what a person typed: case, spaces and dashes
    /// do not matter, and look-alike letters are read as Crockford says.
    pub fn normalize(typed: &str) -> String {
        typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                u => u,
            })
            .collect()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn codes_are_grouped_and_typing_is_forgiving() {
            let c = encode(&[0xff; 10]);
            assert_eq!(c, "ZZZZ-ZZZZ-ZZZZ-ZZZZ");
            let z = encode(&[0; 10]);
            assert_eq!(z, "0000-0000-0000-0000");
            assert_eq!(normalize("oooo-IIII llll"), "000011111111");
            let mixed = encode(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
            assert_eq!(mixed.len(), 19);
            assert_eq!(
                normalize(&mixed.to_lowercase().replace('-', " ")),
                normalize(&mixed)
            );
            assert_ne!(encode(&[1; 10]), encode(&[2; 10]));
        }
    }
}
