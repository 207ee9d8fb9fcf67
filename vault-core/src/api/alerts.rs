//! Wire types of webhook alerts (issue 14; 45 CFR 164.308(a)(6)).
//!
//! | method | path | body → answer |
//! |---|---|---|
//! | GET, POST | `/v1/alerts` | [`CreateAlert`] → [`AlertList`], [`CreatedAlert`] |
//! | DELETE | `/v1/alerts/{id}` | → 204 |
//! | GET | `/v1/alerts/{id}/deliveries` | → [`AlertDeliveryList`] |
//! | POST | `/v1/alerts/{id}/test` | → 202 (an `alert.test` event to that receiver) |

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::Timestamp;
use crate::secret::SecretText;

/// `POST /v1/alerts`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAlert {
    /// The receiver: `https://...` (plain HTTP only to loopback, when the
    /// server allows it for tests).
    #[schema(min_length = 1, max_length = 2048)]
    pub url: String,
    /// Event names (see `events` in `GET /v1/alerts`).
    #[schema(min_items = 1)]
    pub events: Vec<String>,
}

/// A subscription.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertSubscription {
    /// Id (`wh_...`).
    pub id: String,
    /// Receiver URL.
    pub url: String,
    /// Events delivered (plus `alert.test` on request).
    pub events: Vec<String>,
    /// Who made it.
    pub created_by: String,
    /// When.
    pub created_at: Timestamp,
}

/// A new subscription and its signing secret, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedAlert {
    /// The subscription.
    pub subscription: AlertSubscription,
    /// `whsec_...`: verify `webhook-signature` with it (Standard Webhooks).
    pub secret: SecretText,
}

/// An event a subscription can ask for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertEvent {
    /// Name.
    pub name: String,
    /// What it means.
    pub description: String,
}

/// `GET /v1/alerts`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertList {
    /// Subscriptions.
    pub subscriptions: Vec<AlertSubscription>,
    /// Every event there is.
    pub events: Vec<AlertEvent>,
}

/// One delivery (the delivery log).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertDelivery {
    /// `msg_...`: the `webhook-id` header, the same on every attempt.
    pub id: String,
    /// Event.
    pub event: String,
    /// The audit record it reports.
    pub audit_seq: u64,
    /// Attempts so far.
    pub attempts: u32,
    /// `pending`, `delivered` or `failed` (after 6 attempts).
    pub status: String,
    /// HTTP status of the last attempt.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Made.
    pub created_at: Timestamp,
    /// Delivered.
    pub delivered_at: Option<Timestamp>,
    /// Next attempt.
    pub next_attempt_at: Option<Timestamp>,
}

/// `GET /v1/alerts/{id}/deliveries`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertDeliveryList {
    /// Newest first (at most 200).
    pub deliveries: Vec<AlertDelivery>,
}
