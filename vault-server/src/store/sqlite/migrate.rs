//! Embedded migrations, applied in order at start and recorded in
//! `schema_migrations`; a database newer than this binary refuses to open.

use rusqlite::Connection;

use crate::store::StoreError;

/// Every migration this binary knows: (version, name, SQL).
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "identity",
        include_str!("../../../../migrations/sqlite/0002_identity.sql"),
    ),
    (
        3,
        "root_tokens",
        include_str!("../../../../migrations/sqlite/0003_root_tokens.sql"),
    ),
    (
        4,
        "secret_heads",
        include_str!("../../../../migrations/sqlite/0004_secret_heads.sql"),
    ),
    (
        5,
        "oidc",
        include_str!("../../../../migrations/sqlite/0005_oidc.sql"),
    ),
    (
        6,
        "workload",
        include_str!("../../../../migrations/sqlite/0006_workload.sql"),
    ),
    (
        7,
        "passkeys",
        include_str!("../../../../migrations/sqlite/0007_passkeys.sql"),
    ),
    (
        8,
        "mfa",
        include_str!("../../../../migrations/sqlite/0008_mfa.sql"),
    ),
    (
        9,
        "access_reviews",
        include_str!("../../../../migrations/sqlite/0009_access_reviews.sql"),
    ),
    (
        10,
        "alerts",
        include_str!("../../../../migrations/sqlite/0010_alerts.sql"),
    ),
];

/// Applies missing migrations, each in its own transaction.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT    NOT NULL,
            applied_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );",
    )?;
    let current: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    let known = MIGRATIONS.iter().map(|m| m.0).max().unwrap_or(0);
    if current > known {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known,
        });
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)",
            rusqlite::params![version, name],
        )?;
        tx.commit()?;
        tracing::info!(version, name, "applied migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_once_and_refuses_newer() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        migrate(&mut c).unwrap();
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, MIGRATIONS.len() as i64);
        c.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (999, 'future')",
            [],
        )
        .unwrap();
        let e = migrate(&mut c).unwrap_err();
        assert!(matches!(e, StoreError::SchemaTooNew { found: 999, .. }));
        assert!(e.to_string().contains("upgrade vault-server"));
    }

    #[test]
    fn versions_are_in_order_and_files_numbered() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.0, i as i64 + 1);
        }
    }
}
