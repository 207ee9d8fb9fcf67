//! Wire types of access reviews (issue 14; HIPAA 45 CFR 164.308(a)(1)(ii)(D)
//! information system activity review and (a)(4) information access
//! management).
//!
//! | method | path | body → answer |
//! |---|---|---|
//! | GET, POST | `/v1/access/reviews` | [`StartReview`] → [`ReviewList`], [`AccessReview`] |
//! | GET | `/v1/access/reviews/{id}` | → [`AccessReview`] (with its items) |
//! | POST | `/v1/access/reviews/{id}/bindings/{binding}` | [`DecideReviewItem`] → [`ReviewItem`] |
//! | POST | `/v1/access/reviews/{id}/close` | [`CloseReview`] → [`AccessReview`] |

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::Timestamp;

/// `POST /v1/access/reviews`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartReview {
    /// Bindings whose scope lies within this pattern (`payments/*`; default
    /// `*`, every binding).
    #[serde(default)]
    #[schema(max_length = 130)]
    pub scope: Option<String>,
    /// Due in this many seconds (default 14 days; 1 hour to 365 days).
    #[serde(default)]
    #[schema(minimum = 3600, maximum = 31536000)]
    pub due_secs: Option<i64>,
}

/// One binding under review.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReviewItem {
    /// The binding's id.
    pub binding_id: String,
    /// Its holder.
    pub user: String,
    /// Role.
    pub role: String,
    /// Scope pattern.
    pub scope: String,
    /// `manual` or `sso:<provider>`.
    pub source: String,
    /// When it was granted.
    pub granted_at: Timestamp,
    /// The holder's last successful request that this binding allowed, from
    /// the audit trail when the review started (`null`: none on record).
    pub last_used_at: Option<Timestamp>,
    /// `keep` or `revoke`; `null` while pending.
    pub decision: Option<String>,
    /// The reviewer (audit actor).
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<Timestamp>,
    /// The reviewer's note.
    pub note: Option<String>,
}

/// A review.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccessReview {
    /// Id (`rev_...`).
    pub id: String,
    /// Scope pattern.
    pub scope: String,
    /// Who started it.
    pub created_by: String,
    /// Started.
    pub created_at: Timestamp,
    /// Due.
    pub due_at: Timestamp,
    /// Closed (attested).
    pub closed_at: Option<Timestamp>,
    /// Who closed it.
    pub closed_by: Option<String>,
    /// The closer's note.
    pub attestation: Option<String>,
    /// Open and past its due time.
    pub overdue: bool,
    /// Items decided.
    pub decided: u64,
    /// Items in all.
    pub total: u64,
    /// The bindings (empty in listings).
    pub items: Vec<ReviewItem>,
}

/// `GET /v1/access/reviews`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReviewList {
    /// Newest first.
    pub reviews: Vec<AccessReview>,
    /// `identity.access_review_days`: how often a review must be completed.
    pub cadence_days: i64,
    /// When the last review was closed.
    pub last_completed_at: Option<Timestamp>,
    /// No review closed within the cadence (or one open past its due time).
    pub overdue: bool,
}

/// `POST /v1/access/reviews/{id}/bindings/{binding}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideReviewItem {
    /// `keep` or `revoke` (revoking removes the binding at once).
    #[schema(pattern = "^(keep|revoke)$")]
    pub decision: String,
    /// Why (at most 500 characters).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// `POST /v1/access/reviews/{id}/close`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseReview {
    /// The reviewer's attestation (at most 500 characters).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub attestation: Option<String>,
}
