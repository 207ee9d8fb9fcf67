//! The storage port for webhook alerts: subscriptions, deliveries (with
//! their attempts, the delivery log), and how far the audit trail was read.

use vault_core::clock::Timestamp;

use super::StoreError;

/// A subscription (its HMAC key is derived from its id, never stored).
#[derive(Debug, Clone)]
pub struct SubscriptionRow {
    /// Id (`wh_...`).
    pub id: String,
    /// Receiver URL.
    pub url: String,
    /// Event names.
    pub events: Vec<String>,
    /// Who made it (audit actor).
    pub created_by: String,
    /// When.
    pub created_at: Timestamp,
    /// Audit records after this seq count for it.
    pub from_seq: u64,
}

/// One delivery of one event to one subscription.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    /// Id (`msg_...`): the `webhook-id` header, the same on every attempt.
    pub id: String,
    /// The subscription.
    pub subscription_id: String,
    /// Event name.
    pub event: String,
    /// The audit record it reports.
    pub audit_seq: u64,
    /// JSON body.
    pub payload: String,
    /// Attempts made.
    pub attempts: u32,
    /// When to try next; `None` once delivered or failed for good.
    pub next_attempt_at: Option<Timestamp>,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// HTTP status of the last attempt.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Made.
    pub created_at: Timestamp,
    /// Delivered.
    pub delivered_at: Option<Timestamp>,
}

/// Alert queries.
pub trait AlertReader {
    /// Every subscription.
    fn subscriptions(&self) -> Result<Vec<SubscriptionRow>, StoreError>;
    /// A subscription's deliveries, newest first, at most `limit`.
    fn deliveries(&self, subscription_id: &str, limit: u32)
    -> Result<Vec<DeliveryRow>, StoreError>;
    /// Deliveries due at `now`, oldest first, at most `limit`.
    fn due_deliveries(&self, now: Timestamp, limit: u32) -> Result<Vec<DeliveryRow>, StoreError>;
    /// The last audit seq turned into deliveries.
    fn alert_cursor(&self) -> Result<Option<u64>, StoreError>;
}

/// Alert changes (inside the writer's transaction).
pub trait AlertWriter {
    /// Stores a subscription.
    fn insert_subscription(&mut self, row: &SubscriptionRow) -> Result<(), StoreError>;
    /// Deletes one; whether it existed (its deliveries go too).
    fn delete_subscription(&mut self, id: &str) -> Result<bool, StoreError>;
    /// Stores a delivery (once per subscription, record and event).
    fn insert_delivery(&mut self, row: &DeliveryRow) -> Result<(), StoreError>;
    /// Records an attempt: the new attempt count, status, next time.
    fn record_attempt(&mut self, row: &DeliveryRow) -> Result<(), StoreError>;
    /// Moves the cursor.
    fn set_alert_cursor(&mut self, seq: u64) -> Result<(), StoreError>;
}
