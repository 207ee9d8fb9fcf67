//! The SQL behind [`AlertReader`] and [`AlertWriter`] for SQLite.

use rusqlite::{OptionalExtension, Row, params};
use vault_core::clock::Timestamp;

use super::queries::Sql;
use crate::store::StoreError;
use crate::store::alerts::{AlertReader, AlertWriter, DeliveryRow, SubscriptionRow};

fn ts(v: i64) -> Timestamp {
    Timestamp::from_millis(v)
}

fn seq(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn db_seq(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn subscription(r: &Row<'_>) -> rusqlite::Result<SubscriptionRow> {
    let events: String = r.get(2)?;
    Ok(SubscriptionRow {
        id: r.get(0)?,
        url: r.get(1)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        created_by: r.get(3)?,
        created_at: ts(r.get(4)?),
        from_seq: seq(r.get(5)?),
    })
}

const DELIVERY_COLS: &str = "id, subscription_id, event, audit_seq, payload, attempts, \
     next_attempt_at, status, last_status, last_error, created_at, delivered_at";

fn delivery(r: &Row<'_>) -> rusqlite::Result<DeliveryRow> {
    Ok(DeliveryRow {
        id: r.get(0)?,
        subscription_id: r.get(1)?,
        event: r.get(2)?,
        audit_seq: seq(r.get(3)?),
        payload: r.get(4)?,
        attempts: r.get(5)?,
        next_attempt_at: r.get::<_, Option<i64>>(6)?.map(ts),
        status: r.get(7)?,
        last_status: r.get(8)?,
        last_error: r.get(9)?,
        created_at: ts(r.get(10)?),
        delivered_at: r.get::<_, Option<i64>>(11)?.map(ts),
    })
}

impl AlertReader for Sql<'_> {
    fn subscriptions(&self) -> Result<Vec<SubscriptionRow>, StoreError> {
        let mut st = self.0.prepare_cached(
            "SELECT id, url, events, created_by, created_at, from_seq
             FROM alert_subscriptions ORDER BY created_at, id",
        )?;
        let rows = st.query_map([], subscription)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn deliveries(
        &self,
        subscription_id: &str,
        limit: u32,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let mut st = self.0.prepare_cached(&format!(
            "SELECT {DELIVERY_COLS} FROM alert_deliveries WHERE subscription_id = ?1
             ORDER BY created_at DESC, rowid DESC LIMIT ?2"
        ))?;
        let rows = st
            .query_map(params![subscription_id, limit], delivery)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn due_deliveries(&self, now: Timestamp, limit: u32) -> Result<Vec<DeliveryRow>, StoreError> {
        let mut st = self.0.prepare_cached(&format!(
            "SELECT {DELIVERY_COLS} FROM alert_deliveries
             WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?1
             ORDER BY next_attempt_at, rowid LIMIT ?2"
        ))?;
        let rows = st
            .query_map(params![now.as_millis(), limit], delivery)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn alert_cursor(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .0
            .query_row("SELECT last_seq FROM alert_cursor WHERE id = 1", [], |r| {
                r.get::<_, i64>(0)
            })
            .optional()?
            .map(seq))
    }
}

impl AlertWriter for Sql<'_> {
    fn insert_subscription(&mut self, s: &SubscriptionRow) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO alert_subscriptions (id, url, events, created_by, created_at, from_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                s.id,
                s.url,
                serde_json::to_string(&s.events).unwrap_or_else(|_| "[]".into()),
                s.created_by,
                s.created_at.as_millis(),
                db_seq(s.from_seq)
            ],
        )?;
        Ok(())
    }

    fn delete_subscription(&mut self, id: &str) -> Result<bool, StoreError> {
        self.0.execute(
            "DELETE FROM alert_deliveries WHERE subscription_id = ?1",
            [id],
        )?;
        let n = self
            .0
            .execute("DELETE FROM alert_subscriptions WHERE id = ?1", [id])?;
        Ok(n == 1)
    }

    fn insert_delivery(&mut self, d: &DeliveryRow) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO alert_deliveries (id, subscription_id, event, audit_seq, payload,
                 attempts, next_attempt_at, status, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, 'pending', ?7) ON CONFLICT DO NOTHING",
            params![
                d.id,
                d.subscription_id,
                d.event,
                db_seq(d.audit_seq),
                d.payload,
                d.next_attempt_at.map(Timestamp::as_millis),
                d.created_at.as_millis()
            ],
        )?;
        Ok(())
    }

    fn record_attempt(&mut self, d: &DeliveryRow) -> Result<(), StoreError> {
        self.0.execute(
            "UPDATE alert_deliveries SET attempts = ?2, next_attempt_at = ?3, status = ?4,
                 last_status = ?5, last_error = ?6, delivered_at = ?7
             WHERE id = ?1",
            params![
                d.id,
                d.attempts,
                d.next_attempt_at.map(Timestamp::as_millis),
                d.status,
                d.last_status,
                d.last_error,
                d.delivered_at.map(Timestamp::as_millis)
            ],
        )?;
        Ok(())
    }

    fn set_alert_cursor(&mut self, seq: u64) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO alert_cursor (id, last_seq) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq)",
            [db_seq(seq)],
        )?;
        Ok(())
    }
}
