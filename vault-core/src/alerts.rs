//! Alerts on critical events (HIPAA 45 CFR 164.308(a)(6), security incident
//! procedures): which audit records are which events, how deliveries are
//! signed (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256>`), when a failed delivery is
//! tried again, and which URLs and addresses a delivery may go to (OWASP
//! SSRF Prevention Cheat Sheet). Pure functions; the server does the I/O.

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac as _;

use crate::audit::{AuditRecord, Outcome};

/// The events a subscription can ask for, with what each means.
pub const EVENTS: &[(&str, &str)] = &[
    (
        "emergency.open",
        "someone opened emergency (break-glass) access",
    ),
    (
        "secret.integrity_failure",
        "a stored ciphertext failed its integrity check (tampering or corruption)",
    ),
    (
        "audit.chain_broken",
        "the audit trail's hash chain does not verify",
    ),
    (
        "auth.throttled",
        "logins to an account or from an address are being throttled (guessing)",
    ),
    (
        "auth.cloned_authenticator",
        "a passkey's sign counter went backwards (a cloned authenticator)",
    ),
    (
        "sys.unseal_failed",
        "a wrong unseal share, passphrase or key was given",
    ),
    ("sys.seal", "the vault was sealed"),
    ("sys.rotate_root", "the root key was rotated"),
    ("project.delete", "a project was deleted (crypto-shredded)"),
    ("user.offboard", "a user was offboarded"),
    (
        "user.passkeys_reset",
        "an administrator reset a user's passkeys",
    ),
    (
        "access_review.close",
        "an access review was closed and attested",
    ),
    (
        "alert.test",
        "a test delivery asked for by an administrator",
    ),
];

/// Whether `name` is an event a subscription can ask for.
pub fn is_event(name: &str) -> bool {
    EVENTS.iter().any(|(n, _)| *n == name)
}

/// Whether a record reports a ciphertext that failed its integrity check.
/// Details are matched exactly where the server wrote only a code, and by
/// the server's own phrasing otherwise: free text (a passkey's name, an
/// emergency reason, an IdP's groups) can never raise an event.
pub fn is_integrity_failure(r: &AuditRecord) -> bool {
    r.detail.as_deref() == Some("secret.integrity_error") || r.action == "keys.integrity_failure"
}

/// Whether a record reports a broken audit chain.
pub fn is_chain_broken(r: &AuditRecord) -> bool {
    r.detail.as_deref() == Some("audit.chain_broken")
}

/// Whether a record is a login attempt that was throttled (or that made
/// the account or address wait).
pub fn is_throttled(r: &AuditRecord) -> bool {
    let d = r.detail.as_deref().unwrap_or_default();
    matches!(
        r.action.as_str(),
        "auth.login" | "auth.step_up" | "user.password_change"
    ) && (d.starts_with("auth.throttled")
        || d.starts_with("auth.invalid_credentials; auth.throttled:")
        || d.ends_with(" auth.throttled")
        || d == "auth.throttled")
}

/// Whether a record is a passkey answer whose sign counter went backwards.
pub fn is_cloned_authenticator(r: &AuditRecord) -> bool {
    matches!(r.action.as_str(), "auth.login" | "auth.step_up")
        && r.detail
            .as_deref()
            .is_some_and(|d| d.ends_with(" reason=possible_cloned_authenticator"))
}

/// The events an audit record is (usually none).
pub fn events_of(r: &AuditRecord) -> Vec<&'static str> {
    // Alerts' own records (a subscription's URL and events) are no event.
    if r.action.starts_with("alert.") && r.action != "alert.test" {
        return Vec::new();
    }
    let ok = r.outcome == Outcome::Success;
    let mut out = Vec::new();
    let mut when = |cond: bool, name: &'static str| {
        if cond {
            out.push(name);
        }
    };
    when(ok && r.action == "emergency.open", "emergency.open");
    when(is_integrity_failure(r), "secret.integrity_failure");
    when(is_chain_broken(r), "audit.chain_broken");
    when(is_throttled(r), "auth.throttled");
    when(is_cloned_authenticator(r), "auth.cloned_authenticator");
    when(!ok && r.action == "sys.unseal", "sys.unseal_failed");
    when(ok && r.action == "sys.seal", "sys.seal");
    when(ok && r.action == "sys.rotate_root", "sys.rotate_root");
    when(ok && r.action == "project.delete", "project.delete");
    when(ok && r.action == "user.offboard", "user.offboard");
    when(
        ok && r.action == "user.passkeys_reset",
        "user.passkeys_reset",
    );
    when(
        ok && r.action == "access_review.close",
        "access_review.close",
    );
    when(ok && r.action == "alert.test", "alert.test");
    out
}

/// Seconds to wait before attempt `n + 1` after `n` failed attempts, or
/// `None` when the delivery has failed for good (6 attempts over about
/// 2.5 hours).
pub fn retry_after_secs(failed_attempts: u32) -> Option<i64> {
    match failed_attempts {
        1 => Some(10),
        2 => Some(60),
        3 => Some(300),
        4 => Some(1_800),
        5 => Some(7_200),
        _ => None,
    }
}

/// The `whsec_...` form of a subscription's key, as shown once.
pub fn secret_text(key: &[u8; 32]) -> String {
    format!("whsec_{}", STANDARD.encode(key))
}

/// The `webhook-signature` value of a delivery: `v1,` and the base64
/// HMAC-SHA256 of `{id}.{timestamp}.{body}` (Standard Webhooks 1.0).
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length; a 32-byte key cannot be refused.
    let Ok(mut mac) = <hmac::Hmac<sha2::Sha256>>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Why a webhook URL is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlRefusal {
    /// Not a URL, or with credentials, a fragment, or no host.
    Malformed,
    /// `http` where only `https` goes (plain HTTP only to loopback, and
    /// only when the server allows it for tests).
    NotHttps,
}

/// Checks a subscription URL: `https://host[:port]/path`, no user info, no
/// fragment; `http` only to a loopback host when `allow_loopback_http`.
/// Addresses are checked again at every delivery ([`WebhookPolicy`]).
pub fn check_url(raw: &str, allow_loopback_http: bool) -> Result<url::Url, UrlRefusal> {
    let u = url::Url::parse(raw).map_err(|_| UrlRefusal::Malformed)?;
    if raw.len() > 2048
        || !u.username().is_empty()
        || u.password().is_some()
        || u.fragment().is_some()
        || u.host_str().is_none_or(str::is_empty)
    {
        return Err(UrlRefusal::Malformed);
    }
    match u.scheme() {
        "https" => Ok(u),
        "http" if allow_loopback_http && is_loopback_host(u.host_str().unwrap_or_default()) => {
            Ok(u)
        }
        "http" => Err(UrlRefusal::NotHttps),
        _ => Err(UrlRefusal::Malformed),
    }
}

fn is_loopback_host(h: &str) -> bool {
    let bare = h.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// Where deliveries may connect: public addresses; loopback only when
/// allowed (tests); private ranges only inside `private_networks` given by
/// the operator; link-local and cloud metadata addresses never.
#[derive(Debug, Clone, Default)]
pub struct WebhookPolicy {
    /// Loopback addresses allowed (tests and local receivers).
    pub allow_loopback: bool,
    /// Private networks allowed, as (network address, prefix length).
    pub private_networks: Vec<(IpAddr, u8)>,
}

impl WebhookPolicy {
    /// Whether a delivery may connect to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        if crate::sso::outbound_allowed(ip, false) {
            return true;
        }
        // Never link-local, metadata, multicast, unspecified...
        if !crate::sso::outbound_allowed(ip, true) {
            return false;
        }
        // IPv4 carried in IPv6 (`::ffff:127.0.0.1`) counts as what it carries
        // only for the plain checks above; the allowances below take the
        // address as written, so a mapped loopback is not "loopback".
        if self.allow_loopback && ip.is_loopback() {
            return true;
        }
        self.private_networks
            .iter()
            .any(|(net, len)| in_network(ip, *net, *len))
    }
}

fn in_network(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let len = u32::from(len.min(32));
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            (u32::from(a) & mask) == (u32::from(n) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let len = u32::from(len.min(128));
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            (u128::from(a) & mask) == (u128::from(n) & mask)
        }
        _ => false,
    }
}

/// Parses `10.0.0.0/8`-style networks.
pub fn parse_network(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = s.split_once('/')?;
    let ip: IpAddr = addr.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;

    fn rec(action: &str, outcome: Outcome, detail: Option<&str>) -> AuditRecord {
        AuditRecord {
            seq: 1,
            time: Timestamp::from_millis(0),
            request_id: "r".into(),
            actor: "root".into(),
            token_id: None,
            action: action.into(),
            resource: "x".into(),
            outcome,
            source: "127.0.0.1".into(),
            detail: detail.map(str::to_owned),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn records_become_events() {
        assert_eq!(
            events_of(&rec("emergency.open", Outcome::Success, None)),
            ["emergency.open"]
        );
        assert!(events_of(&rec("emergency.open", Outcome::Denied, None)).is_empty());
        assert_eq!(
            events_of(&rec(
                "auth.login",
                Outcome::Denied,
                Some("auth.invalid_credentials; auth.throttled: next attempt delayed 2s")
            )),
            ["auth.throttled"]
        );
        assert_eq!(
            events_of(&rec(
                "secret.read",
                Outcome::Error,
                Some("secret.integrity_error")
            )),
            ["secret.integrity_failure"]
        );
        assert_eq!(
            events_of(&rec("sys.unseal", Outcome::Denied, Some("bad share"))),
            ["sys.unseal_failed"]
        );
        assert!(events_of(&rec("secret.read", Outcome::Success, None)).is_empty());
        // A code inside another word (a subscription's own event list) is
        // no event.
        assert!(
            events_of(&rec(
                "alert.create",
                Outcome::Success,
                Some("events=auth.throttled,emergency.open")
            ))
            .is_empty()
        );
        assert!(events_of(&rec("x", Outcome::Denied, Some("events=auth.throttled"))).is_empty());
        assert_eq!(
            events_of(&rec(
                "auth.login",
                Outcome::Denied,
                Some("method=passkey passkey=pk_1 reason=possible_cloned_authenticator")
            )),
            ["auth.cloned_authenticator"]
        );
        for (e, _) in EVENTS {
            assert!(is_event(e));
        }
    }

    #[test]
    fn standard_webhooks_signature() {
        // The Standard Webhooks reference vector: secret
        // whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, id msg_p5jXN8AQM9LWM0D4loKWxJek,
        // timestamp 1614265330, body {"test": 2432232314}.
        let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            signature(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                b"{\"test\": 2432232314}"
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let mut k = [0u8; 32];
        k.copy_from_slice(&[7u8; 32]);
        let sig = signature(&k, "msg_1", 1, b"{}");
        assert!(sig.starts_with("v1,"));
        assert_ne!(sig, signature(&k, "msg_1", 2, b"{}"));
        assert!(secret_text(&k).starts_with("whsec_"));
    }

    #[test]
    fn urls_and_addresses() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert_eq!(
            check_url("http://hooks.example.com/x", true).unwrap_err(),
            UrlRefusal::NotHttps
        );
        assert!(check_url("http://127.0.0.1:9/x", true).is_ok());
        assert!(check_url("http://127.0.0.1:9/x", false).is_err());
        assert!(check_url("https://user:pw@example.com/", false).is_err());
        assert!(check_url("ftp://example.com/", false).is_err());
        let strict = WebhookPolicy::default();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(strict.allows(ip("93.184.216.34")));
        assert!(!strict.allows(ip("169.254.169.254")));
        assert!(!strict.allows(ip("127.0.0.1")));
        assert!(!strict.allows(ip("::ffff:127.0.0.1")));
        assert!(!strict.allows(ip("10.1.2.3")));
        assert!(!strict.allows(ip("fd00:ec2::254")));
        let lab = WebhookPolicy {
            allow_loopback: true,
            private_networks: vec![parse_network("10.0.0.0/8").unwrap()],
        };
        assert!(lab.allows(ip("127.0.0.1")));
        assert!(!lab.allows(ip("::ffff:127.0.0.1")));
        assert!(lab.allows(ip("10.1.2.3")));
        assert!(!lab.allows(ip("192.168.1.1")));
        assert!(!lab.allows(ip("169.254.169.254")));
    }
}
