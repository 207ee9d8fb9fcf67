//! The storage port for access reviews: a snapshot of bindings, one
//! decision per binding, and the closing attestation.

use vault_core::clock::Timestamp;

use super::StoreError;

/// A review.
#[derive(Debug, Clone)]
pub struct ReviewRow {
    /// Id (`rev_...`).
    pub id: String,
    /// Scope pattern of the bindings in it.
    pub scope: String,
    /// Who started it (audit actor).
    pub created_by: String,
    /// Started.
    pub created_at: Timestamp,
    /// Due.
    pub due_at: Timestamp,
    /// Closed.
    pub closed_at: Option<Timestamp>,
    /// Who closed it.
    pub closed_by: Option<String>,
    /// The closer's note.
    pub attestation: Option<String>,
}

/// One binding under review.
#[derive(Debug, Clone)]
pub struct ReviewItemRow {
    /// The review.
    pub review_id: String,
    /// The binding reviewed (it may be gone since).
    pub binding_id: String,
    /// Its holder.
    pub user_id: String,
    /// Holder's name.
    pub username: String,
    /// Role.
    pub role: String,
    /// Scope.
    pub scope: String,
    /// `manual` or `sso:<provider>`.
    pub source: String,
    /// When the binding was made.
    pub granted_at: Timestamp,
    /// Last use under it, from the audit trail (at the review's start).
    pub last_used_at: Option<Timestamp>,
    /// `keep` or `revoke`; `None` while pending.
    pub decision: Option<String>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<Timestamp>,
    /// The reviewer's note.
    pub note: Option<String>,
}

/// Review queries.
pub trait ReviewReader {
    /// Every review, newest first.
    fn reviews(&self) -> Result<Vec<ReviewRow>, StoreError>;
    /// The items of one review, by user, role, scope.
    fn review_items(&self, review_id: &str) -> Result<Vec<ReviewItemRow>, StoreError>;
}

/// Review changes (inside the writer's transaction).
pub trait ReviewWriter {
    /// Stores a new review and its items.
    fn insert_review(&mut self, row: &ReviewRow, items: &[ReviewItemRow])
    -> Result<(), StoreError>;
    /// Records a decision on a pending item; whether it was pending.
    fn decide_review_item(
        &mut self,
        review_id: &str,
        binding_id: &str,
        decision: &str,
        by: &str,
        at: Timestamp,
        note: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// Closes an open review; whether it was open.
    fn close_review(
        &mut self,
        id: &str,
        by: &str,
        at: Timestamp,
        attestation: Option<&str>,
    ) -> Result<bool, StoreError>;
}
