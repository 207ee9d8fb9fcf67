//! Where the CLI finds its settings: command-line flags, then the
//! environment (`VAULT_ADDR`, `VAULT_TOKEN`, `VAULT_CACERT`, `VAULT_PROJECT`,
//! `VAULT_ENV`), then a committed `.vault.toml` found by walking up from the
//! current directory.
//!
//! `.vault.toml` names the server, the project and environment, and (for
//! monorepos) several sources with optional name prefixes, plus the names an
//! app requires. It never holds a secret: a file with a field that looks like
//! one (`token`, `password`, `value`, ...) or with any unknown field is
//! refused.
//!
//! ```toml
//! address = "https://vault.example.com:8200"
//! project = "payments"
//! environment = "dev"
//! required = ["DATABASE_URL"]
//! merge = "later-wins"          # default "error": a name defined twice is refused
//!
//! [[sources]]                    # optional; default: one source = project/environment
//! project = "shared"
//! prefix = "SHARED_"
//!
//! [[sources]]
//! project = "payments"
//! environment = "dev"            # pins it; otherwise the resolved environment
//! ```
//!
//! Resolution is a pure function of its inputs ([`Inputs`]), so it is tested
//! without touching the process environment.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use vault_core::names::{EnvName, ProjectName, SecretName};

use crate::error::{CliError, CliResult};

/// The file name looked for.
pub const FILE_NAME: &str = ".vault.toml";

/// How names defined by several sources are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Merge {
    /// A name defined by two sources is an error (the default).
    #[default]
    Error,
    /// Sources are applied in the order listed; a later one overrides.
    LaterWins,
}

/// One `[[sources]]` entry as written in the file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Project (default: the resolved project).
    pub project: Option<ProjectName>,
    /// Environment (default: the resolved environment).
    pub environment: Option<EnvName>,
    /// Prefix put before every name of this source.
    #[serde(default)]
    pub prefix: Option<String>,
}

/// The parsed `.vault.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Server address.
    pub address: Option<String>,
    /// Path of a PEM CA bundle (relative to the file).
    pub cacert: Option<PathBuf>,
    /// Project.
    pub project: Option<ProjectName>,
    /// Environment.
    pub environment: Option<EnvName>,
    /// Several sources (monorepos).
    #[serde(default)]
    pub sources: Vec<SourceSpec>,
    /// Names the app needs; `vault run` refuses to start without them.
    #[serde(default)]
    pub required: Vec<SecretName>,
    /// Merge policy for names defined by several sources.
    #[serde(default)]
    pub merge: Merge,
    /// In CI: the workload issuer and role `vault run` exchanges the job's
    /// identity token with, when no `VAULT_TOKEN` or login is at hand.
    pub workload: Option<WorkloadSpec>,
}

/// `[workload]` in `.vault.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// A workload issuer configured on the server (`github`).
    pub issuer: String,
    /// One of its roles.
    pub role: String,
}

/// Field names that look like a secret value; a `.vault.toml` holding one is
/// refused outright (the file is committed to the repository).
const SECRET_LOOKING: &[&str] = &[
    "token",
    "password",
    "passwd",
    "secret",
    "value",
    "values",
    "key",
    "api_key",
    "apikey",
    "private_key",
    "credential",
    "credentials",
    "auth",
    "share",
    "passphrase",
];

impl FileConfig {
    /// Parses the text of a `.vault.toml`. The error names the offending
    /// field, never the value.
    pub fn parse(text: &str, path: &Path) -> CliResult<Self> {
        let raw: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            CliError::new(format!("{} is not valid TOML", path.display()))
                .hint(format!("line/column: {}", location(&e, text)))
        })?;
        if let Some(field) = find_secret_field(&raw) {
            return Err(CliError::new(format!(
                "{} contains a field `{field}` that looks like a secret; this file is committed and must never hold one",
                path.display()
            ))
            .hint("remove it; store values with `vault secrets set` and authenticate with `vault login` or VAULT_TOKEN"));
        }
        let cfg: FileConfig = toml::Value::Table(raw).try_into().map_err(|e: toml::de::Error| {
            CliError::new(format!("{} is not a valid vault config", path.display()))
                .hint(format!(
                    "{}; allowed fields: address, cacert, project, environment, required, merge, [[sources]] (project, environment, prefix)",
                    e.message()
                ))
        })?;
        for s in &cfg.sources {
            if let Some(p) = &s.prefix
                && !p.is_empty()
                && SecretName::parse(p).is_err()
            {
                return Err(CliError::new(format!(
                    "{}: source prefix {:?} is not a valid start of a variable name",
                    path.display(),
                    p.escape_default().to_string()
                ))
                .hint("use letters, digits and '_', not starting with a digit"));
            }
        }
        Ok(cfg)
    }
}

fn location(e: &toml::de::Error, text: &str) -> String {
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {}", e.message())
        }
        None => e.message().to_owned(),
    }
}

fn find_secret_field(table: &toml::Table) -> Option<String> {
    for (k, v) in table {
        let lower = k.to_ascii_lowercase();
        if SECRET_LOOKING.iter().any(|s| lower == *s)
            || lower.ends_with("_token")
            || lower.ends_with("_password")
            || lower.ends_with("_secret")
        {
            return Some(k.clone());
        }
        let nested = match v {
            toml::Value::Table(t) => find_secret_field(t),
            toml::Value::Array(items) => items.iter().find_map(|i| match i {
                toml::Value::Table(t) => find_secret_field(t),
                _ => None,
            }),
            _ => None,
        };
        if nested.is_some() {
            return nested;
        }
    }
    None
}

/// Finds `.vault.toml` in `start` or its nearest ancestor.
pub fn discover(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|d| d.join(FILE_NAME))
        .find(|p| p.is_file())
}

/// Flags given on the command line (highest precedence).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--addr`.
    pub address: Option<String>,
    /// `--cacert`.
    pub cacert: Option<PathBuf>,
    /// `-p/--project`.
    pub project: Option<ProjectName>,
    /// `-e/--env`.
    pub environment: Option<EnvName>,
}

/// Everything resolution reads, passed in explicitly.
pub struct Inputs<'a> {
    /// Command-line flags.
    pub flags: Flags,
    /// Reads an environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The current directory (where discovery starts).
    pub cwd: PathBuf,
}

/// A source of secrets for `vault run` / export: one project/environment
/// bundle, with a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Project.
    pub project: ProjectName,
    /// Environment.
    pub environment: EnvName,
    /// Prefix added to every name.
    pub prefix: String,
}

/// The resolved settings (no token: see [`crate::token_store`]).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Server address, without trailing slash.
    pub address: Option<String>,
    /// CA bundle to trust.
    pub cacert: Option<PathBuf>,
    /// Project.
    pub project: Option<ProjectName>,
    /// Environment.
    pub environment: Option<EnvName>,
    /// `[[sources]]` of the file (unresolved).
    pub source_specs: Vec<SourceSpec>,
    /// Whether `-p`/`VAULT_PROJECT` replaced the file's project (then the
    /// file's sources are ignored).
    pub project_overridden: bool,
    /// Required names.
    pub required: Vec<SecretName>,
    /// Merge policy.
    pub merge: Merge,
    /// `[workload]` of the `.vault.toml`.
    pub workload: Option<WorkloadSpec>,
    /// The `.vault.toml` used, if any.
    pub file: Option<PathBuf>,
    /// Where [`Settings::address`] came from (`--addr`, `VAULT_ADDR`, or
    /// the file), for hints.
    pub address_from: Option<String>,
    /// Where [`Settings::cacert`] came from, for hints.
    pub cacert_from: Option<String>,
}

fn env_name<T: std::str::FromStr<Err = vault_core::names::NameError>>(
    env: &dyn Fn(&str) -> Option<String>,
    var: &str,
) -> CliResult<Option<T>> {
    match env(var).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<T>().map(Some).map_err(|e| {
            CliError::new(format!("{var} is not valid"))
                .source(e)
                .hint(format!("fix or unset {var}"))
        }),
    }
}

/// Resolves flags > environment > `.vault.toml`.
pub fn resolve(inputs: &Inputs<'_>) -> CliResult<Settings> {
    let env = inputs.env;
    let file_path = discover(&inputs.cwd);
    let file = match &file_path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| CliError::new(format!("cannot read {}", p.display())).source(e))?;
            FileConfig::parse(&text, p)?
        }
        None => FileConfig::default(),
    };
    let env_project: Option<ProjectName> = env_name(env, "VAULT_PROJECT")?;
    let env_environment: Option<EnvName> = env_name(env, "VAULT_ENV")?;
    let project_overridden = inputs.flags.project.is_some() || env_project.is_some();
    let base_dir = file_path
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf);
    let file_cacert = file.cacert.map(|c| match &base_dir {
        Some(d) if c.is_relative() => d.join(c),
        _ => c,
    });
    let in_file = |key: &str| {
        file_path
            .as_ref()
            .map(|p| format!("`{key}` in {}", p.display()))
    };
    let env_addr = env("VAULT_ADDR").filter(|v| !v.is_empty());
    let (address, address_from) = match (&inputs.flags.address, env_addr, file.address) {
        (Some(a), _, _) => (Some(a.clone()), Some("--addr".to_owned())),
        (None, Some(a), _) => (Some(a), Some("VAULT_ADDR".to_owned())),
        (None, None, Some(a)) => (Some(a), in_file("address")),
        (None, None, None) => (None, None),
    };
    let env_cacert = env("VAULT_CACERT")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let (cacert, cacert_from) = match (&inputs.flags.cacert, env_cacert, file_cacert) {
        (Some(c), _, _) => (Some(c.clone()), Some("--cacert".to_owned())),
        (None, Some(c), _) => (Some(c), Some("VAULT_CACERT".to_owned())),
        (None, None, Some(c)) => (Some(c), in_file("cacert")),
        (None, None, None) => (None, None),
    };
    Ok(Settings {
        address: address.map(|a| a.trim_end_matches('/').to_owned()),
        cacert,
        project: inputs
            .flags
            .project
            .clone()
            .or(env_project)
            .or(file.project),
        environment: inputs
            .flags
            .environment
            .clone()
            .or(env_environment)
            .or(file.environment),
        source_specs: file.sources,
        project_overridden,
        required: file.required,
        merge: file.merge,
        workload: file.workload,
        file: file_path,
        address_from,
        cacert_from,
    })
}

impl Settings {
    /// Where the address and CA bundle came from.
    pub fn origins(&self) -> crate::client::Origins {
        crate::client::Origins {
            address: self.address_from.clone(),
            cacert: self.cacert_from.clone(),
        }
    }

    /// The server address, or an error with a hint.
    pub fn address(&self) -> CliResult<&str> {
        self.address.as_deref().ok_or_else(|| {
            CliError::new("no server address")
                .hint("set VAULT_ADDR (e.g. `export VAULT_ADDR=https://vault.example.com:8200`), pass --addr, or put `address` in .vault.toml")
        })
    }

    /// The project, or an error naming where to set it.
    pub fn project(&self) -> CliResult<&ProjectName> {
        self.project.as_ref().ok_or_else(|| {
            CliError::new("no project given")
                .hint("pass -p PROJECT, set VAULT_PROJECT, or put `project` in .vault.toml")
                .code(crate::error::exit::USAGE)
        })
    }

    /// The environment, or an error naming where to set it.
    pub fn environment(&self) -> CliResult<&EnvName> {
        self.environment.as_ref().ok_or_else(|| {
            CliError::new("no environment given")
                .hint("pass -e ENV, set VAULT_ENV, or put `environment` in .vault.toml")
                .code(crate::error::exit::USAGE)
        })
    }

    /// The sources `vault run` reads: the file's `[[sources]]` (unless a
    /// project was given by flag or environment), else project/environment.
    pub fn sources(&self) -> CliResult<Vec<Source>> {
        if self.source_specs.is_empty() || self.project_overridden {
            return Ok(vec![Source {
                project: self.project()?.clone(),
                environment: self.environment()?.clone(),
                prefix: String::new(),
            }]);
        }
        let mut out = Vec::with_capacity(self.source_specs.len());
        for (i, spec) in self.source_specs.iter().enumerate() {
            let project = match (&spec.project, &self.project) {
                (Some(p), _) | (None, Some(p)) => p.clone(),
                (None, None) => {
                    return Err(CliError::new(format!(
                        "source #{} in .vault.toml has no project",
                        i + 1
                    ))
                    .hint("give it `project = \"...\"` or set a top-level `project`"));
                }
            };
            let environment = match (&spec.environment, &self.environment) {
                (Some(e), _) | (None, Some(e)) => e.clone(),
                (None, None) => {
                    return Err(CliError::new(format!(
                        "source #{} ({project}) in .vault.toml has no environment",
                        i + 1
                    ))
                    .hint("pass -e ENV, set VAULT_ENV, or set `environment` in .vault.toml"));
                }
            };
            out.push(Source {
                project,
                environment,
                prefix: spec.prefix.clone().unwrap_or_default(),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn write(dir: &Path, text: &str) {
        std::fs::write(dir.join(FILE_NAME), text).unwrap();
    }

    fn resolve_with(cwd: &Path, flags: Flags, vars: &[(&str, &str)]) -> CliResult<Settings> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let env = move |k: &str| map.get(k).cloned();
        resolve(&Inputs {
            flags,
            env: &env,
            cwd: cwd.to_path_buf(),
        })
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "address = \"http://file:1\"\nproject = \"fromfile\"\nenvironment = \"dev\"\n",
        );
        let s = resolve_with(d.path(), Flags::default(), &[]).unwrap();
        assert_eq!(s.address.as_deref(), Some("http://file:1"));
        assert_eq!(s.project.as_ref().unwrap().as_str(), "fromfile");

        let s = resolve_with(
            d.path(),
            Flags::default(),
            &[
                ("VAULT_ADDR", "http://env:2/"),
                ("VAULT_PROJECT", "fromenv"),
            ],
        )
        .unwrap();
        assert_eq!(s.address.as_deref(), Some("http://env:2"));
        assert_eq!(s.project.as_ref().unwrap().as_str(), "fromenv");
        assert_eq!(s.environment.as_ref().unwrap().as_str(), "dev");

        let flags = Flags {
            address: Some("http://flag:3".into()),
            project: Some(ProjectName::parse("fromflag").unwrap()),
            environment: Some(EnvName::parse("prod").unwrap()),
            ..Flags::default()
        };
        let s = resolve_with(
            d.path(),
            flags,
            &[("VAULT_ADDR", "http://env:2"), ("VAULT_ENV", "staging")],
        )
        .unwrap();
        assert_eq!(s.address.as_deref(), Some("http://flag:3"));
        assert_eq!(s.project.as_ref().unwrap().as_str(), "fromflag");
        assert_eq!(s.environment.as_ref().unwrap().as_str(), "prod");
    }

    #[test]
    fn discovery_walks_up() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "project = \"top\"\n");
        let deep = d.path().join("a/b/c");
        std::fs::create_dir_all(&deep).unwrap();
        let s = resolve_with(&deep, Flags::default(), &[]).unwrap();
        assert_eq!(s.project.as_ref().unwrap().as_str(), "top");
        assert_eq!(s.file.as_deref(), Some(d.path().join(FILE_NAME).as_path()));
        // The nearest file wins.
        write(&d.path().join("a"), "project = \"inner\"\n");
        let s = resolve_with(&deep, Flags::default(), &[]).unwrap();
        assert_eq!(s.project.as_ref().unwrap().as_str(), "inner");
    }

    #[test]
    fn secret_looking_fields_are_refused() {
        for text in [
            "token = \"abc\"\n",
            "project = \"p\"\n[extra]\npassword = \"x\"\n",
            "[[sources]]\nproject = \"p\"\nvalue = \"x\"\n",
            "VAULT_TOKEN = \"x\"\n",
            "db_password = \"x\"\n",
        ] {
            let e = FileConfig::parse(text, Path::new(".vault.toml")).unwrap_err();
            assert!(
                e.message().contains("looks like a secret"),
                "{text}: {}",
                e.message()
            );
            assert!(!e.message().contains("abc") && !e.message().contains("\"x\""));
        }
    }

    #[test]
    fn unknown_fields_and_bad_names_are_refused() {
        assert!(FileConfig::parse("projet = \"p\"\n", Path::new("f")).is_err());
        assert!(FileConfig::parse("project = \"Bad/Name\"\n", Path::new("f")).is_err());
        assert!(FileConfig::parse("required = [\"NOT-VALID\"]\n", Path::new("f")).is_err());
        assert!(
            FileConfig::parse(
                "[[sources]]\nproject = \"p\"\nprefix = \"9X\"\n",
                Path::new("f")
            )
            .is_err()
        );
    }

    #[test]
    fn monorepo_sources_resolve_and_flags_replace_them() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "project = \"api\"\nenvironment = \"dev\"\nrequired = [\"DB\"]\nmerge = \"later-wins\"\n\
             [[sources]]\nproject = \"shared\"\nprefix = \"SHARED_\"\n\
             [[sources]]\nenvironment = \"pinned\"\n",
        );
        let s = resolve_with(d.path(), Flags::default(), &[("VAULT_ENV", "prod")]).unwrap();
        assert_eq!(s.merge, Merge::LaterWins);
        assert_eq!(s.required, vec![SecretName::parse("DB").unwrap()]);
        let src = s.sources().unwrap();
        assert_eq!(src.len(), 2);
        assert_eq!(
            (
                src[0].project.as_str(),
                src[0].environment.as_str(),
                src[0].prefix.as_str()
            ),
            ("shared", "prod", "SHARED_")
        );
        assert_eq!(
            (
                src[1].project.as_str(),
                src[1].environment.as_str(),
                src[1].prefix.as_str()
            ),
            ("api", "pinned", "")
        );
        // -p replaces the file's sources with one.
        let flags = Flags {
            project: Some(ProjectName::parse("other").unwrap()),
            ..Flags::default()
        };
        let s = resolve_with(d.path(), flags, &[]).unwrap();
        let src = s.sources().unwrap();
        assert_eq!(src.len(), 1);
        assert_eq!(src[0].project.as_str(), "other");
        assert_eq!(src[0].environment.as_str(), "dev");
    }

    #[test]
    fn missing_pieces_get_hints() {
        let d = tempfile::tempdir().unwrap();
        let s = resolve_with(d.path(), Flags::default(), &[]).unwrap();
        assert!(
            s.address()
                .unwrap_err()
                .hint_text()
                .unwrap()
                .contains("VAULT_ADDR")
        );
        assert!(s.sources().unwrap_err().hint_text().unwrap().contains("-p"));
        let e = resolve_with(d.path(), Flags::default(), &[("VAULT_PROJECT", "NO")]).unwrap_err();
        assert!(e.message().contains("VAULT_PROJECT"));
    }

    #[test]
    fn origins_name_flag_environment_or_file() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "address = \"https://f.example\"\ncacert = \"ca.pem\"\n",
        );
        let none = |_: &str| None;
        let s = resolve(&Inputs {
            flags: Flags::default(),
            env: &none,
            cwd: d.path().to_path_buf(),
        })
        .unwrap();
        assert!(s.address_from.unwrap().starts_with("`address` in "));
        assert!(s.cacert_from.unwrap().starts_with("`cacert` in "));
        let env = |k: &str| (k == "VAULT_CACERT").then(|| "/x/ca.pem".to_owned());
        let s = resolve(&Inputs {
            flags: Flags {
                address: Some("https://flag.example".into()),
                ..Flags::default()
            },
            env: &env,
            cwd: d.path().to_path_buf(),
        })
        .unwrap();
        assert_eq!(s.address_from.as_deref(), Some("--addr"));
        assert_eq!(s.cacert_from.as_deref(), Some("VAULT_CACERT"));
    }

    #[test]
    fn relative_cacert_is_relative_to_the_file() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "cacert = \"certs/ca.pem\"\n");
        let sub = d.path().join("sub");
        std::fs::create_dir_all(&sub).unwrap();
        let s = resolve_with(&sub, Flags::default(), &[]).unwrap();
        assert_eq!(s.cacert.unwrap(), d.path().join("certs/ca.pem"));
    }
}
