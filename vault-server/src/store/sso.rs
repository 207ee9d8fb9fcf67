//! The storage port for single sign-on: flows in flight, one-time CLI
//! codes, and the links between users and their identities at IdPs.
//! Secrets of a flow are stored as hashes where the server only needs to
//! recognize them (`state`, the browser's pre-login cookie, CLI codes).

use vault_core::clock::Timestamp;

use super::StoreError;

/// An authorization request in flight (taken once by its `state`).
#[derive(Clone)]
pub struct FlowRow {
    /// SHA-256 of the `state` sent to the IdP.
    pub state_hash: Vec<u8>,
    /// Provider name.
    pub provider: String,
    /// SHA-256 of the starting browser's pre-login cookie.
    pub browser_hash: Vec<u8>,
    /// RFC 7636 code verifier.
    pub pkce_verifier: String,
    /// The `nonce` sent in the authorization request.
    pub nonce: String,
    /// Where the browser goes afterwards (already checked).
    pub return_to: String,
    /// The starting client's address.
    pub source: String,
    /// The CLI's loopback port, when `vault login --oidc` started the flow.
    pub cli_port: Option<u16>,
    /// The CLI's S256 challenge for its one-time code.
    pub cli_challenge: Option<String>,
    /// Start.
    pub created_at: Timestamp,
    /// Expiry (10 minutes after the start).
    pub expires_at: Timestamp,
}

// Hand-written: the verifier and nonce never reach a log.
impl std::fmt::Debug for FlowRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowRow")
            .field("provider", &self.provider)
            .field("return_to", &self.return_to)
            .field("cli_port", &self.cli_port)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A one-time code for the CLI's loopback listener (hash only).
#[derive(Debug, Clone)]
pub struct CliCodeRow {
    /// SHA-256 of the code.
    pub code_hash: Vec<u8>,
    /// The user who logged in.
    pub user_id: String,
    /// Provider name.
    pub provider: String,
    /// The CLI's S256 challenge.
    pub challenge: String,
    /// Expiry (60 seconds).
    pub expires_at: Timestamp,
    /// How the browser signed in (`oidc`; `password`, `passkey`, ... for
    /// `vault login --web`): the CLI's session says the same.
    pub method: String,
    /// The second factor of that sign-in, if any.
    pub mfa: Option<String>,
    /// Its passkey proof, if any.
    pub passkey_at: Option<Timestamp>,
}

/// A user's identity at an IdP: (issuer, subject) is the key.
#[derive(Debug, Clone)]
pub struct IdentityRow {
    /// Id (`idn_...`).
    pub id: String,
    /// The IdP's issuer URL.
    pub issuer: String,
    /// `sub` at that issuer.
    pub subject: String,
    /// The vault user.
    pub user_id: String,
    /// Username (joined).
    pub username: String,
    /// Provider name it was linked through.
    pub provider: String,
    /// Email as last seen (display only).
    pub email: Option<String>,
    /// Linked.
    pub created_at: Timestamp,
    /// Last SSO login.
    pub last_login_at: Option<Timestamp>,
}

/// SSO queries.
pub trait SsoReader {
    /// The identity with this key.
    fn identity_by_subject(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<IdentityRow>, StoreError>;
    /// Identities of one user, or of all.
    fn identities(&self, user_id: Option<&str>) -> Result<Vec<IdentityRow>, StoreError>;
}

/// SSO changes (inside the writer's transaction).
pub trait SsoWriter {
    /// Stores a flow; flows expired before `now` are dropped on the way.
    /// `false` (nothing stored) when [`MAX_FLOWS`] are in flight, or
    /// [`MAX_FLOWS_PER_SOURCE`] from the row's source address.
    ///
    /// [`MAX_FLOWS`]: crate::service::sso::MAX_FLOWS
    /// [`MAX_FLOWS_PER_SOURCE`]: crate::service::sso::MAX_FLOWS_PER_SOURCE
    fn insert_oidc_flow(&mut self, row: &FlowRow, now: Timestamp) -> Result<bool, StoreError>;
    /// Removes and returns the flow with this state hash (single use),
    /// whether or not it has expired; the caller checks.
    fn take_oidc_flow(&mut self, state_hash: &[u8]) -> Result<Option<FlowRow>, StoreError>;
    /// Stores a CLI code; expired codes are dropped on the way.
    fn insert_cli_code(&mut self, row: &CliCodeRow, now: Timestamp) -> Result<(), StoreError>;
    /// Removes and returns the CLI code with this hash (single use).
    fn take_cli_code(&mut self, code_hash: &[u8]) -> Result<Option<CliCodeRow>, StoreError>;
    /// Links an identity to a user.
    fn insert_identity(&mut self, row: &IdentityRow) -> Result<(), StoreError>;
    /// Unlinks one identity; the removed row.
    fn delete_identity(&mut self, id: &str) -> Result<Option<IdentityRow>, StoreError>;
    /// Records an SSO login through an identity (and the email seen).
    fn touch_identity(
        &mut self,
        id: &str,
        email: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// Makes the bindings of `user_id` from `source` exactly `wanted`
    /// ((new id, role, scope); the id is used only if the pair is added),
    /// leaving other sources alone; a pair the user
    /// already holds from another source is not added twice. Returns the
    /// pairs added and removed.
    #[allow(clippy::type_complexity)]
    fn set_source_bindings(
        &mut self,
        user_id: &str,
        source: &str,
        wanted: &[(String, String, String)],
        now: Timestamp,
    ) -> Result<(Vec<(String, String)>, Vec<(String, String)>), StoreError>;
}
