//! Wire types of workload identity (issue 15).
//!
//! | method | path | body → answer |
//! |---|---|---|
//! | GET | `/v1/auth/workload/issuers` | → [`WorkloadIssuerList`] |
//! | POST | `/v1/auth/workload/login` | [`WorkloadLogin`] → [`CreatedServiceToken`](super::CreatedServiceToken) |
//! | GET, POST | `/v1/workload/roles` | [`CreateWorkloadRole`] → [`WorkloadRoleList`], [`WorkloadRole`] |
//! | DELETE | `/v1/workload/roles/{issuer}/{name}` | → 204 |

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::Timestamp;
use crate::secret::SecretText;

/// `POST /v1/auth/workload/login`: a CI job's or pod's JWT for a token.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadLogin {
    /// A configured issuer's name (`github`).
    #[schema(pattern = "^[a-z0-9][a-z0-9-]*$", min_length = 1, max_length = 32)]
    pub issuer: String,
    /// A role of that issuer.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]*$", min_length = 1, max_length = 64)]
    pub role: String,
    /// The JWT (RFC 7519) the platform gave the job; never stored or logged.
    #[schema(value_type = String, min_length = 1, max_length = 16384)]
    pub jwt: SecretText,
}

/// A configured issuer (what a CLI needs to ask its platform for a token).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WorkloadIssuerInfo {
    /// Name.
    pub name: String,
    /// `iss` of its tokens.
    pub issuer: String,
    /// Accepted audiences; a token's `aud` must hold one.
    pub audiences: Vec<String>,
}

/// `GET /v1/auth/workload/issuers`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WorkloadIssuerList {
    /// In configuration order.
    pub issuers: Vec<WorkloadIssuerInfo>,
}

/// `POST /v1/workload/roles`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkloadRole {
    /// A configured issuer's name.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]*$", min_length = 1, max_length = 32)]
    pub issuer: String,
    /// Role name.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]*$", min_length = 1, max_length = 64)]
    pub name: String,
    /// Claims a token must carry (at least one), e.g.
    /// `{"repository": "acme/payments", "ref": "refs/heads/main"}`.
    pub bound_claims: BTreeMap<String, String>,
    /// `*` in bound claim values matches any run of characters.
    #[serde(default)]
    pub bound_claims_glob: bool,
    /// Scope of the minted tokens (`payments/prod`).
    #[schema(min_length = 1, max_length = 128)]
    pub scope: String,
    /// Their actions: `read`, `list`, `write`, `delete`.
    #[schema(min_items = 1)]
    pub actions: Vec<String>,
    /// Their lifetime, seconds (default 900, at most 3600).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3600)]
    pub ttl_secs: Option<i64>,
}

/// A workload role.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WorkloadRole {
    /// Issuer name.
    pub issuer: String,
    /// Role name.
    pub name: String,
    /// Claims a token must carry.
    pub bound_claims: BTreeMap<String, String>,
    /// Whether `*` patterns apply.
    pub bound_claims_glob: bool,
    /// Scope of minted tokens.
    pub scope: String,
    /// Permission names.
    pub actions: Vec<String>,
    /// Lifetime of minted tokens, seconds.
    pub ttl_secs: i64,
    /// `config` (the server's TOML) or `api`.
    pub source: String,
    /// Who made it (`api` roles): `root` or `user:NAME`.
    pub created_by: Option<String>,
    /// When (`api` roles).
    pub created_at: Option<Timestamp>,
}

/// `GET /v1/workload/roles`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WorkloadRoleList {
    /// Roles, configured ones first.
    pub roles: Vec<WorkloadRole>,
}
