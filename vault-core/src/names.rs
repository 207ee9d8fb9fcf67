//! Validated names. A value of these types exists only if it is valid, so the
//! rest of the code never re-checks (parse, don't validate).
//!
//! Project and environment names are lowercase (`[a-z0-9][a-z0-9_-]{0,62}`):
//! one spelling per name, so `DEMO` can never alias `demo`, and no `.`, `/`,
//! `%` or control character can reach an access decision. Secret names are
//! environment-variable names (`[A-Za-z_][A-Za-z0-9_]*`, at most 255 bytes).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("{kind} name is empty")]
    Empty {
        /// What kind of name.
        kind: &'static str,
    },
    /// The name is too long.
    #[error("{kind} name is longer than {max} characters")]
    TooLong {
        /// What kind of name.
        kind: &'static str,
        /// The limit.
        max: usize,
    },
    /// The name has a character outside its alphabet.
    #[error("{kind} name {shown:?} is not valid: {rule}")]
    Invalid {
        /// What kind of name.
        kind: &'static str,
        /// The name, with anything unprintable escaped.
        shown: String,
        /// The rule it breaks.
        rule: &'static str,
    },
}

fn shown(s: &str) -> String {
    s.chars().take(80).flat_map(char::escape_default).collect()
}

fn check_slug(kind: &'static str, s: &str) -> Result<(), NameError> {
    const MAX: usize = 63;
    const RULE: &str =
        "use lowercase letters, digits, '-' and '_', starting with a letter or digit";
    if s.is_empty() {
        return Err(NameError::Empty { kind });
    }
    if s.len() > MAX {
        return Err(NameError::TooLong { kind, max: MAX });
    }
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(NameError::Invalid {
            kind,
            shown: shown(s),
            rule: RULE,
        })
    }
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $kind:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $ty(String);

        impl $ty {
            /// Parses and validates a name.
            pub fn parse(s: &str) -> Result<Self, NameError> {
                let check: fn(&str) -> Result<(), NameError> = $check;
                check(s)?;
                Ok(Self(s.to_owned()))
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $ty {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, NameError> {
                let check: fn(&str) -> Result<(), NameError> = $check;
                check(&s)?;
                Ok(Self(s))
            }
        }

        impl From<$ty> for String {
            fn from(n: $ty) -> String {
                n.0
            }
        }

        impl std::str::FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($ty), self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

name_type!(
    /// A project name, e.g. `payments`.
    ProjectName,
    "project",
    |s| check_slug("project", s)
);

name_type!(
    /// An environment name inside a project, e.g. `prod`.
    EnvName,
    "environment",
    |s| check_slug("environment", s)
);

name_type!(
    /// A secret name: an environment-variable name such as `DATABASE_URL`.
    SecretName,
    "secret",
    check_secret_name
);

fn check_secret_name(s: &str) -> Result<(), NameError> {
    const KIND: &str = "secret";
    const MAX: usize = 255;
    if s.is_empty() {
        return Err(NameError::Empty { kind: KIND });
    }
    if s.len() > MAX {
        return Err(NameError::TooLong {
            kind: KIND,
            max: MAX,
        });
    }
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(NameError::Invalid {
            kind: KIND,
            shown: shown(s),
            rule: "secret names are environment-variable names: letters, digits and '_', not starting with a digit",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_good_names() {
        for n in ["demo", "payments-eu", "a", "0ops", "dev_2"] {
            ProjectName::parse(n).unwrap();
            EnvName::parse(n).unwrap();
        }
        for n in ["DATABASE_URL", "_X", "a1"] {
            SecretName::parse(n).unwrap();
        }
    }

    #[test]
    fn rejects_traversal_case_and_lookalikes() {
        for n in [
            "",
            "..",
            ".",
            "demo/prod",
            "DEMO",
            "Demo",
            "%2e%2e",
            "dev\n",
            "-x",
            "dеmo", /* Cyrillic е */
            "demo prod",
            "ﬁle",
        ] {
            assert!(ProjectName::parse(n).is_err(), "{n:?} accepted");
        }
        for n in ["", "1ABC", "A-B", "A.B", "A B", "É", "X\0"] {
            assert!(SecretName::parse(n).is_err(), "{n:?} accepted");
        }
        assert!(SecretName::parse(&"A".repeat(256)).is_err());
        assert!(ProjectName::parse(&"a".repeat(64)).is_err());
    }

    #[test]
    fn error_escapes_control_characters() {
        let e = ProjectName::parse("a\u{1b}[31m").unwrap_err().to_string();
        assert!(!e.contains('\u{1b}'));
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<SecretName>("\"OK_1\"").is_ok());
        assert!(serde_json::from_str::<SecretName>("\"no-dash\"").is_err());
    }

    proptest! {
        #[test]
        fn parse_is_total(s in ".*") {
            let _ = ProjectName::parse(&s);
            let _ = SecretName::parse(&s);
        }
    }
}
