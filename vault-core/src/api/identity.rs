//! Wire types of identity and access (issue 4): login, sessions, users,
//! roles and bindings, service tokens, emergency access, offboarding.
//!
//! | method | path | body → answer |
//! |---|---|---|
//! | POST | `/v1/auth/login` | [`LoginRequest`] → [`LoginAnswer`] (a session, or a second-factor challenge) |
//! | POST | `/v1/auth/mfa/recovery` | [`MfaRecovery`] → [`LoginResponse`] |
//! | POST | `/v1/auth/logout` | → 204 (revokes the calling session) |
//! | GET | `/v1/auth/whoami` | → [`WhoAmI`] |
//! | POST | `/v1/auth/password` | [`ChangePassword`] → 204 (ends every session) |
//! | GET, POST | `/v1/users` | [`CreateUser`] → [`UserList`], [`User`] |
//! | DELETE | `/v1/users/{user}` | → 204 |
//! | POST | `/v1/users/{user}/disable`, `/enable` | → [`User`] |
//! | POST | `/v1/users/{user}/offboard` | [`Offboard`] → [`OffboardReport`] |
//! | GET, POST | `/v1/roles` | [`CreateRole`] → [`RoleList`], [`RoleInfo`] |
//! | PATCH | `/v1/roles/{role}` | [`UpdateRole`] → [`RoleInfo`] |
//! | DELETE | `/v1/roles/{role}` | → 204 |
//! | GET, POST | `/v1/bindings[?user=NAME]` | [`CreateBinding`] → [`BindingList`], [`Binding`] |
//! | DELETE | `/v1/bindings/{id}` | → 204 |
//! | GET | `/v1/sessions[?user=NAME\|?all=true]` | → [`SessionList`] |
//! | DELETE | `/v1/sessions/{id}` | → 204 |
//! | POST | `/v1/sessions/revoke` | [`RevokeSessions`] → [`Revoked`] |
//! | GET, POST | `/v1/tokens` | [`CreateServiceToken`] → [`ServiceTokenList`], [`CreatedServiceToken`] |
//! | DELETE | `/v1/tokens/{id}` | → 204 |
//! | GET, POST | `/v1/emergency` | [`OpenEmergency`] → [`EmergencyList`], [`EmergencyGrant`] |
//! | POST | `/v1/sys/danger-test-clock` | [`AdvanceTestClock`] → [`TestClock`] (dev + test clock only) |

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::Timestamp;
use crate::secret::SecretText;

/// `POST /v1/auth/login`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The username (normalized by the server).
    #[schema(min_length = 1, max_length = 256)]
    pub username: String,
    /// The password.
    #[schema(min_length = 1, max_length = 1024)]
    pub password: SecretText,
}

/// A new session: the token is shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// `<id>.<secret>`; send as `Authorization: Bearer`.
    pub token: SecretText,
    /// The session's public id.
    pub session_id: String,
    /// The normalized username.
    pub username: String,
    /// When the session ends at the latest (absolute lifetime).
    pub expires_at: Timestamp,
    /// Idle timeout, seconds.
    pub idle_timeout_secs: i64,
}

/// The answer to `POST /v1/auth/login`: a session, or (for a user who has
/// a passkey) a second-factor challenge and no session yet.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    /// The password was enough: a session.
    Session(LoginResponse),
    /// The account has a passkey: prove it to get a session.
    SecondFactor(MfaChallenge),
}

/// A second factor is needed: finish with `POST
/// /v1/auth/passkeys/login/finish` (the passkey's answer to `options`) or
/// `POST /v1/auth/mfa/recovery` (a recovery code), within 5 minutes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MfaChallenge {
    /// Always `true`.
    pub mfa_required: bool,
    /// Single-use, 5 minutes.
    pub ceremony_id: String,
    /// WebAuthn `PublicKeyCredentialRequestOptions` (`{"publicKey": ...}`)
    /// naming the account's passkeys.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// `POST /v1/auth/mfa/recovery`: a recovery code instead of the passkey.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaRecovery {
    /// From the password login's challenge.
    #[schema(min_length = 1, max_length = 128)]
    pub ceremony_id: String,
    /// One of the codes shown at the first passkey registration
    /// (`XXXX-XXXX-XXXX-XXXX`; case, spaces and dashes do not matter).
    #[schema(min_length = 1, max_length = 64)]
    pub recovery_code: SecretText,
}

/// A grant a session does not have because its login had no second factor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct WithheldGrant {
    /// Role name.
    pub role: String,
    /// `project/environment` pattern.
    pub scope: String,
    /// Why (a sentence for people).
    pub reason: String,
}

/// One role granted on a scope.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct GrantInfo {
    /// Role name.
    pub role: String,
    /// `project/environment` pattern.
    pub scope: String,
}

/// `GET /v1/auth/whoami`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    /// `root`, `user` or `service_token`.
    pub kind: String,
    /// Username, `root`, or the token's name.
    pub name: String,
    /// User id or token id.
    pub id: String,
    /// The session id, for a user session.
    pub session_id: Option<String>,
    /// How the session was made (`password`; later SSO and passkeys), for a
    /// user session.
    #[serde(default)]
    pub login_method: Option<String>,
    /// The roles in effect (from the database, this request).
    pub grants: Vec<GrantInfo>,
    /// End of an open emergency grant, if any.
    pub emergency_until: Option<Timestamp>,
    /// The second factor the session's login included (`passkey`,
    /// `recovery_code`, `amr:<value>`), for a user session.
    #[serde(default)]
    pub second_factor: Option<String>,
    /// Roles the user holds that this session does not, because they
    /// require a second factor the login did not include.
    #[serde(default)]
    pub withheld: Vec<WithheldGrant>,
}

/// `POST /v1/auth/password`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    /// The current password.
    pub current_password: SecretText,
    /// The new password (≥ 12 characters, strong enough).
    #[schema(min_length = 12, max_length = 1024)]
    pub new_password: SecretText,
}

/// `POST /v1/users`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Username (normalized: NFKC, lowercase, ASCII).
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]*$", min_length = 1, max_length = 64)]
    pub username: String,
    /// Initial password.
    #[schema(min_length = 12, max_length = 1024)]
    pub password: SecretText,
}

/// A user.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// Immutable id.
    pub id: String,
    /// Normalized username.
    pub username: String,
    /// Whether disabled.
    pub disabled: bool,
    /// Creation time.
    pub created_at: Timestamp,
}

/// `GET /v1/users`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    /// Users by name.
    pub users: Vec<User>,
}

/// `POST /v1/users/{user}/offboard`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Offboard {
    /// Start of the period whose reads are listed.
    pub since: Timestamp,
    /// End of the period (now when absent).
    #[serde(default)]
    pub until: Option<Timestamp>,
}

/// One resource read by an offboarded user.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReadItem {
    /// `project/env/name`, or `project/env` for a bundle (every secret in it).
    pub resource: String,
    /// How many successful reads.
    pub reads: u64,
    /// The last one.
    pub last_read_at: Timestamp,
}

/// Answer to offboarding: what was revoked and what to rotate.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OffboardReport {
    /// The user (now disabled).
    pub user: User,
    /// Sessions revoked.
    pub sessions_revoked: u64,
    /// Service tokens (created by the user) revoked.
    pub tokens_revoked: u64,
    /// Role bindings removed.
    pub bindings_removed: u64,
    /// Secrets read in the period (by the user or their tokens): rotate these.
    pub secrets_read: Vec<ReadItem>,
}

/// A role.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoleInfo {
    /// Name.
    pub name: String,
    /// Permission names (`secrets.read`, ...).
    pub permissions: Vec<String>,
    /// Built in (cannot be changed).
    pub builtin: bool,
    /// Session absolute lifetime for holders, seconds (server default when absent).
    pub session_absolute_secs: Option<i64>,
    /// Session idle timeout for holders, seconds.
    pub session_idle_secs: Option<i64>,
    /// Bindings apply only to sessions whose login included a second factor.
    #[serde(default)]
    pub require_mfa: bool,
}

/// `GET /v1/roles`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoleList {
    /// Built-in roles first, then custom ones.
    pub roles: Vec<RoleInfo>,
}

/// `POST /v1/roles`: a custom role.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    /// Name: `[a-z0-9-]`, not a built-in name.
    #[schema(pattern = "^[a-z][a-z0-9-]*$", min_length = 1, max_length = 64)]
    pub name: String,
    /// Permission names.
    #[schema(min_items = 1)]
    pub permissions: Vec<String>,
    /// Session absolute lifetime for holders, seconds.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub session_absolute_secs: Option<i64>,
    /// Session idle timeout for holders, seconds.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub session_idle_secs: Option<i64>,
    /// Bindings apply only to sessions whose login included a second
    /// factor (a passkey, or an SSO login with an `mfa_amr` value).
    #[serde(default)]
    pub require_mfa: bool,
}

/// `PATCH /v1/roles/{role}`: change a custom role.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    /// Whether bindings need a second factor.
    pub require_mfa: bool,
}

/// A role binding.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Binding {
    /// Id.
    pub id: String,
    /// Username.
    pub user: String,
    /// Role.
    pub role: String,
    /// Scope pattern.
    pub scope: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// Where it comes from: `manual` (an administrator), or `sso:<provider>`
    /// (the user's groups at that IdP, recomputed at every SSO login; not
    /// editable by hand).
    #[serde(default = "manual")]
    pub source: String,
}

fn manual() -> String {
    "manual".into()
}

/// `GET /v1/bindings`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BindingList {
    /// Bindings.
    pub bindings: Vec<Binding>,
}

/// `POST /v1/bindings`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBinding {
    /// Username.
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]*$", min_length = 1, max_length = 64)]
    pub user: String,
    /// Role name.
    #[schema(pattern = "^[a-z][a-z0-9-]*$", min_length = 1, max_length = 64)]
    pub role: String,
    /// Scope pattern (`payments/*`, `*/dev`, `*`).
    #[schema(min_length = 1, max_length = 128)]
    pub scope: String,
    /// Allow an exact scope naming a project or environment that does not
    /// exist yet (it takes effect once created). Without it such a scope is
    /// refused, so a typo (`payments/prd`) cannot wait silently.
    #[serde(default)]
    pub allow_future: bool,
}

/// A session (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Session {
    /// Public id.
    pub id: String,
    /// Username.
    pub user: String,
    /// Login time.
    pub created_at: Timestamp,
    /// Last authenticated use.
    pub last_used_at: Timestamp,
    /// When it ends if unused (idle or absolute, whichever first).
    pub expires_at: Timestamp,
    /// Source address at login.
    pub source: String,
    /// Whether this is the calling session.
    pub current: bool,
}

/// `GET /v1/sessions`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionList {
    /// Live sessions.
    pub sessions: Vec<Session>,
}

/// `POST /v1/sessions/revoke`: every session of a user, or everyone's.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeSessions {
    /// Revoke this user's sessions.
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]*$", min_length = 1, max_length = 64)]
    pub user: Option<String>,
    /// Revoke every session of every user.
    #[serde(default)]
    pub all: bool,
}

/// How many were revoked.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Revoked {
    /// Count.
    pub revoked: u64,
}

/// `POST /v1/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceToken {
    /// A label.
    #[serde(default)]
    pub name: Option<String>,
    /// Scope patterns (`payments/prod`, `*/dev`).
    #[schema(min_items = 1)]
    pub scopes: Vec<String>,
    /// Actions: `read`, `list`, `write`, `delete` (or `secrets.read`, ...).
    #[schema(min_items = 1)]
    pub actions: Vec<String>,
    /// Lifetime, seconds (default 30 days, at most 1 year).
    #[serde(default)]
    #[schema(minimum = 1)]
    pub ttl_secs: Option<i64>,
    /// Allowed source networks (CIDR); any when empty.
    #[serde(default)]
    pub networks: Vec<String>,
}

/// A service token (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceToken {
    /// Public id.
    pub id: String,
    /// Label.
    pub name: String,
    /// Creator (`root` or `user:NAME`).
    pub created_by: String,
    /// Scope patterns.
    pub scopes: Vec<String>,
    /// Permission names.
    pub actions: Vec<String>,
    /// Allowed networks.
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

/// Answer to `POST /v1/tokens`: the token is shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedServiceToken {
    /// `<id>.<secret>`.
    pub token: SecretText,
    /// Its description.
    pub service_token: ServiceToken,
}

/// `GET /v1/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceTokenList {
    /// Tokens.
    pub tokens: Vec<ServiceToken>,
    /// Root tokens (for a root token or with `sessions.manage` and `all`).
    #[serde(default)]
    pub root_tokens: Vec<crate::api::RootToken>,
}

/// `POST /v1/emergency`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenEmergency {
    /// Why (required, recorded in the audit trail).
    #[schema(
        min_length = 10,
        max_length = 1000,
        pattern = "^[^\\u0000-\\u001F\\u007F]*$"
    )]
    pub reason: String,
    /// Duration, seconds (default 1 h, at most 4 h).
    #[serde(default)]
    #[schema(minimum = 1)]
    pub ttl_secs: Option<i64>,
}

/// An emergency (break-glass) grant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EmergencyGrant {
    /// Id.
    pub id: String,
    /// Username.
    pub user: String,
    /// Reason.
    pub reason: String,
    /// Opened.
    pub created_at: Timestamp,
    /// Ends by itself.
    pub expires_at: Timestamp,
    /// Whether still in force.
    pub active: bool,
}

/// `GET /v1/emergency`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EmergencyList {
    /// Grants, newest first.
    pub grants: Vec<EmergencyGrant>,
}

/// `POST /v1/sys/danger-test-clock` (dev mode with the test clock only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceTestClock {
    /// Seconds to move the server's clock forward.
    #[schema(minimum = 0, maximum = 315360000)]
    pub advance_secs: i64,
}

/// The test clock's time.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TestClock {
    /// Now, as the server sees it.
    pub now: Timestamp,
}
