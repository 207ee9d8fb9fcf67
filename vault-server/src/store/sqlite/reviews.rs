//! The SQL behind [`ReviewReader`] and [`ReviewWriter`] for SQLite.

use rusqlite::{Row, params};
use vault_core::clock::Timestamp;

use super::queries::Sql;
use crate::store::StoreError;
use crate::store::reviews::{ReviewItemRow, ReviewReader, ReviewRow, ReviewWriter};

fn ts(v: i64) -> Timestamp {
    Timestamp::from_millis(v)
}

fn review(r: &Row<'_>) -> rusqlite::Result<ReviewRow> {
    Ok(ReviewRow {
        id: r.get(0)?,
        scope: r.get(1)?,
        created_by: r.get(2)?,
        created_at: ts(r.get(3)?),
        due_at: ts(r.get(4)?),
        closed_at: r.get::<_, Option<i64>>(5)?.map(ts),
        closed_by: r.get(6)?,
        attestation: r.get(7)?,
    })
}

fn item(r: &Row<'_>) -> rusqlite::Result<ReviewItemRow> {
    Ok(ReviewItemRow {
        review_id: r.get(0)?,
        binding_id: r.get(1)?,
        user_id: r.get(2)?,
        username: r.get(3)?,
        role: r.get(4)?,
        scope: r.get(5)?,
        source: r.get(6)?,
        granted_at: ts(r.get(7)?),
        last_used_at: r.get::<_, Option<i64>>(8)?.map(ts),
        decision: r.get(9)?,
        decided_by: r.get(10)?,
        decided_at: r.get::<_, Option<i64>>(11)?.map(ts),
        note: r.get(12)?,
    })
}

impl ReviewReader for Sql<'_> {
    fn reviews(&self) -> Result<Vec<ReviewRow>, StoreError> {
        let mut st = self.0.prepare_cached(
            "SELECT id, scope, created_by, created_at, due_at, closed_at, closed_by, attestation
             FROM access_reviews ORDER BY created_at DESC, rowid DESC",
        )?;
        let rows = st.query_map([], review)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn review_items(&self, review_id: &str) -> Result<Vec<ReviewItemRow>, StoreError> {
        let mut st = self.0.prepare_cached(
            "SELECT review_id, binding_id, user_id, username, role, scope, source, granted_at,
                 last_used_at, decision, decided_by, decided_at, note
             FROM access_review_items WHERE review_id = ?1 ORDER BY username, role, scope",
        )?;
        let rows = st.query_map([review_id], item)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

impl ReviewWriter for Sql<'_> {
    fn insert_review(&mut self, r: &ReviewRow, items: &[ReviewItemRow]) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO access_reviews (id, scope, created_by, created_at, due_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                r.id,
                r.scope,
                r.created_by,
                r.created_at.as_millis(),
                r.due_at.as_millis()
            ],
        )?;
        for i in items {
            self.0.execute(
                "INSERT INTO access_review_items (review_id, binding_id, user_id, username, role,
                     scope, source, granted_at, last_used_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    r.id,
                    i.binding_id,
                    i.user_id,
                    i.username,
                    i.role,
                    i.scope,
                    i.source,
                    i.granted_at.as_millis(),
                    i.last_used_at.map(Timestamp::as_millis)
                ],
            )?;
        }
        Ok(())
    }

    fn decide_review_item(
        &mut self,
        review_id: &str,
        binding_id: &str,
        decision: &str,
        by: &str,
        at: Timestamp,
        note: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = self.0.execute(
            "UPDATE access_review_items SET decision = ?3, decided_by = ?4, decided_at = ?5,
                 note = ?6
             WHERE review_id = ?1 AND binding_id = ?2 AND decision IS NULL
               AND EXISTS (SELECT 1 FROM access_reviews WHERE id = ?1 AND closed_at IS NULL)",
            params![review_id, binding_id, decision, by, at.as_millis(), note],
        )?;
        Ok(n == 1)
    }

    fn close_review(
        &mut self,
        id: &str,
        by: &str,
        at: Timestamp,
        attestation: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = self.0.execute(
            "UPDATE access_reviews SET closed_at = ?3, closed_by = ?2, attestation = ?4
             WHERE id = ?1 AND closed_at IS NULL",
            params![id, by, at.as_millis(), attestation],
        )?;
        Ok(n == 1)
    }
}
