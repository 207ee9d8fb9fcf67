//! Wire types of passkeys (issue 10). Options and credentials are
//! webauthn-rs's JSON shapes, which browsers read with
//! `PublicKeyCredential.parseCreationOptionsFromJSON` /
//! `parseRequestOptionsFromJSON` and produce with `credential.toJSON()`.
//!
//! | method | path | body → answer |
//! |---|---|---|
//! | POST | `/v1/auth/passkeys/register/start` | [`StartPasskeyRegistration`] → [`PasskeyCeremony`] |
//! | POST | `/v1/auth/passkeys/register/finish` | [`FinishPasskeyCeremony`] → [`PasskeyInfo`] |
//! | POST | `/v1/auth/passkeys/login/start` | → [`PasskeyCeremony`] |
//! | POST | `/v1/auth/passkeys/login/finish` | [`FinishPasskeyCeremony`] → [`LoginResponse`](super::LoginResponse) |
//! | GET | `/v1/auth/passkeys` | → [`PasskeyList`] |
//! | PATCH | `/v1/auth/passkeys/{id}` | [`RenamePasskey`] → [`PasskeyInfo`] |
//! | DELETE | `/v1/auth/passkeys/{id}` | → 204 |
//! | POST | `/v1/auth/passkeys/step-up/start` | → [`PasskeyCeremony`] |
//! | POST | `/v1/auth/passkeys/step-up/finish` | [`FinishPasskeyCeremony`] → 204 |
//! | POST | `/v1/users/{name}/passkeys/reset` | → [`PasskeyReset`] |

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::Timestamp;
use crate::secret::SecretText;

/// `POST /v1/auth/passkeys/register/start`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartPasskeyRegistration {
    /// A label for the passkey ("laptop"), 1-64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
}

/// A ceremony started: its id, and the options for the authenticator.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasskeyCeremony {
    /// Single-use, 5 minutes.
    pub ceremony_id: String,
    /// WebAuthn `PublicKeyCredentialCreationOptions` or `...RequestOptions`
    /// as JSON (`{"publicKey": {...}}`).
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// `.../finish`: the ceremony and the authenticator's answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishPasskeyCeremony {
    /// From the start.
    #[schema(min_length = 1, max_length = 128)]
    pub ceremony_id: String,
    /// `credential.toJSON()`.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// A passkey (never its key material).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasskeyInfo {
    /// Id.
    pub id: String,
    /// Label.
    pub name: String,
    /// Registered.
    pub created_at: Timestamp,
    /// Last login with it.
    pub last_used_at: Option<Timestamp>,
}

/// `GET /v1/auth/passkeys`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasskeyList {
    /// The caller's passkeys, oldest first.
    pub passkeys: Vec<PasskeyInfo>,
}

/// `POST /v1/auth/passkeys/register/finish`: the new passkey, and the first
/// time only, the account's recovery codes (shown once, stored hashed).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegisteredPasskey {
    /// The passkey.
    #[serde(flatten)]
    pub passkey: PasskeyInfo,
    /// 10 one-time codes, each replacing the passkey once; absent after the
    /// first registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<SecretText>>,
}

/// `PATCH /v1/auth/passkeys/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenamePasskey {
    /// The new label, 1-64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
}

/// `POST /v1/users/{name}/passkeys/reset`: what was removed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasskeyReset {
    /// Passkeys deleted.
    pub passkeys_removed: u64,
    /// Sessions ended.
    pub sessions_revoked: u64,
}
