//! Service-level tests with a controlled clock: audit retention into
//! verifiable archives, trash purge after the recovery window, automatic
//! rotation by age, and group commit under concurrent writers.

use std::path::Path;
use std::sync::Arc;

use vault_core::clock::{ManualClock, Timestamp};
use vault_core::names::{EnvName, ProjectName, SecretName};
use vault_core::secret::SecretText;

use super::{Ctx, Settings, Vault};
use crate::config::{Config, Synchronous};
use crate::metrics::Metrics;
use crate::store::{Storage, StoreHandle, sqlite};

const DAY: i64 = 86_400;

async fn vault(dir: &Path, clock: &ManualClock) -> (Vault, SecretText) {
    let store = sqlite::open(
        &dir.join("vault.db"),
        2,
        Synchronous::Normal,
        64,
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    let storage: Arc<dyn Storage> = Arc::new(store);
    let mut cfg = Config::default();
    cfg.server.data_dir = dir.to_path_buf();
    cfg.unseal.key_file = Some(dir.join("unseal.key"));
    let v = Vault::open(
        StoreHandle(storage),
        Arc::new(clock.clone()),
        Settings::from_config(&cfg),
        Arc::new(Metrics::default()),
    )
    .await
    .unwrap();
    let token = v.dev_bootstrap().await.unwrap();
    (v, token)
}

fn ctx(token: &SecretText) -> Ctx {
    Ctx {
        request_id: "test".into(),
        source: "127.0.0.1".into(),
        credential: Some(token.clone()),
        audited: Arc::default(),
    }
}

fn names() -> (ProjectName, EnvName) {
    (
        ProjectName::parse("p").unwrap(),
        EnvName::parse("dev").unwrap(),
    )
}

async fn setup(v: &Vault, c: &Ctx) {
    let (p, e) = names();
    v.create_project(c, &p).await.unwrap();
    v.create_environment(c, &p, &e).await.unwrap();
}

async fn write(v: &Vault, c: &Ctx, name: &str, value: &str) -> u64 {
    let (p, e) = names();
    let n = SecretName::parse(name).unwrap();
    v.write_secret(c, &p, &e, &n, SecretText::from(value), None)
        .await
        .unwrap()
        .version
}

#[tokio::test]
async fn retention_archives_old_records_verifiably() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let (v, token) = vault(dir.path(), &clock).await;
    let c = ctx(&token);
    setup(&v, &c).await;
    for i in 0..5 {
        write(&v, &c, "OLD", &i.to_string()).await;
    }
    v.checkpoint().await.unwrap();
    clock.advance_secs(91 * DAY);
    write(&v, &c, "NEW", "x").await;
    let before = v.audit_verify(&c, None).await.unwrap();
    assert!(before.ok, "{before:?}");

    let moved = v.audit_retention().await.unwrap();
    assert!(moved >= 8, "{moved}");
    let files: Vec<_> = std::fs::read_dir(dir.path().join("audit-archive"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(files.len(), 1);
    // Nothing was dropped: archive + database still verify as one chain.
    let after = v.audit_verify(&c, None).await.unwrap();
    assert!(after.ok, "{after:?}");
    assert!(after.records >= before.records, "{after:?} vs {before:?}");
    // The chain continues after the archive.
    write(&v, &c, "NEW", "y").await;
    v.checkpoint().await.unwrap();
    assert!(v.audit_verify(&c, None).await.unwrap().ok);

    // An edited archive is caught.
    let path = files[0].path();
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen("\"p/dev/OLD\"", "\"p/prod/OLD\"", 1);
    assert_ne!(text, edited);
    std::fs::write(&path, edited).unwrap();
    let bad = v.audit_verify(&c, None).await.unwrap();
    assert!(!bad.ok, "{bad:?}");
    // A missing archive is caught too.
    std::fs::remove_file(&path).unwrap();
    assert!(!v.audit_verify(&c, None).await.unwrap().ok);
}

#[tokio::test]
async fn trash_is_purged_after_the_window_only() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let (v, token) = vault(dir.path(), &clock).await;
    let c = ctx(&token);
    setup(&v, &c).await;
    write(&v, &c, "GONE", "v").await;
    let (p, e) = names();
    let n = SecretName::parse("GONE").unwrap();
    v.trash_secret(&c, &p, &e, &n).await.unwrap();
    clock.advance_secs(29 * DAY);
    assert_eq!(v.purge_trash().await.unwrap(), 0);
    assert_eq!(v.trash_list(&c, &p, &e).await.unwrap().secrets.len(), 1);
    clock.advance_secs(2 * DAY);
    assert_eq!(v.purge_trash().await.unwrap(), 1);
    assert!(v.trash_list(&c, &p, &e).await.unwrap().secrets.is_empty());
    assert_eq!(
        v.read_secret(&c, &p, &e, &n, None).await.unwrap_err().code,
        "secret.not_found"
    );
}

#[tokio::test]
async fn rotation_by_age() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let (v, token) = vault(dir.path(), &clock).await;
    let c = ctx(&token);
    setup(&v, &c).await;
    write(&v, &c, "K", "old").await;
    v.rotation_sweep().await.unwrap();
    assert_eq!(v.key_status(&c).await.unwrap().keks.len(), 1);
    clock.advance_secs(91 * DAY);
    v.rotation_sweep().await.unwrap();
    let keks = v.key_status(&c).await.unwrap().keks;
    assert_eq!(keks.len(), 2);
    assert_eq!(keks[1].state, vault_core::api::KekState::Active);
    write(&v, &c, "K", "new").await;
    let (p, e) = names();
    let n = SecretName::parse("K").unwrap();
    let old = v.read_secret(&c, &p, &e, &n, Some(1)).await.unwrap();
    assert_eq!(old.value.expose_secret(), "old");
}

#[tokio::test]
async fn sealed_vault_wipes_cached_keys_and_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let (v, token) = vault(dir.path(), &clock).await;
    let c = ctx(&token);
    setup(&v, &c).await;
    write(&v, &c, "K", "v").await;
    let u = v.unsealed().unwrap();
    assert_eq!(u.rings.lock().unwrap().len(), 1);
    drop(u);
    v.seal(&c).await.unwrap();
    assert!(v.unsealed().is_err());
    let (p, e) = names();
    let n = SecretName::parse("K").unwrap();
    assert_eq!(
        v.read_secret(&c, &p, &e, &n, None).await.unwrap_err().code,
        "vault.sealed"
    );
}

#[tokio::test]
async fn ended_sessions_are_pruned_and_live_ones_kept() {
    use vault_core::api::identity::{CreateUser, LoginRequest};
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let store = sqlite::open(
        &dir.path().join("vault.db"),
        2,
        Synchronous::Normal,
        64,
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    let mut cfg = Config::default();
    cfg.server.data_dir = dir.path().to_path_buf();
    cfg.unseal.key_file = Some(dir.path().join("unseal.key"));
    cfg.identity.danger_weak_password_hashing = true;
    let mut settings = Settings::from_config(&cfg);
    settings.identity = super::identity::IdentitySettings::from_config(&cfg.identity, None);
    let v = Vault::open(
        StoreHandle(Arc::new(store)),
        Arc::new(clock.clone()),
        settings,
        Arc::new(Metrics::default()),
    )
    .await
    .unwrap();
    let root = ctx(&v.dev_bootstrap().await.unwrap());
    let password = "correct horse battery staple 42";
    v.create_user(
        &root,
        CreateUser {
            username: "ana".into(),
            password: SecretText::from(password),
        },
    )
    .await
    .unwrap();
    let login = || async {
        let r = v
            .login(
                &ctx(&SecretText::from("")),
                LoginRequest {
                    username: "ana".into(),
                    password: SecretText::from(password),
                },
            )
            .await
            .unwrap();
        match r {
            vault_core::api::LoginAnswer::Session(s) => s.token,
            vault_core::api::LoginAnswer::SecondFactor(_) => panic!("ana has no passkey"),
        }
    };
    let old = login().await;
    let revoked = login().await;
    v.logout(&ctx(&revoked)).await.unwrap();
    assert_eq!(
        v.prune_sessions().await.unwrap(),
        0,
        "nothing has ended long enough"
    );

    // A day and a bit later the revoked one goes; the absolute lifetime
    // (8 h by default) plus a day later, every session of that time goes.
    clock.advance_secs(DAY + 8 * 3600 + 60);
    let fresh = login().await;
    let head = || async { v.store().read(|r| r.audit_head()).await.unwrap().unwrap().0 };
    let before = head().await;
    assert_eq!(v.prune_sessions().await.unwrap(), 2);
    assert_eq!(head().await, before + 1, "one audit record for the pass");
    let left = v.store().read(|r| r.sessions(None)).await.unwrap();
    let ids: Vec<_> = left.iter().map(|s| s.id.clone()).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(
        fresh.expose_secret().starts_with(&ids[0]),
        "the live session stays"
    );
    assert!(!old.expose_secret().starts_with(&ids[0]));
    assert_eq!(v.prune_sessions().await.unwrap(), 0);
    assert_eq!(head().await, before + 1, "an empty pass writes nothing");
}
