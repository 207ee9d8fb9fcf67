//! The child's environment: merge the sources' bundles, check the required
//! and `--only` names, strip the vault's own credentials, and apply
//! `--preserve-env`. Pure functions, so every rule is unit-tested.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;

use vault_core::names::SecretName;
use vault_core::secret::SecretText;

use crate::config::{Merge, Source};
use crate::error::{CliError, CliResult};

/// Inherited variables that are the vault's own credentials: never passed
/// to the child (unless a secret of that name is injected on purpose).
pub fn is_vault_credential(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("VAULT_") else {
        return false;
    };
    [
        "TOKEN",
        "PASSWORD",
        "PASSPHRASE",
        "SECRET",
        "SHARE",
        "UNSEAL",
    ]
    .iter()
    .any(|w| rest.contains(w))
}

/// Which inherited values win over secrets of the same name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Preserve {
    /// Secrets override inherited variables (the default).
    #[default]
    Nothing,
    /// Every inherited variable wins.
    All,
    /// These inherited variables win.
    Names(BTreeSet<String>),
}

impl Preserve {
    /// From `--preserve-env[=A,B]`: absent → nothing; no list → all.
    pub fn from_flag(flag: Option<&[String]>) -> Self {
        match flag {
            None => Self::Nothing,
            Some(list) => {
                let names: BTreeSet<String> =
                    list.iter().filter(|n| !n.is_empty()).cloned().collect();
                if names.is_empty() {
                    Self::All
                } else {
                    Self::Names(names)
                }
            }
        }
    }

    fn keeps(&self, name: &str) -> bool {
        match self {
            Self::Nothing => false,
            Self::All => true,
            Self::Names(n) => n.contains(name),
        }
    }
}

/// A secret with the source it came from (`Debug` redacts the value).
#[derive(Debug)]
pub struct Resolved {
    /// The value.
    pub value: SecretText,
    /// `project/environment`.
    pub origin: String,
}

/// Merges the bundles of `sources` (in order) under their prefixes.
pub fn merge(
    bundles: Vec<(Source, BTreeMap<String, SecretText>)>,
    policy: Merge,
) -> CliResult<BTreeMap<String, Resolved>> {
    let mut out: BTreeMap<String, Resolved> = BTreeMap::new();
    for (source, secrets) in bundles {
        let origin = format!("{}/{}", source.project, source.environment);
        for (name, value) in secrets {
            let full = format!("{}{name}", source.prefix);
            if let Some(prev) = out.get(&full)
                && policy == Merge::Error
            {
                return Err(CliError::new(format!(
                    "{full} is defined by two sources ({} and {origin}); the command was not started",
                    prev.origin
                ))
                .hint("give one source a `prefix`, or set `merge = \"later-wins\"` in .vault.toml to let later sources override"));
            }
            out.insert(
                full,
                Resolved {
                    value,
                    origin: origin.clone(),
                },
            );
        }
    }
    Ok(out)
}

/// What `vault run` was asked to do with names.
#[derive(Debug, Default)]
pub struct Options {
    /// `--preserve-env`.
    pub preserve: Preserve,
    /// `--only`.
    pub only: Option<Vec<SecretName>>,
    /// `required` in `.vault.toml`.
    pub required: Vec<SecretName>,
    /// Where the required list came from (for the hint).
    pub required_from: Option<String>,
    /// Sources, as `p/e` text (for messages).
    pub scope: String,
}

/// Builds the child's environment from the inherited one and the secrets.
/// Fails (naming the names) when a required or `--only` name is missing, or
/// a value cannot be put in an environment (a NUL byte).
pub fn child_env(
    inherited: impl IntoIterator<Item = (OsString, OsString)>,
    secrets: &BTreeMap<String, Resolved>,
    opts: &Options,
) -> CliResult<Vec<(OsString, OsString)>> {
    let missing: Vec<&str> = opts
        .required
        .iter()
        .map(SecretName::as_str)
        .filter(|n| !secrets.contains_key(*n))
        .collect();
    if !missing.is_empty() {
        let from = opts.required_from.as_deref().unwrap_or(".vault.toml");
        return Err(CliError::new(format!(
            "required secret{} missing from {}: {}; the command was not started",
            if missing.len() == 1 { "" } else { "s" },
            opts.scope,
            missing.join(", ")
        ))
        .hint(format!(
            "add {} with `vault secrets set NAME -p PROJECT -e ENV`, or remove {} from `required` in {from}",
            if missing.len() == 1 { "it" } else { "them" },
            if missing.len() == 1 { "it" } else { "them" },
        )));
    }
    let selected: Vec<(&str, &Resolved)> = match &opts.only {
        None => secrets.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        Some(only) => {
            let absent: Vec<&str> = only
                .iter()
                .map(SecretName::as_str)
                .filter(|n| !secrets.contains_key(*n))
                .collect();
            if !absent.is_empty() {
                return Err(CliError::new(format!(
                    "--only names secrets that {} does not have: {}; the command was not started",
                    opts.scope,
                    absent.join(", ")
                ))
                .hint("list what exists with `vault secrets list -p PROJECT -e ENV`"));
            }
            only.iter()
                .filter_map(|n| secrets.get_key_value(n.as_str()))
                .map(|(k, v)| (k.as_str(), v))
                .collect()
        }
    };
    let mut env: BTreeMap<OsString, OsString> = inherited
        .into_iter()
        .filter(|(k, _)| !k.to_str().is_some_and(is_vault_credential))
        .collect();
    for (name, secret) in selected {
        if secret.value.expose_secret().contains('\0') {
            return Err(CliError::new(format!(
                "the value of {name} ({}) contains a NUL byte and cannot be put in an environment; the command was not started",
                secret.origin
            ))
            .hint("store the value base64-encoded"));
        }
        let key = OsString::from(name);
        if env.contains_key(&key) && opts.preserve.keeps(name) {
            continue;
        }
        env.insert(key, OsString::from(secret.value.expose_secret()));
    }
    Ok(env.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use vault_core::names::{EnvName, ProjectName};

    use super::*;

    fn src(p: &str, prefix: &str) -> Source {
        Source {
            project: ProjectName::parse(p).unwrap(),
            environment: EnvName::parse("dev").unwrap(),
            prefix: prefix.to_owned(),
        }
    }

    fn bundle(pairs: &[(&str, &str)]) -> BTreeMap<String, SecretText> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), SecretText::from(*v)))
            .collect()
    }

    fn os(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn get<'a>(env: &'a [(OsString, OsString)], k: &str) -> Option<&'a str> {
        env.iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.to_str())
    }

    #[test]
    fn prefixes_and_conflicts() {
        let b = vec![
            (src("shared", "SHARED_"), bundle(&[("DB", "s")])),
            (src("api", ""), bundle(&[("DB", "a")])),
        ];
        let m = merge(b, Merge::Error).unwrap();
        assert_eq!(m["SHARED_DB"].value.expose_secret(), "s");
        assert_eq!(m["DB"].value.expose_secret(), "a");

        let clash = || {
            vec![
                (src("shared", ""), bundle(&[("DB", "s")])),
                (src("api", ""), bundle(&[("DB", "a-canary")])),
            ]
        };
        let e = merge(clash(), Merge::Error).unwrap_err();
        assert!(
            e.message()
                .contains("DB is defined by two sources (shared/dev and api/dev)")
        );
        assert!(!e.message().contains("canary"));
        let m = merge(clash(), Merge::LaterWins).unwrap();
        assert_eq!(m["DB"].value.expose_secret(), "a-canary");
    }

    #[test]
    fn credentials_are_stripped_and_secrets_override() {
        let secrets = merge(
            vec![(
                src("p", ""),
                bundle(&[("HOME", "/secret-home"), ("DB", "x")]),
            )],
            Merge::Error,
        )
        .unwrap();
        let inherited = os(&[
            ("VAULT_TOKEN", "tok"),
            ("VAULT_SERVICE_TOKEN", "tok2"),
            ("VAULT_ADDR", "http://x"),
            ("HOME", "/home/u"),
        ]);
        let env = child_env(inherited.clone(), &secrets, &Options::default()).unwrap();
        assert_eq!(get(&env, "VAULT_TOKEN"), None);
        assert_eq!(get(&env, "VAULT_SERVICE_TOKEN"), None);
        assert_eq!(get(&env, "VAULT_ADDR"), Some("http://x"));
        assert_eq!(get(&env, "HOME"), Some("/secret-home"));
        assert_eq!(get(&env, "DB"), Some("x"));

        let opts = Options {
            preserve: Preserve::from_flag(Some(&[String::new()])),
            ..Options::default()
        };
        let env = child_env(inherited.clone(), &secrets, &opts).unwrap();
        assert_eq!(get(&env, "HOME"), Some("/home/u"));
        let opts = Options {
            preserve: Preserve::from_flag(Some(&["DB".to_owned()])),
            ..Options::default()
        };
        let env = child_env(inherited, &secrets, &opts).unwrap();
        assert_eq!(get(&env, "HOME"), Some("/secret-home"));
    }

    #[test]
    fn required_and_only_fail_closed_naming_names() {
        let secrets = merge(
            vec![(src("p", ""), bundle(&[("A", "1"), ("B", "2")]))],
            Merge::Error,
        )
        .unwrap();
        let opts = Options {
            required: vec![
                SecretName::parse("A").unwrap(),
                SecretName::parse("C").unwrap(),
                SecretName::parse("D").unwrap(),
            ],
            scope: "p/dev".into(),
            ..Options::default()
        };
        let e = child_env(Vec::new(), &secrets, &opts).unwrap_err();
        assert_eq!(
            e.message(),
            "required secrets missing from p/dev: C, D; the command was not started"
        );
        assert!(e.hint_text().unwrap().contains("vault secrets set"));

        let opts = Options {
            only: Some(vec![SecretName::parse("B").unwrap()]),
            ..Options::default()
        };
        let env = child_env(Vec::new(), &secrets, &opts).unwrap();
        assert_eq!(env, os(&[("B", "2")]));
        let opts = Options {
            only: Some(vec![SecretName::parse("Z").unwrap()]),
            ..Options::default()
        };
        assert!(
            child_env(Vec::new(), &secrets, &opts)
                .unwrap_err()
                .message()
                .contains("Z")
        );
    }

    #[test]
    fn nul_in_a_value_fails_closed() {
        let secrets = merge(vec![(src("p", ""), bundle(&[("A", "x\0y")]))], Merge::Error).unwrap();
        let e = child_env(Vec::new(), &secrets, &Options::default()).unwrap_err();
        assert!(e.message().contains("A (p/dev) contains a NUL"));
    }
}
