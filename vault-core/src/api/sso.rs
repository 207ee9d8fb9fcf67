//! Wire types of single sign-on (issue 9).
//!
//! | method | path | body → answer |
//! |---|---|---|
//! | GET | `/v1/auth/oidc/providers` | → [`SsoProviderList`] |
//! | GET | `/v1/auth/oidc/{provider}/start` | → 303 to the IdP (browser) |
//! | GET | `/v1/auth/oidc/{provider}/callback` | → 303 to `return_to` or the CLI (browser) |
//! | POST | `/v1/auth/oidc/token` | [`SsoCodeExchange`] → [`LoginResponse`](super::LoginResponse) |
//! | GET, POST | `/v1/users/{user}/identities` | [`LinkIdentity`] → [`SsoIdentityList`], [`SsoIdentity`] |
//! | DELETE | `/v1/users/{user}/identities/{id}` | → 204 |

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::Timestamp;
use crate::secret::SecretText;

/// One configured OpenID provider.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SsoProvider {
    /// Name (`vault login --oidc NAME`).
    pub name: String,
    /// Button text.
    pub display_name: String,
    /// Path that starts a browser login.
    pub start_url: String,
}

/// `GET /v1/auth/oidc/providers`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SsoProviderList {
    /// In the server's configuration order.
    pub providers: Vec<SsoProvider>,
}

/// `POST /v1/auth/oidc/token`: the CLI's one-time code and the PKCE
/// verifier whose S256 challenge started the flow (RFC 7636).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoCodeExchange {
    /// The code the CLI's loopback listener received.
    #[schema(value_type = String, min_length = 1, max_length = 128)]
    pub code: SecretText,
    /// 43-128 characters of `[A-Za-z0-9-._~]`.
    #[schema(value_type = String, min_length = 43, max_length = 128)]
    pub code_verifier: SecretText,
}

/// `POST /v1/users/{user}/identities`: links an identity at a configured
/// provider to the user, so that it signs in as them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkIdentity {
    /// A configured provider's name.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]*$", min_length = 1, max_length = 32)]
    pub provider: String,
    /// The user's `sub` at that provider (exactly as in its ID tokens).
    #[schema(min_length = 1, max_length = 255)]
    pub subject: String,
}

/// A user's identity at an IdP.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SsoIdentity {
    /// Id (for unlinking).
    pub id: String,
    /// Username.
    pub user: String,
    /// Provider name.
    pub provider: String,
    /// Issuer URL.
    pub issuer: String,
    /// `sub` at the issuer.
    pub subject: String,
    /// Email as last seen (shown only; never used to match).
    pub email: Option<String>,
    /// Linked.
    pub created_at: Timestamp,
    /// Last SSO login.
    pub last_login_at: Option<Timestamp>,
}

/// `GET /v1/users/{user}/identities`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SsoIdentityList {
    /// Identities.
    pub identities: Vec<SsoIdentity>,
}
