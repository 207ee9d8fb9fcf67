//! The compliance report (issue 14): gathers the facts of a period (one
//! streamed pass over its audit records, in pages, plus the live state:
//! users, bindings, keys, reviews, alerts, TLS), verifies the audit chain as
//! part of it, lets `vault_core::compliance` decide each safeguard's status,
//! renders JSON, Markdown or a self-contained HTML page, and signs the
//! result with the audit signing key.

mod render;

use std::collections::{BTreeMap, BTreeSet};

use vault_core::alerts::{is_integrity_failure, is_throttled};
use vault_core::audit::{AuditRecord, ChainHash, ChainHead, Checkpoint, Outcome, verify};
use vault_core::clock::Timestamp;
use vault_core::compliance::{
    EmergencyFact, Facts, KekFact, OffboardFact, Report, ReportSignature, UserFact, charts,
    content_hash, lines, signature_line, summary,
};
use vault_core::identity::MIN_PASSWORD_CHARS;

pub use self::render::Format;
use crate::service::identity::auth::{find_role, resolve, role_requires_mfa};
use crate::service::{Action, Ctx, Error, Result, Vault};
use crate::store::AuditFilter;

/// Audit records read per page.
const PAGE: u64 = 5_000;

/// A rendered, signed report.
pub struct SignedReport {
    /// The file's bytes.
    pub body: Vec<u8>,
    /// Its format.
    pub format: Format,
}

/// The chain check over the period so far.
#[derive(Default)]
struct ChainState {
    records: u64,
    checkpoints: u64,
    problem: Option<String>,
}

/// What one pass over the period's records adds up.
#[derive(Default)]
struct Tally {
    facts: Facts,
    emergency_reads: BTreeMap<String, (u64, BTreeSet<String>)>,
    offboards: Vec<(String, String, Timestamp, u64)>,
}

impl Tally {
    fn add(&mut self, r: &AuditRecord) {
        let f = &mut self.facts;
        f.records += 1;
        let ok = r.outcome == Outcome::Success;
        let day = r.time.to_rfc3339().chars().take(10).collect::<String>();
        let e = f.per_day.entry(day).or_default();
        e.0 += 1;
        if r.outcome == Outcome::Denied {
            e.1 += 1;
        }
        let detail = r.detail.as_deref();
        let action = r.action.as_str();
        if ok && action == "secret.read" {
            *f.reads_by_principal.entry(r.actor.clone()).or_default() += 1;
            if detail.is_some_and(|d| d.starts_with("under emergency access")) {
                let e = self.emergency_reads.entry(r.actor.clone()).or_default();
                e.0 += 1;
                if e.1.len() < 20 {
                    e.1.insert(r.resource.clone());
                }
            }
        }
        if action == "auth.login" && r.outcome == Outcome::Denied {
            *f.failed_by_account.entry(r.actor.clone()).or_default() += 1;
            *f.failed_by_source.entry(r.source.clone()).or_default() += 1;
            if f.failed_seqs.len() < 50 {
                f.failed_seqs.push(r.seq);
            }
        }
        if is_throttled(r) {
            f.throttled += 1;
        }
        if action == "sys.unseal" && !ok {
            f.unseal_failures += 1;
            f.unseal_seqs.push(r.seq);
        }
        if ok && action == "session.revoke" {
            if detail == Some("logout") {
                f.logouts += 1;
            } else {
                f.revocations += 1;
            }
        }
        if ok && action == "emergency.open" {
            f.emergency_seqs.push(r.seq);
        }
        if ok && action == "audit.read" && r.resource == "audit/export" {
            f.exports.push((r.actor.clone(), r.seq));
        }
        if ok
            && (action.starts_with("binding.")
                || action.starts_with("role.")
                || action.starts_with("access_review."))
        {
            f.access_change_seqs.push(r.seq);
        }
        if ok && (action == "keys.manage" || action == "keys.auto_rotate") {
            f.key_change_seqs.push(r.seq);
        }
        if is_integrity_failure(r) {
            f.integrity_seqs.push(r.seq);
        }
        if ok && action == "user.password_change" {
            f.password_changes += 1;
        }
        if ok && action == "project.delete" {
            f.projects_deleted
                .push((r.resource.clone(), r.actor.clone(), r.time, r.seq));
        }
        if ok && action == "user.offboard" {
            let user = r.resource.trim_start_matches("users/").to_owned();
            self.offboards.push((user, r.actor.clone(), r.time, r.seq));
        }
    }
}

impl Vault {
    /// `GET /v1/compliance/report`: the report of `[from, to)` in `format`,
    /// signed. Needs `audit.read`; recorded as `compliance.report`.
    pub async fn compliance_report(
        &self,
        ctx: &Ctx,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        format: Format,
    ) -> Result<SignedReport> {
        let p = self
            .authorize(ctx, Action::AuditRead, "compliance/report")
            .await?;
        let now = self.clock().now();
        // Up to and including now (the period's end is exclusive).
        let to = to.unwrap_or_else(|| Timestamp::from_millis(now.as_millis().saturating_add(1)));
        let from = from.unwrap_or_else(|| to.plus_secs(-90 * 86_400));
        if from >= to {
            return Err(Error::bad(
                "compliance.invalid_period",
                "the period's start must be before its end",
            ));
        }
        let u = self.unsealed()?;
        // The chain over the period is verified page by page as the records
        // are read (memory stays one page, whatever the period): each page
        // must continue the previous one, and every signed checkpoint in
        // the period must match and verify.
        let key = u.audit_key.verifying_key();
        let checkpoints: Vec<Checkpoint> = self
            .store()
            .read(|r| r.audit_checkpoints())
            .await?
            .iter()
            .filter_map(|c| serde_json::from_str(c).ok())
            .collect();
        let mut head: Option<ChainHead> = None;
        let mut chain = ChainState::default();
        let mut t = Tally::default();
        // Where the period starts (one query), then pages by seq alone: a
        // time filter on every page would make SQLite rescan the period.
        let first = self
            .store()
            .read(move |r| {
                r.audit_records(&AuditFilter {
                    from: Some(from),
                    to: Some(to),
                    limit: Some(1),
                    ..AuditFilter::default()
                })
            })
            .await?;
        let mut after = first.first().map(|r| r.seq.saturating_sub(1));
        while let Some(a) = after {
            let page = self
                .store()
                .read(move |r| {
                    r.audit_records(&AuditFilter {
                        after: Some(a),
                        limit: Some(PAGE),
                        ..AuditFilter::default()
                    })
                })
                .await?;
            let full = page.len() as u64 == PAGE;
            let page: Vec<AuditRecord> = page.into_iter().take_while(|r| r.time < to).collect();
            let ended = !full || (page.len() as u64) < PAGE;
            let Some(last) = page.last().map(|r| r.seq) else {
                break;
            };
            let start = match head.take() {
                Some(h) => h,
                None => self.chain_start(&page[0]).await?,
            };
            let cps: Vec<Checkpoint> = checkpoints
                .iter()
                .filter(|c| c.seq > start.seq && c.seq <= last)
                .cloned()
                .collect();
            let rep = verify(&page, &cps, Some(&key), &start);
            chain.records += rep.records;
            chain.checkpoints += rep.checkpoints;
            if !rep.is_ok() && chain.problem.is_none() {
                chain.problem = Some(rep.summary());
            }
            head = Some(if rep.is_ok() {
                rep.end
            } else {
                // Go on from what the records say, to count the rest.
                ChainHead::new(
                    last,
                    ChainHash::from_hex(&page[page.len() - 1].hash).unwrap_or_default(),
                )
            });
            for r in page.iter().filter(|r| r.time >= from) {
                t.add(r);
            }
            after = (!ended).then_some(last);
        }
        let mut f = std::mem::take(&mut t.facts);
        f.from = from;
        f.to = to;
        f.now = now;
        f.chain = (
            chain.problem.is_none(),
            chain.records,
            chain.checkpoints,
            chain.problem,
        );
        self.live_facts(&mut f, &t).await?;
        let lines = lines(&f);
        let report = Report {
            from,
            to,
            generated_at: now,
            generated_by: p.actor(),
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
            records_in_period: f.records,
            summary: summary(&lines),
            lines,
            charts: charts(&f),
        };
        let (content, wrap) = render::render(&report, format)?;
        let hash = content_hash(&content);
        let sig = ReportSignature {
            algorithm: "ed25519".into(),
            key_id: u.audit_key.key_id(),
            content_sha256: hex::encode(hash),
            signature: u.audit_key.sign_report(&hash),
        };
        let body = match wrap {
            // JSON: {"report": ..., "signature": ...}, still JSON.
            render::Wrap::Json(value) => serde_json::to_vec_pretty(&serde_json::json!({
                "report": value,
                "signature": sig,
            }))
            .map_err(Error::internal)?,
            render::Wrap::Trailer => {
                let mut b = content;
                b.extend_from_slice(signature_line(&sig).as_bytes());
                b
            }
        };
        let detail = format!(
            "from={} to={} format={} lines: met={} needs_attention={} not_met={} sha256={}",
            from.to_rfc3339(),
            to.to_rfc3339(),
            format.name(),
            report.summary.met,
            report.summary.needs_attention,
            report.summary.not_met,
            sig.content_sha256
        );
        let e = self.entry(
            ctx,
            Some(&p),
            "compliance.report",
            "compliance/report",
            Outcome::Success,
            Some(detail),
        );
        self.audit(ctx, e).await?;
        Ok(SignedReport { body, format })
    }

    /// Where the period's chain starts: the record before its first one
    /// (or genesis). When that record was archived, the first record's own
    /// link is the anchor (the archive is checked by `vault audit verify`).
    async fn chain_start(&self, first: &AuditRecord) -> Result<ChainHead> {
        if first.seq <= 1 {
            return Ok(ChainHead::genesis());
        }
        let before = first.seq - 1;
        let prev = self
            .store()
            .read(move |r| {
                r.audit_records(&AuditFilter {
                    after: Some(before - 1),
                    limit: Some(1),
                    ..AuditFilter::default()
                })
            })
            .await?
            .into_iter()
            .find(|r| r.seq == before);
        let hash = match &prev {
            Some(p) => &p.hash,
            None => &first.prev_hash,
        };
        Ok(ChainHead::new(
            before,
            ChainHash::from_hex(hash).unwrap_or_default(),
        ))
    }

    /// The live state the report needs besides the period's records.
    async fn live_facts(&self, f: &mut Facts, t: &Tally) -> Result<()> {
        let settings = self.identity().clone();
        let (users, bindings, roles, passkeys, identities, grants, reviews, subs) = self
            .store()
            .read(|r| {
                Ok((
                    r.users()?,
                    r.bindings(None)?,
                    r.roles()?,
                    r.passkeys(None)?,
                    r.identities(None)?,
                    r.emergency_grants(None)?,
                    r.reviews()?,
                    r.subscriptions()?,
                ))
            })
            .await?;
        let (from, to) = (f.from, f.to);
        // Users, their factors and whether they are privileged.
        for u in &users {
            let held: Vec<_> = bindings
                .iter()
                .filter(|b| b.user_id == u.id)
                .cloned()
                .collect();
            let (grants_held, _) = resolve(&held, &roles, &settings);
            let privileged = grants_held.iter().any(|g| {
                ["admin", "security-officer"].contains(&g.role.name.as_str())
                    || g.role.permissions.iter().any(|p| {
                        matches!(p.as_str(), "users.manage" | "sys.manage" | "keys.manage")
                    })
            });
            let actor = format!("user:{}", u.username);
            let last_login = self
                .store()
                .read(move |r| {
                    Ok(r.audit_records(&AuditFilter {
                        actor: Some(actor),
                        action: Some("auth.login".into()),
                        to: Some(to),
                        newest_first: true,
                        limit: Some(20),
                        ..AuditFilter::default()
                    })?
                    .into_iter()
                    .find(|x| x.outcome == Outcome::Success)
                    .map(|x| x.time))
                })
                .await?;
            f.users.push(UserFact {
                name: u.username.clone(),
                disabled: u.disabled_at.is_some(),
                password: u.password_hash.is_some(),
                passkeys: u32::try_from(passkeys.iter().filter(|k| k.user_id == u.id).count())
                    .unwrap_or(u32::MAX),
                sso_identities: u32::try_from(
                    identities.iter().filter(|i| i.user_id == u.id).count(),
                )
                .unwrap_or(u32::MAX),
                privileged,
                last_login,
                created_at: u.created_at,
            });
        }
        // Bindings by role, scope and source.
        let mut by: BTreeMap<(String, String, String), u64> = BTreeMap::new();
        for b in &bindings {
            *by.entry((b.role.clone(), b.scope.clone(), b.source.clone()))
                .or_default() += 1;
        }
        f.bindings = by
            .into_iter()
            .map(|((r, s, src), n)| (r, s, src, n))
            .collect();
        let role_names: BTreeSet<String> = bindings
            .iter()
            .map(|b| b.role.clone())
            .chain(roles.iter().map(|r| r.name.clone()))
            .chain(["admin".to_owned()])
            .collect();
        f.mfa_roles = role_names
            .into_iter()
            .filter(|n| find_role(n, &roles).is_some() && role_requires_mfa(n, &roles, &settings))
            .collect();
        f.session_default = (settings.session.idle_secs, settings.session.absolute_secs);
        f.session_roles = roles
            .iter()
            .filter(|r| r.idle_secs.is_some() || r.absolute_secs.is_some())
            .map(|r| {
                (
                    r.name.clone(),
                    r.idle_secs.unwrap_or(settings.session.idle_secs),
                    r.absolute_secs.unwrap_or(settings.session.absolute_secs),
                )
            })
            .chain(settings.role_sessions.iter().map(|(n, (abs, idle))| {
                (
                    n.clone(),
                    idle.unwrap_or(settings.session.idle_secs),
                    abs.unwrap_or(settings.session.absolute_secs),
                )
            }))
            .collect();
        f.password_min_len = MIN_PASSWORD_CHARS;
        // Emergency grants opened in the period, with the reads under them.
        f.emergency = grants
            .iter()
            .filter(|g| g.created_at >= from && g.created_at < to)
            .map(|g| EmergencyFact {
                holder: g.username.clone(),
                reason: g.reason.clone(),
                opened_at: g.created_at,
                expires_at: g.expires_at,
                revoked_at: g.revoked_at,
                reads: t
                    .emergency_reads
                    .get(&format!("user:{}", g.username))
                    .map_or(0, |e| e.0),
                read: t
                    .emergency_reads
                    .get(&format!("user:{}", g.username))
                    .map(|e| e.1.iter().cloned().collect())
                    .unwrap_or_default(),
            })
            .collect();
        f.emergency_max_secs = self.settings().emergency_max_secs;
        // Keys.
        let now = f.now;
        let keks = self
            .store()
            .read(move |r| {
                let mut out = Vec::new();
                for p in r.projects()? {
                    out.extend(
                        super::keys::status_rows(r, &p.name, p.id, now)
                            .map_err(|e| crate::store::StoreError::Corrupt(e.message))?,
                    );
                }
                Ok(out)
            })
            .await?;
        f.keks = keks
            .into_iter()
            .map(|k| KekFact {
                state: serde_json::to_value(k.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                project: k.project,
                version: k.version,
                age_secs: k.age_secs,
                data_keys: k.data_keys,
                created_at: k.created_at,
            })
            .collect();
        f.root_version = self.unsealed()?.root.version();
        f.rotation_max_age_secs = self.settings().rotation.max_age_secs;
        // Audit retention and archives.
        f.retention_days = self.settings().audit_retention_days;
        f.archives = self.store().read(|r| r.audit_archives()).await?.len() as u64;
        // Access reviews.
        f.review_cadence_days = settings.access_review_days;
        f.last_review = reviews.iter().filter_map(|r| r.closed_at).max();
        f.review_overdue_open = reviews
            .iter()
            .any(|r| r.closed_at.is_none() && now > r.due_at);
        // Offboardings: what they read in the 90 days before, and what of
        // it was written (rotated) since.
        for (user, by, at, seq) in &t.offboards {
            let (actor, at, off_seq) = (format!("user:{user}"), *at, *seq);
            let (read, rotated) = self
                .store()
                .read(move |r| {
                    let mut read: BTreeSet<String> = BTreeSet::new();
                    for x in r.audit_records(&AuditFilter {
                        actor: Some(actor),
                        action: Some("secret.read".into()),
                        from: Some(at.plus_secs(-90 * 86_400)),
                        before: Some(off_seq),
                        ..AuditFilter::default()
                    })? {
                        if x.outcome == Outcome::Success {
                            read.insert(x.resource.trim_end_matches("/*").to_owned());
                        }
                    }
                    let mut rotated = Vec::new();
                    for res in &read {
                        let written = r
                            .audit_records(&AuditFilter {
                                action: Some("secret.write".into()),
                                resource: Some(res.clone()),
                                after: Some(off_seq),
                                limit: Some(1),
                                ..AuditFilter::default()
                            })?
                            .into_iter()
                            .any(|x| x.outcome == Outcome::Success);
                        if written {
                            rotated.push(res.clone());
                        }
                    }
                    Ok((read.into_iter().collect::<Vec<_>>(), rotated))
                })
                .await?;
            f.offboardings.push(OffboardFact {
                user: user.clone(),
                by: by.clone(),
                at,
                seq: *seq,
                read,
                rotated,
            });
        }
        // Alerts.
        f.alert_subscriptions = subs.iter().map(|s| s.events.clone()).collect();
        let ids: Vec<String> = subs.iter().map(|s| s.id.clone()).collect();
        f.alert_failures = self
            .store()
            .read(move |r| {
                let mut n = 0u64;
                for id in &ids {
                    n += r
                        .deliveries(id, 10_000)?
                        .iter()
                        .filter(|d| {
                            d.status == "failed" && d.created_at >= from && d.created_at < to
                        })
                        .count() as u64;
                }
                Ok(n)
            })
            .await?;
        // Transmission: TLS and the certificate's expiry.
        let cert = self.settings().tls_cert.clone();
        let expiry = match &cert {
            Some(path) => std::fs::read(path)
                .ok()
                .and_then(|pem| render::cert_not_after(&pem)),
            None => None,
        };
        f.tls = (cert.is_some(), self.settings().hsts_max_age_secs, expiry);
        Ok(())
    }
}
