//! The compliance report (issue 14): the facts the server gathers for a
//! period, the rules that turn them into one line per HIPAA Security Rule
//! safeguard (45 CFR 164.308, 164.310, 164.312, 164.316) with a status,
//! its evidence and the audit records behind it, and the signature that
//! shows a report file was not edited (verifiable offline).
//!
//! The server gathers the facts (one streamed pass over the audit records
//! of the period, plus the live state) and renders the report; this module
//! holds what can be decided without I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::clock::Timestamp;

/// A safeguard's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// In place and working, with evidence.
    Met,
    /// In place, with something to look at (an overdue review, a privileged
    /// user without a second factor, short retention...).
    NeedsAttention,
    /// Not working (a broken audit chain, integrity failures).
    NotMet,
    /// Nothing for the vault to do here.
    NotApplicable,
}

impl Status {
    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::NeedsAttention => "needs attention",
            Status::NotMet => "not met",
            Status::NotApplicable => "not applicable",
        }
    }
}

/// One safeguard's line.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Line {
    /// The regulation's paragraph: `164.312(a)(1)`.
    pub id: String,
    /// Its name.
    pub title: String,
    /// Status.
    pub status: Status,
    /// The evidence, a sentence each, with figures.
    pub evidence: Vec<String>,
    /// Audit sequence numbers that support it (at most 50).
    pub audit_seqs: Vec<u64>,
}

/// A chart's data (rendered as inline SVG in HTML reports).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Chart {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Category labels (days, principals, key versions).
    pub labels: Vec<String>,
    /// Named series over the labels.
    pub series: Vec<Series>,
}

/// One series of a chart.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Series {
    /// Name.
    pub name: String,
    /// One value per label.
    pub values: Vec<f64>,
}

/// Counts of lines by status.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Summary {
    /// Met.
    pub met: u32,
    /// Needs attention.
    pub needs_attention: u32,
    /// Not met.
    pub not_met: u32,
    /// Not applicable.
    pub not_applicable: u32,
}

/// The report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Report {
    /// Start of the period (inclusive).
    pub from: Timestamp,
    /// End of the period (exclusive).
    pub to: Timestamp,
    /// When it was made.
    pub generated_at: Timestamp,
    /// Who asked for it (audit actor).
    pub generated_by: String,
    /// The server's version.
    pub server_version: String,
    /// Audit records in the period.
    pub records_in_period: u64,
    /// Lines by status.
    pub summary: Summary,
    /// One line per safeguard, in the regulation's order.
    pub lines: Vec<Line>,
    /// Charts.
    pub charts: Vec<Chart>,
}

/// A user, as the report sees them.
#[derive(Debug, Clone, Default)]
pub struct UserFact {
    /// Name.
    pub name: String,
    /// Disabled.
    pub disabled: bool,
    /// Has a password.
    pub password: bool,
    /// Passkeys registered.
    pub passkeys: u32,
    /// SSO identities linked.
    pub sso_identities: u32,
    /// Holds a privileged role (admin, security-officer, or `users.manage`,
    /// `sys.manage`, `keys.manage`).
    pub privileged: bool,
    /// Last successful login in the audit trail (any time before the end).
    pub last_login: Option<Timestamp>,
    /// Created.
    pub created_at: Timestamp,
}

/// An emergency grant opened in the period.
#[derive(Debug, Clone, Default)]
pub struct EmergencyFact {
    /// Holder.
    pub holder: String,
    /// The reason given.
    pub reason: String,
    /// Opened.
    pub opened_at: Timestamp,
    /// Planned end.
    pub expires_at: Timestamp,
    /// Ended early.
    pub revoked_at: Option<Timestamp>,
    /// Successful reads under it.
    pub reads: u64,
    /// What was read under it (`project/env/NAME`, at most 20).
    pub read: Vec<String>,
}

/// A KEK version.
#[derive(Debug, Clone, Default)]
pub struct KekFact {
    /// Project.
    pub project: String,
    /// Version.
    pub version: u32,
    /// `active`, `retired` or `destroyed`.
    pub state: String,
    /// Age, seconds.
    pub age_secs: i64,
    /// Secret versions it protects.
    pub data_keys: u64,
    /// Created.
    pub created_at: Timestamp,
}

/// An offboarding in the period.
#[derive(Debug, Clone, Default)]
pub struct OffboardFact {
    /// Who was offboarded.
    pub user: String,
    /// By whom.
    pub by: String,
    /// When.
    pub at: Timestamp,
    /// Audit seq.
    pub seq: u64,
    /// Secrets they read in the 90 days before (the rotation work-list).
    pub read: Vec<String>,
    /// Of those, rotated (written) after the offboarding.
    pub rotated: Vec<String>,
}

/// Everything the rules look at.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Period start.
    pub from: Timestamp,
    /// Period end.
    pub to: Timestamp,
    /// Now.
    pub now: Timestamp,
    /// Users.
    pub users: Vec<UserFact>,
    /// Default session limits (idle, absolute), seconds.
    pub session_default: (i64, i64),
    /// Per-role overrides: role, idle, absolute.
    pub session_roles: Vec<(String, i64, i64)>,
    /// Roles whose bindings require a second factor.
    pub mfa_roles: Vec<String>,
    /// Logouts in the period.
    pub logouts: u64,
    /// Other session revocations in the period.
    pub revocations: u64,
    /// Emergency grants opened in the period.
    pub emergency: Vec<EmergencyFact>,
    /// Emergency-open records.
    pub emergency_seqs: Vec<u64>,
    /// Longest grant allowed, seconds.
    pub emergency_max_secs: i64,
    /// KEK versions.
    pub keks: Vec<KekFact>,
    /// Root key version.
    pub root_version: u32,
    /// Rotation policy: maximum KEK age, seconds.
    pub rotation_max_age_secs: Option<i64>,
    /// Key management records in the period (rotations, rewraps, retire,
    /// destroy).
    pub key_change_seqs: Vec<u64>,
    /// Integrity failures in the period.
    pub integrity_seqs: Vec<u64>,
    /// Audit chain verification over the period: ok, records, checkpoints,
    /// problem.
    pub chain: (bool, u64, u64, Option<String>),
    /// Retention, days (0: forever).
    pub retention_days: u32,
    /// Archive files.
    pub archives: u64,
    /// Audit exports in the period: actor, seq.
    pub exports: Vec<(String, u64)>,
    /// Bindings: role, scope, source, holders.
    pub bindings: Vec<(String, String, String, u64)>,
    /// Access changes in the period (bindings, roles, reviews).
    pub access_change_seqs: Vec<u64>,
    /// Last closed access review.
    pub last_review: Option<Timestamp>,
    /// Reviews due every so many days.
    pub review_cadence_days: i64,
    /// An open review past its due time.
    pub review_overdue_open: bool,
    /// Offboardings.
    pub offboardings: Vec<OffboardFact>,
    /// Failed logins by account.
    pub failed_by_account: BTreeMap<String, u64>,
    /// Failed logins by source address.
    pub failed_by_source: BTreeMap<String, u64>,
    /// Throttled attempts.
    pub throttled: u64,
    /// Failed-login records (a sample).
    pub failed_seqs: Vec<u64>,
    /// Unseal failures.
    pub unseal_failures: u64,
    /// Unseal failure records.
    pub unseal_seqs: Vec<u64>,
    /// TLS: enabled, HSTS max-age seconds, certificate expiry.
    pub tls: (bool, u64, Option<Timestamp>),
    /// Password changes in the period.
    pub password_changes: u64,
    /// Minimum password length.
    pub password_min_len: usize,
    /// Alert subscriptions and the events they cover.
    pub alert_subscriptions: Vec<Vec<String>>,
    /// Deliveries that failed for good in the period.
    pub alert_failures: u64,
    /// Projects deleted: project, actor, time, seq.
    pub projects_deleted: Vec<(String, String, Timestamp, u64)>,
    /// Requests and denials per day (`YYYY-MM-DD`).
    pub per_day: BTreeMap<String, (u64, u64)>,
    /// Secret reads per principal.
    pub reads_by_principal: BTreeMap<String, u64>,
    /// Records in the period.
    pub records: u64,
}

const SIX_YEARS_DAYS: u32 = 6 * 365;

fn days(secs: i64) -> i64 {
    secs / 86_400
}

fn seqs(v: &[u64]) -> Vec<u64> {
    v.iter().copied().take(50).collect()
}

fn list<T: AsRef<str>>(items: &[T], max: usize) -> String {
    let shown: Vec<&str> = items.iter().take(max).map(AsRef::as_ref).collect();
    if items.len() > max {
        format!("{} and {} more", shown.join(", "), items.len() - max)
    } else {
        shown.join(", ")
    }
}

fn line(id: &str, title: &str, status: Status, evidence: Vec<String>, s: Vec<u64>) -> Line {
    Line {
        id: id.into(),
        title: title.into(),
        status,
        evidence,
        audit_seqs: s,
    }
}

/// The report's lines from the facts: one per safeguard, in the order of
/// the regulation.
#[allow(clippy::too_many_lines)] // one rule per safeguard, read top to bottom
pub fn lines(f: &Facts) -> Vec<Line> {
    let mut out = Vec::new();
    let active: Vec<&UserFact> = f.users.iter().filter(|u| !u.disabled).collect();
    let unused_cutoff = f.to.plus_secs(-90 * 86_400);
    let unused: Vec<&str> = active
        .iter()
        .filter(|u| u.created_at < unused_cutoff && u.last_login.is_none_or(|t| t < unused_cutoff))
        .map(|u| u.name.as_str())
        .collect();
    let priv_no_mfa: Vec<&str> = active
        .iter()
        .filter(|u| u.privileged && u.passkeys == 0)
        .map(|u| u.name.as_str())
        .collect();
    let chain_ok = f.chain.0;

    // 164.308(a)(1)(ii)(D) Information system activity review.
    let review_due = f.last_review.is_none_or(|t| {
        f.now.as_millis() > t.plus_secs(f.review_cadence_days * 86_400).as_millis()
    }) || f.review_overdue_open;
    out.push(line(
        "164.308(a)(1)(ii)(D)",
        "Information system activity review",
        if review_due {
            Status::NeedsAttention
        } else {
            Status::Met
        },
        vec![
            format!(
                "{} audit records in the period; every request is recorded",
                f.records
            ),
            match f.last_review {
                Some(t) => format!("last access review closed {}", t.to_rfc3339()),
                None => "no access review has been closed".into(),
            },
            if review_due {
                format!(
                    "a review is due (cadence {} days{})",
                    f.review_cadence_days,
                    if f.review_overdue_open {
                        "; an open review is past its due date"
                    } else {
                        ""
                    }
                )
            } else {
                format!(
                    "reviews are current (cadence {} days)",
                    f.review_cadence_days
                )
            },
        ],
        seqs(&f.access_change_seqs),
    ));

    // 164.308(a)(3)(ii)(C) Termination procedures.
    let unrotated: Vec<String> = f
        .offboardings
        .iter()
        .flat_map(|o| {
            o.read
                .iter()
                .filter(|r| !o.rotated.contains(r))
                .map(move |r| format!("{r} (read by {})", o.user))
        })
        .collect();
    out.push(line(
        "164.308(a)(3)(ii)(C)",
        "Termination procedures",
        if unrotated.is_empty() {
            Status::Met
        } else {
            Status::NeedsAttention
        },
        {
            let mut e = vec![format!(
                "{} offboarding(s) in the period: {}",
                f.offboardings.len(),
                list(
                    &f.offboardings
                        .iter()
                        .map(|o| format!("{} by {} at {}", o.user, o.by, o.at.to_rfc3339()))
                        .collect::<Vec<_>>(),
                    10
                )
            )];
            for o in &f.offboardings {
                e.push(format!(
                    "{}: {} secret(s) on the rotation work-list, {} rotated since",
                    o.user,
                    o.read.len(),
                    o.rotated.len()
                ));
            }
            if !unrotated.is_empty() {
                e.push(format!("not rotated yet: {}", list(&unrotated, 10)));
            }
            e
        },
        f.offboardings.iter().map(|o| o.seq).take(50).collect(),
    ));

    // 164.308(a)(4) Information access management.
    let mut by_role: BTreeMap<&str, u64> = BTreeMap::new();
    for (role, _, _, n) in &f.bindings {
        *by_role.entry(role.as_str()).or_default() += n;
    }
    out.push(line(
        "164.308(a)(4)",
        "Information access management",
        if review_due {
            Status::NeedsAttention
        } else {
            Status::Met
        },
        vec![
            format!(
                "{} binding(s): {}",
                f.bindings.iter().map(|b| b.3).sum::<u64>(),
                by_role
                    .iter()
                    .map(|(r, n)| format!("{r} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "scopes: {}",
                list(
                    &f.bindings
                        .iter()
                        .map(|(r, s, src, n)| format!("{r} on {s} ({src}, {n})"))
                        .collect::<Vec<_>>(),
                    12
                )
            ),
            format!(
                "{} access change(s) in the period (bindings, roles, review decisions)",
                f.access_change_seqs.len()
            ),
            "no one can grant more than they hold (escalation is refused and audited)".into(),
        ],
        seqs(&f.access_change_seqs),
    ));

    // 164.308(a)(5)(ii)(C) Log-in monitoring.
    let top = |m: &BTreeMap<String, u64>| {
        let mut v: Vec<(&String, &u64)> = m.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1));
        v.iter()
            .take(5)
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let failed: u64 = f.failed_by_account.values().sum();
    out.push(line(
        "164.308(a)(5)(ii)(C)",
        "Log-in monitoring",
        if f.throttled > 0 || f.unseal_failures > 0 {
            Status::NeedsAttention
        } else {
            Status::Met
        },
        vec![
            format!(
                "{failed} failed login(s); by account: {}",
                top(&f.failed_by_account)
            ),
            format!("by source: {}", top(&f.failed_by_source)),
            format!(
                "{} throttled attempt(s) (each account and address slows down after 3 failures)",
                f.throttled
            ),
            format!("{} failed unseal attempt(s)", f.unseal_failures),
        ],
        seqs(&[f.failed_seqs.clone(), f.unseal_seqs.clone()].concat()),
    ));

    // 164.308(a)(5)(ii)(D) Password management.
    out.push(line(
        "164.308(a)(5)(ii)(D)",
        "Password management",
        Status::Met,
        vec![
            format!(
                "passwords of at least {} characters, checked for strength (zxcvbn), stored \
                 with Argon2id (OWASP parameters) and rehashed when they change",
                f.password_min_len
            ),
            format!("{} password change(s) in the period", f.password_changes),
            format!(
                "{} of {} active user(s) sign in with a password",
                active.iter().filter(|u| u.password).count(),
                active.len()
            ),
        ],
        Vec::new(),
    ));

    // 164.308(a)(6) Security incident procedures.
    let covered: Vec<&str> = {
        let mut v: Vec<&str> = f
            .alert_subscriptions
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let critical = [
        "emergency.open",
        "secret.integrity_failure",
        "audit.chain_broken",
        "auth.throttled",
    ];
    let missing: Vec<&str> = critical
        .iter()
        .copied()
        .filter(|e| !covered.contains(e))
        .collect();
    out.push(line(
        "164.308(a)(6)",
        "Security incident procedures",
        if missing.is_empty() && f.alert_failures == 0 {
            Status::Met
        } else {
            Status::NeedsAttention
        },
        vec![
            format!(
                "{} webhook subscription(s) covering: {}",
                f.alert_subscriptions.len(),
                if covered.is_empty() {
                    "nothing".to_owned()
                } else {
                    covered.join(", ")
                }
            ),
            if missing.is_empty() {
                "every critical event is alerted on".into()
            } else {
                format!(
                    "critical events nobody is alerted on: {}",
                    missing.join(", ")
                )
            },
            format!(
                "{} delivery(ies) failed for good in the period",
                f.alert_failures
            ),
        ],
        Vec::new(),
    ));

    // 164.310(d)(2)(i) Disposal.
    let destroyed: Vec<String> = f
        .keks
        .iter()
        .filter(|k| k.state == "destroyed")
        .map(|k| format!("{} v{}", k.project, k.version))
        .collect();
    out.push(line(
        "164.310(d)(2)(i)",
        "Disposal",
        Status::Met,
        vec![
            format!(
                "{} project(s) crypto-shredded in the period: {}",
                f.projects_deleted.len(),
                list(
                    &f.projects_deleted
                        .iter()
                        .map(|(p, a, t, _)| format!("{p} by {a} at {}", t.to_rfc3339()))
                        .collect::<Vec<_>>(),
                    10
                )
            ),
            format!(
                "{} key version(s) destroyed: {}",
                destroyed.len(),
                list(&destroyed, 10)
            ),
            "deleting a project destroys its keys: no copy of its data can be decrypted".into(),
        ],
        f.projects_deleted.iter().map(|p| p.3).take(50).collect(),
    ));

    // 164.312(a)(1) Access control.
    out.push(line(
        "164.312(a)(1)",
        "Access control",
        Status::Met,
        vec![
            format!(
                "{} active and {} disabled user(s); access by role bindings only (deny by default)",
                active.len(),
                f.users.len() - active.len()
            ),
            format!(
                "roles that require a second factor: {}",
                if f.mfa_roles.is_empty() {
                    "none".to_owned()
                } else {
                    f.mfa_roles.join(", ")
                }
            ),
        ],
        seqs(&f.access_change_seqs),
    ));

    // 164.312(a)(2)(i) Unique user identification.
    out.push(line(
        "164.312(a)(2)(i)",
        "Unique user identification",
        if unused.is_empty() {
            Status::Met
        } else {
            Status::NeedsAttention
        },
        vec![
            format!(
                "{} account(s), each unique (usernames normalized; SSO identities keyed by \
                 issuer and subject)",
                f.users.len()
            ),
            if unused.is_empty() {
                "no active account unused for 90 days".into()
            } else {
                format!(
                    "active accounts unused for 90 days (disable them): {}",
                    list(&unused, 10)
                )
            },
        ],
        Vec::new(),
    ));

    // 164.312(a)(2)(ii) Emergency access procedure.
    let too_long: Vec<&EmergencyFact> = f
        .emergency
        .iter()
        .filter(|g| {
            g.expires_at.as_millis() - g.opened_at.as_millis() > f.emergency_max_secs * 1000
        })
        .collect();
    out.push(line(
        "164.312(a)(2)(ii)",
        "Emergency access procedure",
        if too_long.is_empty() {
            Status::Met
        } else {
            Status::NeedsAttention
        },
        {
            let mut e = vec![format!(
                "{} emergency grant(s) opened in the period (at most {} h each)",
                f.emergency.len(),
                f.emergency_max_secs / 3600
            )];
            for g in f.emergency.iter().take(20) {
                e.push(format!(
                    "{}: \"{}\", {} to {}{}, {} read(s) under it{}",
                    g.holder,
                    g.reason,
                    g.opened_at.to_rfc3339(),
                    g.expires_at.to_rfc3339(),
                    g.revoked_at
                        .map(|t| format!(" (ended early {})", t.to_rfc3339()))
                        .unwrap_or_default(),
                    g.reads,
                    if g.read.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", list(&g.read, 20))
                    }
                ));
            }
            e
        },
        seqs(&f.emergency_seqs),
    ));

    // 164.312(a)(2)(iii) Automatic logoff.
    let (idle, abs) = f.session_default;
    let loose = idle > 1800;
    out.push(line(
        "164.312(a)(2)(iii)",
        "Automatic logoff",
        if loose {
            Status::NeedsAttention
        } else {
            Status::Met
        },
        {
            let mut e = vec![format!(
                "sessions end after {} min idle and {} h at most",
                idle / 60,
                abs / 3600
            )];
            for (r, i, a) in &f.session_roles {
                e.push(format!(
                    "role {r}: {} min idle, {} h at most",
                    i / 60,
                    a / 3600
                ));
            }
            e.push(format!(
                "{} logout(s) and {} other revocation(s) in the period",
                f.logouts, f.revocations
            ));
            if loose {
                e.push("the idle limit is over 30 minutes".into());
            }
            e
        },
        Vec::new(),
    ));

    // 164.312(a)(2)(iv) Encryption and decryption.
    let old_keks: Vec<String> = f
        .keks
        .iter()
        .filter(|k| k.state == "active" && f.rotation_max_age_secs.is_some_and(|m| k.age_secs > m))
        .map(|k| format!("{} v{} ({} days)", k.project, k.version, days(k.age_secs)))
        .collect();
    let mut by_version: BTreeMap<String, u64> = BTreeMap::new();
    for k in &f.keks {
        if k.data_keys > 0 {
            *by_version
                .entry(format!("{} v{}", k.project, k.version))
                .or_default() += k.data_keys;
        }
    }
    out.push(line(
        "164.312(a)(2)(iv)",
        "Encryption and decryption",
        if !f.integrity_seqs.is_empty() {
            Status::NotMet
        } else if old_keks.is_empty() {
            Status::Met
        } else {
            Status::NeedsAttention
        },
        vec![
            format!(
                "every secret version is encrypted (AES-256-GCM under a per-project key): {} \
                 secret version(s) by key version: {}",
                by_version.values().sum::<u64>(),
                list(
                    &by_version
                        .iter()
                        .map(|(k, n)| format!("{k}: {n}"))
                        .collect::<Vec<_>>(),
                    12
                )
            ),
            format!(
                "root key version {}; {} project key version(s), {} retired, {} destroyed",
                f.root_version,
                f.keks.len(),
                f.keks.iter().filter(|k| k.state == "retired").count(),
                f.keks.iter().filter(|k| k.state == "destroyed").count()
            ),
            match f.rotation_max_age_secs {
                Some(m) if old_keks.is_empty() => {
                    format!(
                        "every active key is within the rotation policy ({} days)",
                        days(m)
                    )
                }
                Some(m) => format!(
                    "active keys older than the policy ({} days): {}",
                    days(m),
                    list(&old_keks, 10)
                ),
                None => "no rotation age is set (keys.rotation_max_age_days)".into(),
            },
            format!(
                "{} key management change(s) in the period; {} integrity failure(s)",
                f.key_change_seqs.len(),
                f.integrity_seqs.len()
            ),
        ],
        seqs(&[f.integrity_seqs.clone(), f.key_change_seqs.clone()].concat()),
    ));

    // 164.312(b) Audit controls.
    let short_retention = f.retention_days != 0 && f.retention_days < SIX_YEARS_DAYS;
    out.push(line(
        "164.312(b)",
        "Audit controls",
        if !chain_ok {
            Status::NotMet
        } else if short_retention {
            Status::NeedsAttention
        } else {
            Status::Met
        },
        vec![
            if chain_ok {
                format!(
                    "the audit chain verifies over the period: {} record(s), {} signed \
                     checkpoint(s) (earlier records and archives: `vault audit verify`)",
                    f.chain.1, f.chain.2
                )
            } else {
                format!(
                    "the audit chain does NOT verify: {}",
                    f.chain.3.clone().unwrap_or_default()
                )
            },
            if f.retention_days == 0 {
                "records are kept forever".into()
            } else if short_retention {
                format!(
                    "retention is {} days, under the 6 years of 164.316(b)(2): keep the archives",
                    f.retention_days
                )
            } else {
                format!("retention is {} days", f.retention_days)
            },
            format!("{} archive file(s)", f.archives),
            format!(
                "{} export(s) in the period{}",
                f.exports.len(),
                if f.exports.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", by {}",
                        list(
                            &f.exports.iter().map(|e| e.0.clone()).collect::<Vec<_>>(),
                            10
                        )
                    )
                }
            ),
        ],
        f.exports.iter().map(|e| e.1).take(50).collect(),
    ));

    // 164.312(c)(1) Integrity; (c)(2) Mechanism to authenticate ePHI.
    let integrity = if !chain_ok || !f.integrity_seqs.is_empty() {
        Status::NotMet
    } else {
        Status::Met
    };
    out.push(line(
        "164.312(c)(1)",
        "Integrity",
        integrity,
        vec![
            format!(
                "{} integrity failure(s) in the period",
                f.integrity_seqs.len()
            ),
            if chain_ok {
                "the audit trail is intact".into()
            } else {
                "the audit trail is not intact".into()
            },
        ],
        seqs(&f.integrity_seqs),
    ));
    out.push(line(
        "164.312(c)(2)",
        "Mechanism to authenticate electronic protected health information",
        integrity,
        vec![
            "every ciphertext is authenticated (AES-GCM), each secret's current version is \
             bound by a MAC (no rollback), and the audit trail is hash-chained and signed"
                .into(),
        ],
        seqs(&f.integrity_seqs),
    ));

    // 164.312(d) Person or entity authentication.
    let with_mfa = active.iter().filter(|u| u.passkeys > 0).count();
    out.push(line(
        "164.312(d)",
        "Person or entity authentication",
        if priv_no_mfa.is_empty() {
            Status::Met
        } else {
            Status::NeedsAttention
        },
        vec![
            format!(
                "{with_mfa} of {} active user(s) have a passkey (second factor); {} use single \
                 sign-on",
                active.len(),
                active.iter().filter(|u| u.sso_identities > 0).count()
            ),
            if priv_no_mfa.is_empty() {
                "every privileged user has a second factor".into()
            } else {
                format!(
                    "privileged users without a second factor: {}",
                    list(&priv_no_mfa, 10)
                )
            },
        ],
        Vec::new(),
    ));

    // 164.312(e)(1) Transmission security; (e)(2)(ii) Encryption.
    let (tls, hsts, expiry) = f.tls;
    let expiring = expiry.is_some_and(|t| t.as_millis() < f.now.plus_secs(30 * 86_400).as_millis());
    let tls_status = if !tls {
        Status::NotMet
    } else if expiring {
        Status::NeedsAttention
    } else {
        Status::Met
    };
    let tls_evidence = vec![
        if tls {
            "TLS is in force (TLS 1.2 and 1.3 only)".to_owned()
        } else {
            "TLS is off (dev mode or plain HTTP on loopback)".to_owned()
        },
        format!("HSTS max-age {hsts} s"),
        match expiry {
            Some(t) => format!("the certificate expires {}", t.to_rfc3339()),
            None => "no certificate".into(),
        },
    ];
    out.push(line(
        "164.312(e)(1)",
        "Transmission security",
        tls_status,
        tls_evidence.clone(),
        Vec::new(),
    ));
    out.push(line(
        "164.312(e)(2)(i)",
        "Integrity controls (in transit)",
        tls_status,
        vec![
            "TLS records are authenticated (AEAD cipher suites only): changes in transit are \
             detected"
                .into(),
        ],
        Vec::new(),
    ));
    out.push(line(
        "164.312(e)(2)(ii)",
        "Encryption (in transit)",
        tls_status,
        tls_evidence,
        Vec::new(),
    ));

    // 164.316(b)(2) Documentation: time limit.
    out.push(line(
        "164.316(b)(2)",
        "Documentation: time limit (6 years)",
        if short_retention {
            Status::NeedsAttention
        } else {
            Status::Met
        },
        vec![if f.retention_days == 0 {
            "audit records are kept forever".into()
        } else {
            format!(
                "audit records are kept {} days in the database, then archived ({} archive \
                 file(s)); keep archives 6 years",
                f.retention_days, f.archives
            )
        }],
        Vec::new(),
    ));
    out
}

/// The charts of a report.
pub fn charts(f: &Facts) -> Vec<Chart> {
    let mut out = Vec::new();
    out.push(Chart {
        id: "per_day".into(),
        title: "Requests and denials per day".into(),
        labels: f.per_day.keys().cloned().collect(),
        series: vec![
            Series {
                name: "requests".into(),
                values: f.per_day.values().map(|v| v.0 as f64).collect(),
            },
            Series {
                name: "denied".into(),
                values: f.per_day.values().map(|v| v.1 as f64).collect(),
            },
        ],
    });
    let mut reads: Vec<(&String, &u64)> = f.reads_by_principal.iter().collect();
    reads.sort_by(|a, b| b.1.cmp(a.1));
    reads.truncate(15);
    out.push(Chart {
        id: "reads".into(),
        title: "Secret reads per principal".into(),
        labels: reads.iter().map(|r| r.0.clone()).collect(),
        series: vec![Series {
            name: "reads".into(),
            values: reads.iter().map(|r| *r.1 as f64).collect(),
        }],
    });
    let active: Vec<&KekFact> = f.keks.iter().filter(|k| k.state == "active").collect();
    out.push(Chart {
        id: "key_age".into(),
        title: "Active key age against the rotation policy (days)".into(),
        labels: active
            .iter()
            .map(|k| format!("{} v{}", k.project, k.version))
            .collect(),
        series: vec![
            Series {
                name: "age".into(),
                values: active.iter().map(|k| days(k.age_secs) as f64).collect(),
            },
            Series {
                name: "policy".into(),
                values: active
                    .iter()
                    .map(|_| f.rotation_max_age_secs.map_or(0.0, |m| days(m) as f64))
                    .collect(),
            },
        ],
    });
    let users: Vec<&UserFact> = f.users.iter().filter(|u| !u.disabled).collect();
    let count = |p: &dyn Fn(&UserFact) -> bool| users.iter().filter(|u| p(u)).count() as f64;
    out.push(Chart {
        id: "mfa".into(),
        title: "Second factor coverage (active users)".into(),
        labels: vec!["privileged".into(), "others".into()],
        series: vec![
            Series {
                name: "with a passkey".into(),
                values: vec![
                    count(&|u| u.privileged && u.passkeys > 0),
                    count(&|u| !u.privileged && u.passkeys > 0),
                ],
            },
            Series {
                name: "without".into(),
                values: vec![
                    count(&|u| u.privileged && u.passkeys == 0),
                    count(&|u| !u.privileged && u.passkeys == 0),
                ],
            },
        ],
    });
    out
}

/// The summary of `lines`.
pub fn summary(lines: &[Line]) -> Summary {
    let mut s = Summary::default();
    for l in lines {
        match l.status {
            Status::Met => s.met += 1,
            Status::NeedsAttention => s.needs_attention += 1,
            Status::NotMet => s.not_met += 1,
            Status::NotApplicable => s.not_applicable += 1,
        }
    }
    s
}

/// Where a signed report's signature starts: the last line of the file.
pub const SIGNATURE_MARK: &str = "<!-- vault-report-signature ";

/// The signature block of a report file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportSignature {
    /// `ed25519`.
    pub algorithm: String,
    /// The audit signing key's id (fingerprint).
    pub key_id: String,
    /// SHA-256 of the report's bytes before this block, hex.
    pub content_sha256: String,
    /// The signature over `vault/v1/compliance-report\0` and the hash, base64.
    pub signature: String,
}

/// A JSON report file: the report and its signature, side by side (the
/// signature covers the compact JSON of `report`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SignedReportFile {
    /// The report.
    pub report: Report,
    /// Its signature.
    pub signature: ReportSignature,
}

/// SHA-256 of a report's content.
pub fn content_hash(content: &[u8]) -> [u8; 32] {
    Sha256::digest(content).into()
}

/// The bytes a report signature covers.
pub fn signed_message(hash: &[u8; 32]) -> Vec<u8> {
    let mut m = b"vault/v1/compliance-report\0".to_vec();
    m.extend_from_slice(hash);
    m
}

/// The line appended to a report: `<!-- vault-report-signature {json} -->`
/// (a comment in HTML and Markdown; JSON reports carry it after the JSON).
pub fn signature_line(sig: &ReportSignature) -> String {
    format!(
        "\n{SIGNATURE_MARK}{} -->\n",
        serde_json::to_string(sig).unwrap_or_default()
    )
}

/// Splits a signed report file into its content and signature block. The
/// file must end with exactly the line [`signature_line`] writes for that
/// block (nothing after it, no other field, no other spelling), so nothing
/// outside the signed content can change what a reader sees.
pub fn split_signed(file: &[u8]) -> Option<(&[u8], ReportSignature)> {
    let mark = SIGNATURE_MARK.as_bytes();
    let at = file.windows(mark.len()).rposition(|w| w == mark)?;
    // The content ends before the newline that opens the signature line.
    let content_end = at.checked_sub(1).filter(|i| file[*i] == b'\n')?;
    let rest = std::str::from_utf8(&file[at + mark.len()..]).ok()?;
    let json = rest.strip_suffix(" -->\n")?;
    let sig: ReportSignature = serde_json::from_str(json).ok()?;
    if signature_line(&sig).as_bytes() != &file[content_end..] {
        return None;
    }
    Some((&file[..content_end], sig))
}

/// Why a report file does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No signature block (not a vault report, or it was cut).
    #[error("no vault signature in this file (not a vault report, or it was cut short)")]
    NoSignature,
    /// Signed by another key than the one given.
    #[error("signed by key {file} but the key given is {given}")]
    WrongKey {
        /// The key id the file names.
        file: String,
        /// The key id of the key given.
        given: String,
    },
    /// The content changed after signing.
    #[error("the report was changed after it was signed (its content hash differs)")]
    Changed,
    /// The signature itself is wrong.
    #[error("the signature does not verify")]
    BadSignature,
}

/// Checks a report file against the audit public key: JSON (`{"report",
/// "signature"}`) or a Markdown or HTML file with its signature line.
/// Answers the signature block when the file is intact.
pub fn verify_file(
    file: &[u8],
    key: &crate::audit::AuditVerifyingKey,
) -> Result<ReportSignature, VerifyError> {
    // A JSON report must be exactly what the server wrote: `{"report",
    // "signature"}` and nothing else, in the server's own serialization.
    let json = serde_json::from_slice::<serde_json::Value>(file)
        .ok()
        .and_then(|v| {
            let obj = v.as_object()?;
            if obj.len() != 2 {
                return None;
            }
            let report = obj.get("report")?.clone();
            let sig: ReportSignature =
                serde_json::from_value(obj.get("signature")?.clone()).ok()?;
            let again = serde_json::to_vec_pretty(&v).ok()?;
            (again == file).then_some(())?;
            Some((serde_json::to_vec(&report).ok()?, sig))
        });
    if json.is_none() && file.first() == Some(&b'{') {
        return Err(VerifyError::NoSignature);
    }
    let (content, sig) = match json {
        Some((c, s)) => (c, s),
        None => {
            let (c, s) = split_signed(file).ok_or(VerifyError::NoSignature)?;
            (c.to_vec(), s)
        }
    };
    if sig.algorithm != "ed25519" {
        return Err(VerifyError::BadSignature);
    }
    if sig.key_id != key.key_id() {
        return Err(VerifyError::WrongKey {
            file: sig.key_id,
            given: key.key_id(),
        });
    }
    let hash = content_hash(&content);
    if hex_of(&hash) != sig.content_sha256 {
        return Err(VerifyError::Changed);
    }
    if !key.verify_report(&hash, &sig.signature) {
        return Err(VerifyError::BadSignature);
    }
    Ok(sig)
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            from: Timestamp::from_millis(0),
            to: Timestamp::from_millis(100 * 86_400_000),
            now: Timestamp::from_millis(100 * 86_400_000),
            chain: (true, 10, 1, None),
            session_default: (1800, 8 * 3600),
            password_min_len: 12,
            review_cadence_days: 90,
            last_review: Some(Timestamp::from_millis(99 * 86_400_000)),
            tls: (
                true,
                31_536_000,
                Some(Timestamp::from_millis(400 * 86_400_000)),
            ),
            alert_subscriptions: vec![vec![
                "emergency.open".into(),
                "secret.integrity_failure".into(),
                "audit.chain_broken".into(),
                "auth.throttled".into(),
            ]],
            ..Facts::default()
        }
    }

    fn status(lines: &[Line], id: &str) -> Status {
        lines.iter().find(|l| l.id == id).unwrap().status
    }

    #[test]
    fn statuses_follow_the_facts() {
        let f = facts();
        let l = lines(&f);
        assert_eq!(l.len(), 20, "one line per safeguard");
        assert!(l.iter().all(|x| x.status == Status::Met), "{l:#?}");
        let mut broken = facts();
        broken.chain = (false, 10, 1, Some("record 5 was changed".into()));
        let l = lines(&broken);
        assert_eq!(status(&l, "164.312(b)"), Status::NotMet);
        assert_eq!(status(&l, "164.312(c)(1)"), Status::NotMet);
        let mut weak = facts();
        weak.users.push(UserFact {
            name: "ops".into(),
            privileged: true,
            password: true,
            ..UserFact::default()
        });
        weak.retention_days = 365;
        weak.last_review = None;
        let l = lines(&weak);
        assert_eq!(status(&l, "164.312(d)"), Status::NeedsAttention);
        assert_eq!(status(&l, "164.316(b)(2)"), Status::NeedsAttention);
        assert_eq!(status(&l, "164.308(a)(1)(ii)(D)"), Status::NeedsAttention);
        assert!(
            l.iter()
                .any(|x| x.evidence.iter().any(|e| e.contains("ops")))
        );
    }

    #[test]
    fn signatures_split_from_their_content() {
        let sig = ReportSignature {
            algorithm: "ed25519".into(),
            key_id: "k".into(),
            content_sha256: "00".into(),
            signature: "AA==".into(),
        };
        let body = b"<html>report</html>".to_vec();
        let mut file = body.clone();
        file.extend_from_slice(signature_line(&sig).as_bytes());
        let (content, back) = split_signed(&file).unwrap();
        assert_eq!(content, &body[..]);
        assert_eq!(back.key_id, "k");
        assert!(split_signed(b"no signature").is_none());
    }

    #[test]
    fn a_signed_report_verifies_and_an_edit_does_not() {
        let key = crate::audit::AuditSigningKey::generate().unwrap();
        let public = key.verifying_key();
        let body = b"# report\n| 164.312(b) | met |\n".to_vec();
        let hash = content_hash(&body);
        let sig = ReportSignature {
            algorithm: "ed25519".into(),
            key_id: key.key_id(),
            content_sha256: hex_of(&hash),
            signature: key.sign_report(&hash),
        };
        let mut file = body.clone();
        file.extend_from_slice(signature_line(&sig).as_bytes());
        assert!(verify_file(&file, &public).is_ok());
        // Markup smuggled into the signature line, or after it: refused.
        let text = String::from_utf8(file.clone()).unwrap();
        let smuggled = text.replace(
            "\"algorithm\":\"ed25519\"",
            "\"algorithm\":\"ed25519\",\"x\":\"--><h1>all met</h1><!--\"",
        );
        assert!(verify_file(smuggled.as_bytes(), &public).is_err());
        let appended = format!("{text}<h1>all met</h1>");
        assert!(verify_file(appended.as_bytes(), &public).is_err());
        let edited = String::from_utf8(file.clone())
            .unwrap()
            .replace("met", "ok!");
        assert_eq!(
            verify_file(edited.as_bytes(), &public),
            Err(VerifyError::Changed)
        );
        let other = crate::audit::AuditSigningKey::generate()
            .unwrap()
            .verifying_key();
        assert!(matches!(
            verify_file(&file, &other),
            Err(VerifyError::WrongKey { .. })
        ));
        // JSON: the report beside its signature, still JSON.
        let report = serde_json::json!({"lines": [{"id": "164.312(b)", "status": "met"}]});
        let content = serde_json::to_vec(&report).unwrap();
        let h = content_hash(&content);
        let sig = ReportSignature {
            algorithm: "ed25519".into(),
            key_id: key.key_id(),
            content_sha256: hex_of(&h),
            signature: key.sign_report(&h),
        };
        let file =
            serde_json::to_vec_pretty(&serde_json::json!({"report": report, "signature": sig}))
                .unwrap();
        assert!(verify_file(&file, &public).is_ok());
        // Another member beside the two: refused.
        let mut extra: serde_json::Value = serde_json::from_slice(&file).unwrap();
        extra["note"] = serde_json::json!("<h1>all met</h1>");
        assert!(verify_file(&serde_json::to_vec_pretty(&extra).unwrap(), &public).is_err());
        let tampered = String::from_utf8(file)
            .unwrap()
            .replace("\"met\"", "\"not_met\"");
        assert_eq!(
            verify_file(tampered.as_bytes(), &public),
            Err(VerifyError::Changed)
        );
    }
}
