//! The storage port for passkeys: users' WebAuthn credentials, and the
//! ceremonies in flight (state kept server-side only, single-use).

use vault_core::clock::Timestamp;

use super::StoreError;

/// A stored passkey.
#[derive(Clone)]
pub struct PasskeyRow {
    /// Id (`pk_...`).
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Owner's name (joined).
    pub username: String,
    /// The user's label.
    pub name: String,
    /// The authenticator's credential id.
    pub credential_id: Vec<u8>,
    /// webauthn-rs `Passkey` as JSON (public key and counter; no secret).
    pub passkey: String,
    /// Sign counter last accepted.
    pub counter: i64,
    /// Registered.
    pub created_at: Timestamp,
    /// Last login with it.
    pub last_used_at: Option<Timestamp>,
}

impl std::fmt::Debug for PasskeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyRow")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A ceremony in flight.
#[derive(Clone)]
pub struct CeremonyRow {
    /// SHA-256 of the ceremony id handed out.
    pub id_hash: Vec<u8>,
    /// `register`, `login` (discoverable), `mfa` (second factor after the
    /// password of `user_id`) or `step_up` (of `session_id`).
    pub kind: String,
    /// Registration: whose.
    pub user_id: Option<String>,
    /// Registration: the new passkey's name.
    pub name: Option<String>,
    /// Step-up: the session the passkey check refreshes.
    pub session_id: Option<String>,
    /// webauthn-rs state, JSON (never leaves the server).
    pub state: String,
    /// Expiry (5 minutes).
    pub expires_at: Timestamp,
}

/// Passkey queries.
pub trait PasskeyReader {
    /// A user's passkeys, or everyone's.
    fn passkeys(&self, user_id: Option<&str>) -> Result<Vec<PasskeyRow>, StoreError>;
    /// The passkey with this credential id.
    fn passkey_by_credential(&self, credential_id: &[u8])
    -> Result<Option<PasskeyRow>, StoreError>;
    /// How many unused recovery codes a user has.
    fn recovery_codes_left(&self, user_id: &str) -> Result<u64, StoreError>;
}

/// Passkey changes (inside the writer's transaction).
pub trait PasskeyWriter {
    /// Stores a passkey; `false` when its credential id is registered already.
    fn insert_passkey(&mut self, row: &PasskeyRow) -> Result<bool, StoreError>;
    /// Stores a new counter (and passkey JSON) only if the stored counter is
    /// still `old_counter` (compare and swap); whether it was.
    fn swap_passkey_counter(
        &mut self,
        id: &str,
        old_counter: i64,
        new_counter: i64,
        passkey: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Deletes one of a user's passkeys; whether it existed.
    fn delete_passkey(&mut self, user_id: &str, id: &str) -> Result<bool, StoreError>;
    /// Renames one of a user's passkeys; whether it existed.
    fn rename_passkey(&mut self, user_id: &str, id: &str, name: &str) -> Result<bool, StoreError>;
    /// Deletes all of a user's passkeys and recovery codes; how many passkeys.
    fn reset_passkeys(&mut self, user_id: &str) -> Result<u64, StoreError>;
    /// Stores new recovery codes (their hashes) for a user, replacing any.
    fn replace_recovery_codes(
        &mut self,
        user_id: &str,
        hashes: &[Vec<u8>],
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// Marks a user's unused recovery code used; whether it was one.
    fn use_recovery_code(
        &mut self,
        user_id: &str,
        hash: &[u8],
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Stores a ceremony; expired ones are dropped on the way.
    fn insert_ceremony(&mut self, row: &CeremonyRow, now: Timestamp) -> Result<(), StoreError>;
    /// Removes and returns a ceremony (single use).
    fn take_ceremony(&mut self, id_hash: &[u8]) -> Result<Option<CeremonyRow>, StoreError>;
}
