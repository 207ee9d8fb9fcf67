//! Authentication of sessions and service tokens, run on a reader
//! connection: the credential's hash is compared in constant time, then its
//! state (revoked, expired, idle, disabled user, source network) and the
//! caller's grants are read from the database. The answer is cached until
//! the next change of any kind or the time it stops holding (see
//! `service::cache`), so a revocation still takes effect at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use vault_core::access::{Grant, Part, Permission, Role, Scope, TokenScope};
use vault_core::clock::{ManualClock, Timestamp};
use vault_core::crypto::password::PasswordParams;
use vault_core::crypto::token::{TokenId, TokenSecret};
use vault_core::crypto::verify_token_hash;
use vault_core::session::{Factors, SessionPolicy, ThrottlePolicy};

use super::cidr::Cidr;
use crate::config::IdentityConfig;
use crate::service::{Error, Kind, Principal, Result};
use crate::store::Reader;
use crate::store::identity::{BindingRow, RoleRow};

/// Identity settings, taken from the config once.
#[derive(Debug, Clone)]
pub struct IdentitySettings {
    /// Default session lifetimes.
    pub session: SessionPolicy,
    /// Per built-in role overrides.
    pub role_sessions: BTreeMap<String, (Option<i64>, Option<i64>)>,
    /// Throttling per account (per address: ten times the free failures).
    pub throttle: ThrottlePolicy,
    /// Concurrent password hashes.
    pub max_concurrent_hashes: usize,
    /// Argon2id parameters.
    pub password_params: PasswordParams,
    /// Emergency grant default and maximum, seconds.
    pub emergency_secs: (i64, i64),
    /// The built-in `admin` role requires a second factor.
    pub admin_requires_mfa: bool,
    /// How long a passkey proof covers dangerous actions, seconds.
    pub step_up_secs: i64,
    /// How often an access review must be completed, days.
    pub access_review_days: i64,
    /// The dev-mode test clock, when enabled.
    pub test_clock: Option<ManualClock>,
}

impl IdentitySettings {
    /// From the `[identity]` section.
    pub fn from_config(c: &IdentityConfig, test_clock: Option<ManualClock>) -> Self {
        Self {
            session: c.session_policy(),
            role_sessions: c
                .role_sessions
                .iter()
                .map(|(k, v)| (k.clone(), (v.absolute_secs, v.idle_secs)))
                .collect(),
            throttle: c.throttle_policy(),
            max_concurrent_hashes: c.max_concurrent_hashes,
            password_params: if c.danger_weak_password_hashing {
                PasswordParams::danger_weak_for_tests()
            } else {
                PasswordParams::default()
            },
            emergency_secs: (c.emergency_default_secs, c.emergency_max_secs),
            admin_requires_mfa: c.admin_requires_mfa,
            step_up_secs: c.step_up_secs,
            access_review_days: c.access_review_days,
            test_clock,
        }
    }

    /// The per-address throttle: more lenient than per account (NAT, shared
    /// offices), still growing.
    pub fn address_throttle(&self) -> ThrottlePolicy {
        ThrottlePolicy {
            free_failures: self.throttle.free_failures.saturating_mul(10),
            ..self.throttle
        }
    }
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self::from_config(&IdentityConfig::default(), None)
    }
}

/// Whether pattern `outer` covers every resource pattern `inner` covers.
pub fn scope_within(inner: &Scope, outer: &Scope) -> bool {
    fn part<N: PartialEq>(i: &Part<N>, o: &Part<N>) -> bool {
        match (o, i) {
            (Part::Any, _) => true,
            (Part::Exact(a), Part::Exact(b)) => a == b,
            (Part::Exact(_), Part::Any) => false,
        }
    }
    part(&inner.project, &outer.project) && part(&inner.environment, &outer.environment)
}

/// Whether `grants` give `perm` on all of `scope` (emergency grants never
/// count: they cannot be passed on).
pub fn grants_hold(grants: &[Grant], perm: Permission, scope: &Scope) -> bool {
    grants.iter().any(|g| {
        g.role.name != EMERGENCY_ROLE
            && g.role.allows(perm)
            && if perm.is_global() {
                g.scope.is_all()
            } else {
                scope_within(scope, &g.scope)
            }
    })
}

/// A token's grants cut down to what its creator holds now.
pub fn narrow(token: &[Grant], creator: &[Grant]) -> Vec<Grant> {
    token
        .iter()
        .map(|g| Grant {
            role: Role::new(
                &g.role.name,
                g.role
                    .permissions
                    .iter()
                    .copied()
                    .filter(|p| grants_hold(creator, *p, &g.scope)),
            ),
            scope: g.scope.clone(),
        })
        .collect()
}

/// The role name of an emergency grant (never usable to mint tokens).
pub const EMERGENCY_ROLE: &str = "emergency";

/// A role by name: built-in first, then custom.
pub fn find_role(name: &str, custom: &[RoleRow]) -> Option<Role> {
    Role::builtin(name).or_else(|| {
        custom.iter().find(|r| r.name == name).map(|r| {
            Role::new(
                &r.name,
                r.permissions.iter().filter_map(|p| Permission::parse(p)),
            )
        })
    })
}

/// Whether bindings to role `name` apply only to sessions with a second
/// factor: a custom role's `require_mfa`, or the built-in `admin` when
/// `identity.admin_requires_mfa` is set.
pub fn role_requires_mfa(name: &str, custom: &[RoleRow], s: &IdentitySettings) -> bool {
    if name == "admin" {
        return s.admin_requires_mfa;
    }
    custom.iter().any(|r| r.name == name && r.require_mfa)
}

/// Grants and the session policy of a user's bindings. Bindings naming a
/// role or scope that no longer parses grant nothing.
pub fn resolve(
    bindings: &[BindingRow],
    custom: &[RoleRow],
    s: &IdentitySettings,
) -> (Vec<Grant>, SessionPolicy) {
    let mut grants = Vec::new();
    let mut policy = s.session;
    for b in bindings {
        let (Some(role), Ok(scope)) = (find_role(&b.role, custom), Scope::parse(&b.scope)) else {
            continue;
        };
        let over = custom
            .iter()
            .find(|r| r.name == b.role)
            .map(|r| (r.absolute_secs, r.idle_secs))
            .or_else(|| s.role_sessions.get(&b.role).copied());
        if let Some((abs, idle)) = over {
            policy = policy.strictest(SessionPolicy {
                absolute_secs: abs.unwrap_or(policy.absolute_secs),
                idle_secs: idle.unwrap_or(policy.idle_secs),
            });
        }
        grants.push(Grant { role, scope });
    }
    (grants, policy)
}

fn invalid() -> Error {
    Error::new(Kind::Unauthenticated, "auth.invalid_token", "invalid token")
}

/// Checks a credential that is not the root token: a session or a service
/// token. `now` and `source` come from the request. Answers the principal
/// and the time until which this answer holds if nothing changes (session
/// end, emergency grant end, token expiry).
pub fn check_credential(
    r: &dyn Reader,
    id: &TokenId,
    secret: &TokenSecret,
    now: Timestamp,
    source: &str,
    s: &Arc<IdentitySettings>,
) -> Result<(Principal, Option<Timestamp>)> {
    if let Some(sess) = r.session(id.as_str())? {
        if !verify_token_hash(secret, &sess.hash) || sess.revoked_at.is_some() {
            return Err(invalid());
        }
        let Some(user) = r.user_by_id(&sess.user_id)? else {
            return Err(invalid());
        };
        if user.disabled_at.is_some() {
            return Err(invalid());
        }
        let roles = r.roles()?;
        let (all, policy) = resolve(&r.bindings(Some(&user.id))?, &roles, s);
        let factors = Factors {
            mfa: sess.mfa.clone(),
            passkey_at: sess.passkey_at,
        };
        // A role that requires a second factor is simply not held by a
        // session whose login had none.
        let (mut grants, withheld): (Vec<Grant>, Vec<Grant>) = if factors.is_mfa() {
            (all, Vec::new())
        } else {
            all.into_iter()
                .partition(|g| !role_requires_mfa(&g.role.name, &roles, s))
        };
        let has_passkey = !r.passkeys(Some(&user.id))?.is_empty();
        if policy
            .check(sess.created_at, sess.last_used_at, now)
            .is_err()
        {
            return Err(Error::new(
                Kind::Unauthenticated,
                "auth.session_expired",
                "the session has ended (idle or absolute timeout); log in again",
            ));
        }
        let emergency_until = r
            .emergency_grants(Some(&user.id))?
            .into_iter()
            .filter(|g| g.revoked_at.is_none() && g.expires_at > now)
            .map(|g| g.expires_at)
            .max();
        if emergency_until.is_some() {
            grants.push(Grant {
                role: Role::new(
                    EMERGENCY_ROLE,
                    [Permission::SecretsRead, Permission::SecretsList],
                ),
                scope: Scope::all(),
            });
        }
        let ends = policy.ends_at(sess.created_at, sess.last_used_at);
        let valid_until = emergency_until.map_or(ends, |e| e.min(ends));
        return Ok((
            Principal::User {
                user_id: user.id,
                username: user.username,
                session_id: sess.id,
                last_used_at: sess.last_used_at,
                grants,
                emergency_until,
                factors,
                has_passkey,
                withheld,
            },
            Some(valid_until),
        ));
    }
    if let Some(t) = r.service_token(id.as_str())? {
        if !verify_token_hash(secret, &t.hash) || t.revoked_at.is_some() {
            return Err(invalid());
        }
        if now >= t.expires_at {
            return Err(Error::new(
                Kind::Unauthenticated,
                "auth.token_expired",
                "the service token has expired",
            ));
        }
        // A user's token never carries more than the user holds now.
        // Root's tokens, and tokens minted under a role in the server's
        // configuration (the operator's trust), are bounded by their scope
        // alone.
        let creator_grants = if t.created_by == "root" || t.created_by.starts_with("workload:") {
            None
        } else {
            let creator = r.user_by_id(&t.created_by)?;
            if creator.is_none_or(|u| u.disabled_at.is_some()) {
                return Err(invalid());
            }
            Some(resolve(&r.bindings(Some(&t.created_by))?, &r.roles()?, s).0)
        };
        if !t.networks.is_empty() {
            let ip = source.parse::<std::net::IpAddr>().ok();
            let inside = ip.is_some_and(|ip| {
                t.networks
                    .iter()
                    .filter_map(|n| Cidr::parse(n))
                    .any(|n| n.contains(ip))
            });
            if !inside {
                return Err(Error::new(
                    Kind::Forbidden,
                    "auth.network_not_allowed",
                    "this service token may not be used from this address",
                ));
            }
        }
        let scope = TokenScope {
            scopes: t
                .scopes
                .iter()
                .filter_map(|s| Scope::parse(s).ok())
                .collect(),
            permissions: t
                .permissions
                .iter()
                .filter_map(|p| Permission::parse(p))
                .collect(),
        };
        return Ok((
            Principal::Service {
                token_id: t.id,
                name: t.name,
                created_by: t.created_by,
                last_used_at: t.last_used_at,
                grants: match creator_grants {
                    Some(held) => narrow(&scope.grants(), &held),
                    None => scope.grants(),
                },
            },
            Some(t.expires_at),
        ));
    }
    Err(invalid())
}
