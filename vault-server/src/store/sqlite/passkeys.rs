//! The SQL behind [`PasskeyReader`] and [`PasskeyWriter`] for SQLite.

use rusqlite::{OptionalExtension, Row, params};
use vault_core::clock::Timestamp;

use super::queries::Sql;
use crate::store::StoreError;
use crate::store::passkeys::{CeremonyRow, PasskeyReader, PasskeyRow, PasskeyWriter};

const COLS: &str = "p.id, p.user_id, u.username, p.name, p.credential_id, p.passkey, p.counter, \
                    p.created_at, p.last_used_at";

fn row(r: &Row<'_>) -> rusqlite::Result<PasskeyRow> {
    Ok(PasskeyRow {
        id: r.get(0)?,
        user_id: r.get(1)?,
        username: r.get(2)?,
        name: r.get(3)?,
        credential_id: r.get(4)?,
        passkey: r.get(5)?,
        counter: r.get(6)?,
        created_at: Timestamp::from_millis(r.get(7)?),
        last_used_at: r.get::<_, Option<i64>>(8)?.map(Timestamp::from_millis),
    })
}

impl PasskeyReader for Sql<'_> {
    fn passkeys(&self, user_id: Option<&str>) -> Result<Vec<PasskeyRow>, StoreError> {
        let mut st = self.0.prepare_cached(&format!(
            "SELECT {COLS} FROM passkeys p JOIN users u ON u.id = p.user_id
             WHERE ?1 IS NULL OR p.user_id = ?1 ORDER BY p.created_at"
        ))?;
        let rows = st.query_map([user_id], row)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn recovery_codes_left(&self, user_id: &str) -> Result<u64, StoreError> {
        let n: i64 = self.0.query_row(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL",
            [user_id],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<PasskeyRow>, StoreError> {
        Ok(self
            .0
            .query_row(
                &format!(
                    "SELECT {COLS} FROM passkeys p JOIN users u ON u.id = p.user_id
                     WHERE p.credential_id = ?1"
                ),
                [credential_id],
                row,
            )
            .optional()?)
    }
}

impl PasskeyWriter for Sql<'_> {
    fn rename_passkey(&mut self, user_id: &str, id: &str, name: &str) -> Result<bool, StoreError> {
        let n = self.0.execute(
            "UPDATE passkeys SET name = ?3 WHERE id = ?1 AND user_id = ?2",
            [id, user_id, name],
        )?;
        Ok(n == 1)
    }

    fn reset_passkeys(&mut self, user_id: &str) -> Result<u64, StoreError> {
        let n = self
            .0
            .execute("DELETE FROM passkeys WHERE user_id = ?1", [user_id])?;
        self.0
            .execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user_id])?;
        Ok(n as u64)
    }

    fn replace_recovery_codes(
        &mut self,
        user_id: &str,
        hashes: &[Vec<u8>],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.0
            .execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user_id])?;
        for h in hashes {
            self.0.execute(
                "INSERT INTO recovery_codes (hash, user_id, created_at, used_at)
                 VALUES (?1, ?2, ?3, NULL)",
                params![h, user_id, now.as_millis()],
            )?;
        }
        Ok(())
    }

    fn use_recovery_code(
        &mut self,
        user_id: &str,
        hash: &[u8],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let n = self.0.execute(
            "UPDATE recovery_codes SET used_at = ?3
             WHERE hash = ?1 AND user_id = ?2 AND used_at IS NULL",
            params![hash, user_id, now.as_millis()],
        )?;
        Ok(n == 1)
    }

    fn insert_passkey(&mut self, p: &PasskeyRow) -> Result<bool, StoreError> {
        let n = self.0.execute(
            "INSERT INTO passkeys (id, user_id, name, credential_id, passkey, counter, created_at,
                 last_used_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL) ON CONFLICT DO NOTHING",
            params![
                p.id,
                p.user_id,
                p.name,
                p.credential_id,
                p.passkey,
                p.counter,
                p.created_at.as_millis()
            ],
        )?;
        Ok(n == 1)
    }

    fn swap_passkey_counter(
        &mut self,
        id: &str,
        old_counter: i64,
        new_counter: i64,
        passkey: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let n = self.0.execute(
            "UPDATE passkeys SET counter = ?3, passkey = ?4, last_used_at = ?5
             WHERE id = ?1 AND counter = ?2",
            params![id, old_counter, new_counter, passkey, now.as_millis()],
        )?;
        Ok(n == 1)
    }

    fn delete_passkey(&mut self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        let n = self.0.execute(
            "DELETE FROM passkeys WHERE id = ?1 AND user_id = ?2",
            [id, user_id],
        )?;
        Ok(n == 1)
    }

    fn insert_ceremony(&mut self, c: &CeremonyRow, now: Timestamp) -> Result<(), StoreError> {
        self.0.execute(
            "DELETE FROM webauthn_ceremonies WHERE expires_at < ?1",
            [now.as_millis()],
        )?;
        self.0.execute(
            "INSERT INTO webauthn_ceremonies (id, kind, user_id, name, state, expires_at,
                 session_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                c.id_hash,
                c.kind,
                c.user_id,
                c.name,
                c.state,
                c.expires_at.as_millis(),
                c.session_id
            ],
        )?;
        Ok(())
    }

    fn take_ceremony(&mut self, id_hash: &[u8]) -> Result<Option<CeremonyRow>, StoreError> {
        Ok(self
            .0
            .query_row(
                "DELETE FROM webauthn_ceremonies WHERE id = ?1
                 RETURNING id, kind, user_id, name, state, expires_at, session_id",
                [id_hash],
                |r| {
                    Ok(CeremonyRow {
                        id_hash: r.get(0)?,
                        kind: r.get(1)?,
                        user_id: r.get(2)?,
                        name: r.get(3)?,
                        state: r.get(4)?,
                        expires_at: Timestamp::from_millis(r.get(5)?),
                        session_id: r.get(6)?,
                    })
                },
            )
            .optional()?)
    }
}
