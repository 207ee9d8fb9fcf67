//! `.vault.toml` through the real CLI: discovery from a subdirectory,
//! required names failing closed, monorepo sources with prefixes and merge
//! rules, and refusal of secret-looking fields.

use vault_tests::Server;
use vault_tests::cli::{seed, stderr, stdout, vault, write_vault_toml};

#[test]
fn discovery_walks_up_from_a_subdirectory() {
    let s = Server::dev();
    seed(&s, "shop", "dev", &[("DB", "postgres://dev")]);
    let dir = tempfile::tempdir().unwrap();
    write_vault_toml(dir.path(), "project = \"shop\"\nenvironment = \"dev\"\n");
    let deep = dir.path().join("services/api/src");
    std::fs::create_dir_all(&deep).unwrap();
    let o = vault(&s)
        .current_dir(&deep)
        .args(["run", "--", "sh", "-c", "printf %s \"$DB\""])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "postgres://dev");
    // VAULT_ENV overrides the file; -e overrides VAULT_ENV.
    seed(&s, "shop", "prod", &[("DB", "postgres://prod")]);
    let o = vault(&s)
        .current_dir(&deep)
        .env("VAULT_ENV", "prod")
        .args(["run", "--", "sh", "-c", "printf %s \"$DB\""])
        .output()
        .unwrap();
    assert_eq!(stdout(&o), "postgres://prod");
    let o = vault(&s)
        .current_dir(&deep)
        .env("VAULT_ENV", "prod")
        .args(["run", "-e", "dev", "--", "sh", "-c", "printf %s \"$DB\""])
        .output()
        .unwrap();
    assert_eq!(stdout(&o), "postgres://dev");
}

#[test]
fn missing_required_secret_stops_the_run_before_the_child() {
    let s = Server::dev();
    seed(&s, "shop", "dev", &[("DB", "x")]);
    let dir = tempfile::tempdir().unwrap();
    write_vault_toml(
        dir.path(),
        "project = \"shop\"\nenvironment = \"dev\"\nrequired = [\"DB\", \"STRIPE_KEY\"]\n",
    );
    let marker = dir.path().join("started");
    let o = vault(&s)
        .current_dir(dir.path())
        .args(["run", "--", "touch"])
        .arg(&marker)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("required secret missing from shop/dev: STRIPE_KEY"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
    assert!(!marker.exists(), "the child ran");
}

#[test]
fn monorepo_sources_prefixes_and_conflicts() {
    let s = Server::dev();
    seed(
        &s,
        "shared",
        "dev",
        &[("DB", "shared-db"), ("LOG", "shared-log")],
    );
    seed(&s, "api", "dev", &[("DB", "api-db")]);
    let dir = tempfile::tempdir().unwrap();
    let show = "printf '%s|%s|%s' \"${SHARED_DB-}\" \"${DB-}\" \"${LOG-}\"";

    write_vault_toml(
        dir.path(),
        "environment = \"dev\"\n[[sources]]\nproject = \"shared\"\nprefix = \"SHARED_\"\n[[sources]]\nproject = \"api\"\n",
    );
    let o = vault(&s)
        .current_dir(dir.path())
        .args(["run", "--", "sh", "-c", show])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "shared-db|api-db|");

    // Same name from two sources without an explicit order: refused.
    write_vault_toml(
        dir.path(),
        "environment = \"dev\"\n[[sources]]\nproject = \"shared\"\n[[sources]]\nproject = \"api\"\n",
    );
    let o = vault(&s)
        .current_dir(dir.path())
        .args(["run", "--", "sh", "-c", show])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("DB is defined by two sources (shared/dev and api/dev)"),
        "{}",
        stderr(&o)
    );

    // With merge = "later-wins" the listed order decides.
    write_vault_toml(
        dir.path(),
        "environment = \"dev\"\nmerge = \"later-wins\"\n[[sources]]\nproject = \"shared\"\n[[sources]]\nproject = \"api\"\n",
    );
    let o = vault(&s)
        .current_dir(dir.path())
        .args(["run", "--", "sh", "-c", show])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "|api-db|shared-log");
}

#[test]
fn a_vault_toml_with_a_secret_is_refused() {
    let s = Server::dev();
    let dir = tempfile::tempdir().unwrap();
    write_vault_toml(
        dir.path(),
        "project = \"shop\"\ntoken = \"leaked-canary\"\n",
    );
    let o = vault(&s)
        .current_dir(dir.path())
        .args(["run", "-e", "dev", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("looks like a secret"), "{err}");
    assert!(!err.contains("leaked-canary"));
}
