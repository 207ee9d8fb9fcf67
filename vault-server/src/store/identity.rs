//! The storage port for identity and access: users, roles, bindings,
//! sessions, service tokens, login throttling, emergency grants. Credentials
//! are only ever stored and returned as hashes.

use vault_core::clock::Timestamp;

use super::StoreError;

/// A user.
#[derive(Clone)]
pub struct UserRow {
    /// Immutable id.
    pub id: String,
    /// Normalized username.
    pub username: String,
    /// Argon2id PHC string (`None`: no password login).
    pub password_hash: Option<String>,
    /// Creation.
    pub created_at: Timestamp,
    /// Disabled since.
    pub disabled_at: Option<Timestamp>,
}

// Hand-written so the stored hash never reaches a log or a panic message.
impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("disabled_at", &self.disabled_at)
            .finish_non_exhaustive()
    }
}

/// A custom role.
#[derive(Debug, Clone)]
pub struct RoleRow {
    /// Name.
    pub name: String,
    /// Permission names.
    pub permissions: Vec<String>,
    /// Session absolute lifetime for holders.
    pub absolute_secs: Option<i64>,
    /// Session idle timeout for holders.
    pub idle_secs: Option<i64>,
    /// Bindings apply only to sessions with a second factor.
    pub require_mfa: bool,
    /// Creation.
    pub created_at: Timestamp,
}

/// A role binding.
#[derive(Debug, Clone)]
pub struct BindingRow {
    /// Id.
    pub id: String,
    /// User id.
    pub user_id: String,
    /// Username (joined).
    pub username: String,
    /// Role name.
    pub role: String,
    /// Scope pattern.
    pub scope: String,
    /// Creation.
    pub created_at: Timestamp,
    /// `manual`, or `sso:<provider>` (kept in step with the IdP's groups).
    pub source: String,
}

/// A session (hash only).
#[derive(Clone)]
pub struct SessionRow {
    /// Public id.
    pub id: String,
    /// Hash of the secret part.
    pub hash: Vec<u8>,
    /// User id.
    pub user_id: String,
    /// Username (joined).
    pub username: String,
    /// Login.
    pub created_at: Timestamp,
    /// Last authenticated use.
    pub last_used_at: Timestamp,
    /// Revocation.
    pub revoked_at: Option<Timestamp>,
    /// Source address at login.
    pub source: String,
    /// How identity was proven (`password`, `passkey`, `oidc`, ...).
    pub method: String,
    /// The second factor the login included (`passkey`, `recovery_code`,
    /// `amr:<value>`), if any.
    pub mfa: Option<String>,
    /// The last passkey proof in this session (login or step-up).
    pub passkey_at: Option<Timestamp>,
}

// Hand-written so the stored hash never reaches a log or a panic message.
impl std::fmt::Debug for SessionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRow")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// A service token (hash only).
#[derive(Clone)]
pub struct ServiceTokenRow {
    /// Public id.
    pub id: String,
    /// Hash of the secret part.
    pub hash: Vec<u8>,
    /// Label.
    pub name: String,
    /// `root` or a user id.
    pub created_by: String,
    /// Scope patterns.
    pub scopes: Vec<String>,
    /// Permission names.
    pub permissions: Vec<String>,
    /// Allowed networks (CIDR).
    pub networks: Vec<String>,
    /// Creation.
    pub created_at: Timestamp,
    /// Expiry.
    pub expires_at: Timestamp,
    /// Last use.
    pub last_used_at: Option<Timestamp>,
    /// Revocation.
    pub revoked_at: Option<Timestamp>,
}

// Hand-written so the stored hash never reaches a log or a panic message.
impl std::fmt::Debug for ServiceTokenRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTokenRow")
            .field("id", &self.id)
            .field("created_by", &self.created_by)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// An emergency grant.
#[derive(Debug, Clone)]
pub struct EmergencyRow {
    /// Id.
    pub id: String,
    /// User id.
    pub user_id: String,
    /// Username (joined).
    pub username: String,
    /// Reason.
    pub reason: String,
    /// Opened.
    pub created_at: Timestamp,
    /// Ends.
    pub expires_at: Timestamp,
    /// Closed early.
    pub revoked_at: Option<Timestamp>,
}

/// Identity queries.
pub trait IdentityReader {
    /// A user by normalized name.
    fn user_by_name(&self, username: &str) -> Result<Option<UserRow>, StoreError>;
    /// A user by id.
    fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError>;
    /// Every user, by name.
    fn users(&self) -> Result<Vec<UserRow>, StoreError>;
    /// Custom roles, by name.
    fn roles(&self) -> Result<Vec<RoleRow>, StoreError>;
    /// Bindings, of one user or all.
    fn bindings(&self, user_id: Option<&str>) -> Result<Vec<BindingRow>, StoreError>;
    /// A session by id.
    fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError>;
    /// How many sessions [`IdentityWriter::prune_sessions`] would delete.
    fn sessions_ended_before(
        &self,
        created_before: Timestamp,
        revoked_before: Timestamp,
    ) -> Result<usize, StoreError>;
    /// Unrevoked sessions, of one user or all.
    fn sessions(&self, user_id: Option<&str>) -> Result<Vec<SessionRow>, StoreError>;
    /// A service token by id.
    fn service_token(&self, id: &str) -> Result<Option<ServiceTokenRow>, StoreError>;
    /// Service tokens, of one creator or all.
    fn service_tokens(&self, created_by: Option<&str>) -> Result<Vec<ServiceTokenRow>, StoreError>;
    /// Failures and last failure time for a throttle key.
    fn throttle(&self, key: &str) -> Result<Option<(u32, Timestamp)>, StoreError>;
    /// Emergency grants, of one user or all, newest first.
    fn emergency_grants(&self, user_id: Option<&str>) -> Result<Vec<EmergencyRow>, StoreError>;
}

/// Identity changes (inside the writer's transaction).
pub trait IdentityWriter {
    /// Creates a user.
    fn insert_user(&mut self, row: &UserRow) -> Result<(), StoreError>;
    /// Sets or clears `disabled_at`.
    fn set_user_disabled(&mut self, id: &str, at: Option<Timestamp>) -> Result<(), StoreError>;
    /// Replaces the password hash.
    fn set_password_hash(&mut self, id: &str, hash: &str) -> Result<(), StoreError>;
    /// Deletes a user (bindings, sessions and grants go with it).
    fn delete_user(&mut self, id: &str) -> Result<(), StoreError>;
    /// Creates a custom role.
    fn insert_role(&mut self, row: &RoleRow) -> Result<(), StoreError>;
    /// Sets whether a custom role needs a second factor; whether it exists.
    fn set_role_require_mfa(&mut self, name: &str, require: bool) -> Result<bool, StoreError>;
    /// Deletes a custom role and its bindings; returns the affected user ids.
    fn delete_role(&mut self, name: &str) -> Result<Vec<String>, StoreError>;
    /// Creates a binding.
    fn insert_binding(&mut self, row: &BindingRow) -> Result<(), StoreError>;
    /// Deletes a binding; returns its user id if it existed.
    fn delete_binding(&mut self, id: &str) -> Result<Option<String>, StoreError>;
    /// Deletes every binding of a user; returns how many.
    fn delete_bindings_of(&mut self, user_id: &str) -> Result<u64, StoreError>;
    /// Stores a session.
    fn insert_session(&mut self, row: &SessionRow) -> Result<(), StoreError>;
    /// Records a passkey proof (step-up) in a live session; whether it was.
    fn set_session_passkey_at(&mut self, id: &str, at: Timestamp) -> Result<bool, StoreError>;
    /// Records authenticated use.
    fn touch_session(&mut self, id: &str, now: Timestamp) -> Result<(), StoreError>;
    /// Deletes sessions created before `created_before` (past any possible
    /// lifetime) or revoked before `revoked_before`; how many.
    fn prune_sessions(
        &mut self,
        created_before: Timestamp,
        revoked_before: Timestamp,
    ) -> Result<usize, StoreError>;
    /// Revokes one session; whether it was live.
    fn revoke_session(&mut self, id: &str, now: Timestamp) -> Result<bool, StoreError>;
    /// Revokes every live session of a user (or of everyone); how many.
    fn revoke_sessions(&mut self, user_id: Option<&str>, now: Timestamp)
    -> Result<u64, StoreError>;
    /// Stores a service token.
    fn insert_service_token(&mut self, row: &ServiceTokenRow) -> Result<(), StoreError>;
    /// Records use of a service token.
    fn touch_service_token(&mut self, id: &str, now: Timestamp) -> Result<(), StoreError>;
    /// Revokes a service token; whether it was live.
    fn revoke_service_token(&mut self, id: &str, now: Timestamp) -> Result<bool, StoreError>;
    /// Revokes every live token made by `created_by`; their ids.
    fn revoke_service_tokens_of(
        &mut self,
        created_by: &str,
        now: Timestamp,
    ) -> Result<Vec<String>, StoreError>;
    /// Sets a throttle counter (`None` clears it).
    fn set_throttle(
        &mut self,
        key: &str,
        value: Option<(u32, Timestamp)>,
    ) -> Result<(), StoreError>;
    /// Stores an emergency grant.
    fn insert_emergency(&mut self, row: &EmergencyRow) -> Result<(), StoreError>;
    /// Ends one open emergency grant; whether it was open.
    fn end_emergency(&mut self, id: &str, now: Timestamp) -> Result<bool, StoreError>;
    /// Ends every open emergency grant of a user.
    fn revoke_emergency_of(&mut self, user_id: &str, now: Timestamp) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_stored_hashes() {
        let user = UserRow {
            id: "u1".into(),
            username: "alice".into(),
            password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaGhhc2g".into()),
            created_at: Timestamp::from_millis(0),
            disabled_at: None,
        };
        let shown = format!("{user:?}");
        assert!(shown.contains("alice"));
        assert!(
            !shown.contains("argon2id") && !shown.contains("aGFzaGhhc2g"),
            "{shown}"
        );
    }
}
