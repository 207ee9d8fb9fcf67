//! Access reviews (HIPAA 45 CFR 164.308(a)(1)(ii)(D) information system
//! activity review, (a)(4) information access management): a reviewer
//! with `users.manage` starts a review of the bindings in a scope; each
//! item shows when the holder last used it (from the audit trail); the
//! reviewer keeps or revokes each one (revoking removes the binding at
//! once and ends the holder's sessions) and closes the review with an
//! attestation. Nobody decides on their own bindings. Everything is
//! audited, and `identity.access_review_days` says how often one is due.

use std::collections::BTreeMap;

use vault_core::access::{Grant, Scope};
use vault_core::api::{
    AccessReview, CloseReview, DecideReviewItem, ReviewItem, ReviewList, StartReview,
};
use vault_core::audit::{AuditRecord, Outcome};
use vault_core::clock::Timestamp;

use crate::service::access::{parse_resource, permission_of_audit_action};
use crate::service::identity::auth::{find_role, scope_within};
use crate::service::identity::new_id;
use crate::service::{Action, Ctx, Error, Kind, Principal, Result, Vault};
use crate::store::AuditFilter;
use crate::store::identity::BindingRow;
use crate::store::reviews::{ReviewItemRow, ReviewRow};

/// Default time to finish a review, seconds (14 days).
pub const DEFAULT_DUE_SECS: i64 = 14 * 86_400;

/// How many of a holder's newest audit records are searched for a last use.
const LAST_USE_SCAN: u64 = 20_000;

const RESOURCE: &str = "access/reviews";

fn note(raw: Option<String>, what: &str) -> Result<Option<String>> {
    let Some(n) = raw.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if n.chars().count() > 500 || n.chars().any(char::is_control) {
        return Err(Error::bad(
            "review.invalid_note",
            format!("{what} is at most 500 characters, on one line"),
        ));
    }
    Ok(Some(n))
}

fn wire_item(i: ReviewItemRow) -> ReviewItem {
    ReviewItem {
        binding_id: i.binding_id,
        user: i.username,
        role: i.role,
        scope: i.scope,
        source: i.source,
        granted_at: i.granted_at,
        last_used_at: i.last_used_at,
        decision: i.decision,
        decided_by: i.decided_by,
        decided_at: i.decided_at,
        note: i.note,
    }
}

fn wire(r: ReviewRow, items: Vec<ReviewItemRow>, now: Timestamp, with_items: bool) -> AccessReview {
    let total = u64::try_from(items.len()).unwrap_or(u64::MAX);
    let decided =
        u64::try_from(items.iter().filter(|i| i.decision.is_some()).count()).unwrap_or(u64::MAX);
    AccessReview {
        overdue: r.closed_at.is_none() && now > r.due_at,
        id: r.id,
        scope: r.scope,
        created_by: r.created_by,
        created_at: r.created_at,
        due_at: r.due_at,
        closed_at: r.closed_at,
        closed_by: r.closed_by,
        attestation: r.attestation,
        decided,
        total,
        items: if with_items {
            items.into_iter().map(wire_item).collect()
        } else {
            Vec::new()
        },
    }
}

/// Whether a successful record (`action` on `resource`) was allowed by
/// `grant` (a binding's role on its scope): the role grants the permission
/// the action needs, on a resource within the scope (everything, for a
/// global permission).
pub fn record_uses_grant(grant: &Grant, record: &AuditRecord) -> bool {
    let Some(perm) = permission_of_audit_action(&record.action) else {
        return false;
    };
    if !grant.role.allows(perm) {
        return false;
    }
    if perm.is_global() {
        return grant.scope.is_all();
    }
    let resource = record
        .resource
        .strip_suffix("/*")
        .unwrap_or(&record.resource);
    parse_resource(resource)
        .is_some_and(|res| vault_core::access::allowed(std::slice::from_ref(grant), perm, &res))
}

impl Vault {
    /// `POST /v1/access/reviews`: snapshots the bindings within `scope`.
    pub async fn start_review(&self, ctx: &Ctx, req: StartReview) -> Result<AccessReview> {
        let p = self.authorize(ctx, Action::UsersManage, RESOURCE).await?;
        let pattern = req.scope.unwrap_or_else(|| "*".into());
        let within = Scope::parse(&pattern)
            .map_err(|e| Error::bad("review.invalid_scope", format!("scope {pattern:?}: {e}")))?;
        let due = req.due_secs.unwrap_or(DEFAULT_DUE_SECS);
        if !(3600..=365 * 86_400).contains(&due) {
            return Err(Error::bad(
                "review.invalid_due",
                "a review is due in 1 hour to 365 days",
            ));
        }
        let now = self.clock().now();
        let (bindings, custom) = self
            .store()
            .read(|r| Ok((r.bindings(None)?, r.roles()?)))
            .await?;
        let bindings: Vec<BindingRow> = bindings
            .into_iter()
            .filter(|b| Scope::parse(&b.scope).is_ok_and(|s| scope_within(&s, &within)))
            .collect();
        // The newest records of each holder, searched for each binding's
        // last use.
        let mut last_use: BTreeMap<String, Option<Timestamp>> = BTreeMap::new();
        let mut by_user: BTreeMap<String, Vec<&BindingRow>> = BTreeMap::new();
        for b in &bindings {
            by_user.entry(b.username.clone()).or_default().push(b);
        }
        for (user, held) in by_user {
            let actor = format!("user:{user}");
            let records = self
                .store()
                .read(move |r| {
                    r.audit_records(&AuditFilter {
                        actor: Some(actor),
                        newest_first: true,
                        limit: Some(LAST_USE_SCAN),
                        ..AuditFilter::default()
                    })
                })
                .await?;
            for b in held {
                let grant = find_role(&b.role, &custom)
                    .zip(Scope::parse(&b.scope).ok())
                    .map(|(role, scope)| Grant { role, scope });
                let used = grant.and_then(|g| {
                    records
                        .iter()
                        .filter(|r| r.outcome == Outcome::Success)
                        .find(|r| record_uses_grant(&g, r))
                        .map(|r| r.time)
                });
                last_use.insert(b.id.clone(), used);
            }
        }
        let row = ReviewRow {
            id: new_id("rev_")?,
            scope: within.to_string(),
            created_by: p.actor(),
            created_at: now,
            due_at: now.plus_secs(due),
            closed_at: None,
            closed_by: None,
            attestation: None,
        };
        let items: Vec<ReviewItemRow> = bindings
            .iter()
            .map(|b| ReviewItemRow {
                review_id: row.id.clone(),
                binding_id: b.id.clone(),
                user_id: b.user_id.clone(),
                username: b.username.clone(),
                role: b.role.clone(),
                scope: b.scope.clone(),
                source: b.source.clone(),
                granted_at: b.created_at,
                last_used_at: last_use.get(&b.id).copied().flatten(),
                decision: None,
                decided_by: None,
                decided_at: None,
                note: None,
            })
            .collect();
        let detail = Some(format!(
            "review={} scope={} bindings={} due={}",
            row.id,
            row.scope,
            items.len(),
            row.due_at.to_rfc3339()
        ));
        let (r2, i2) = (row.clone(), items.clone());
        self.write_as(
            ctx,
            Some(&p),
            "access_review.start",
            RESOURCE,
            detail,
            move |w| Ok(w.insert_review(&r2, &i2)?),
        )
        .await?;
        Ok(wire(row, items, now, true))
    }

    /// `GET /v1/access/reviews`: every review, and whether one is due.
    pub async fn reviews(&self, ctx: &Ctx) -> Result<ReviewList> {
        self.audited(ctx, Action::UsersManage, RESOURCE, |_| async move {
            let now = self.clock().now();
            let rows = self
                .store()
                .read(|r| {
                    r.reviews()?
                        .into_iter()
                        .map(|rv| {
                            let items = r.review_items(&rv.id)?;
                            Ok((rv, items))
                        })
                        .collect::<std::result::Result<Vec<_>, _>>()
                })
                .await?;
            let cadence = self.identity().access_review_days;
            let last_completed_at = rows.iter().filter_map(|(r, _)| r.closed_at).max();
            let reviews: Vec<AccessReview> = rows
                .into_iter()
                .map(|(r, items)| wire(r, items, now, false))
                .collect();
            let overdue = reviews.iter().any(|r| r.overdue)
                || last_completed_at
                    .is_none_or(|t| now.as_millis() > t.plus_secs(cadence * 86_400).as_millis());
            Ok(ReviewList {
                reviews,
                cadence_days: cadence,
                last_completed_at,
                overdue,
            })
        })
        .await
    }

    async fn review_row(&self, id: &str) -> Result<(ReviewRow, Vec<ReviewItemRow>)> {
        let id = id.to_owned();
        self.store()
            .read(move |r| {
                let Some(rv) = r.reviews()?.into_iter().find(|x| x.id == id) else {
                    return Ok(None);
                };
                let items = r.review_items(&rv.id)?;
                Ok(Some((rv, items)))
            })
            .await?
            .ok_or_else(|| Error::not_found("review.not_found", "no such access review"))
    }

    /// `GET /v1/access/reviews/{id}`.
    pub async fn review(&self, ctx: &Ctx, id: &str) -> Result<AccessReview> {
        self.audited(ctx, Action::UsersManage, RESOURCE, |_| async move {
            let (r, items) = self.review_row(id).await?;
            Ok(wire(r, items, self.clock().now(), true))
        })
        .await
    }

    /// `POST /v1/access/reviews/{id}/bindings/{binding}`: keep or revoke.
    /// Revoking removes the binding in the same transaction (the holder's
    /// sessions end), with the rules of `DELETE /v1/bindings/{id}`.
    pub async fn decide_review_item(
        &self,
        ctx: &Ctx,
        id: &str,
        binding: &str,
        req: DecideReviewItem,
    ) -> Result<ReviewItem> {
        let resource = format!("{RESOURCE}/{id}");
        let p = self
            .authorize_sensitive(ctx, Action::UsersManage, &resource)
            .await?;
        let revoke = match req.decision.as_str() {
            "keep" => false,
            "revoke" => true,
            _ => {
                return Err(Error::bad(
                    "review.invalid_decision",
                    "the decision is keep or revoke",
                ));
            }
        };
        let note = note(req.note, "a note")?;
        let (review, items) = self.review_row(id).await?;
        let Some(item) = items.into_iter().find(|i| i.binding_id == binding) else {
            return Err(Error::not_found(
                "review.binding_not_found",
                "this binding is not in the review",
            ));
        };
        if let Principal::User { user_id, .. } = &p
            && *user_id == item.user_id
        {
            let e = Error::new(
                Kind::Forbidden,
                "review.own_binding",
                "you cannot review your own binding: another reviewer must",
            );
            return Err(self
                .audit_refusal(ctx, Some(&p), "access_review.decide", &resource, e)
                .await);
        }
        if review.closed_at.is_some() {
            return Err(Error::conflict("review.closed", "this review is closed"));
        }
        let admin = super::identity::is_admin(&p);
        let by = p.actor();
        let now = self.clock().now();
        let (rid, bid) = (review.id.clone(), item.binding_id.clone());
        let decision = req.decision.clone();
        let n2 = note.clone();
        let detail = Some(format!(
            "review={rid} binding={bid} user={} role={} scope={} decision={decision}",
            item.username, item.role, item.scope
        ));
        self.write_as(
            ctx,
            Some(&p),
            "access_review.decide",
            &resource,
            detail,
            move |w| {
                if !w.decide_review_item(&rid, &bid, &decision, &by, now, n2.as_deref())? {
                    return Err(Error::conflict(
                        "review.decided",
                        "this binding was decided already, or the review is closed",
                    ));
                }
                if revoke {
                    let target = w.bindings(None)?.into_iter().find(|b| b.id == bid);
                    if let Some(b) = target {
                        if b.role == "admin" && !admin {
                            return Err(Error::new(
                                Kind::Forbidden,
                                "access.admin_target",
                                "only an administrator may remove an administrator's binding",
                            ));
                        }
                        if b.source != "manual" {
                            return Err(Error::conflict(
                                "binding.managed_by_sso",
                                format!(
                                    "this binding comes from {}: remove the user from the group at \
                                 the identity provider, then decide keep with a note",
                                    b.source
                                ),
                            ));
                        }
                        if let Some(u) = w.delete_binding(&bid)? {
                            w.revoke_sessions(Some(&u), now)?;
                        }
                    }
                }
                Ok(())
            },
        )
        .await?;
        Ok(ReviewItem {
            decision: Some(req.decision),
            decided_by: Some(p.actor()),
            decided_at: Some(now),
            note,
            ..wire_item(item)
        })
    }

    /// `POST /v1/access/reviews/{id}/close`: every binding decided, the
    /// closer attests to the result.
    pub async fn close_review(
        &self,
        ctx: &Ctx,
        id: &str,
        req: CloseReview,
    ) -> Result<AccessReview> {
        let resource = format!("{RESOURCE}/{id}");
        let p = self.authorize(ctx, Action::UsersManage, &resource).await?;
        let attestation = note(req.attestation, "an attestation")?;
        let (review, items) = self.review_row(id).await?;
        let pending = items.iter().filter(|i| i.decision.is_none()).count();
        if pending > 0 {
            return Err(Error::conflict(
                "review.incomplete",
                format!("{pending} binding(s) still need a decision (keep or revoke)"),
            ));
        }
        let kept = items
            .iter()
            .filter(|i| i.decision.as_deref() == Some("keep"))
            .count();
        let now = self.clock().now();
        let (rid, by, att) = (review.id.clone(), p.actor(), attestation.clone());
        let detail = Some(format!(
            "review={rid} kept={kept} revoked={}{}",
            items.len() - kept,
            if attestation.is_some() {
                " attested"
            } else {
                " (no attestation)"
            }
        ));
        self.write_as(
            ctx,
            Some(&p),
            "access_review.close",
            &resource,
            detail,
            move |w| {
                if !w.close_review(&rid, &by, now, att.as_deref())? {
                    return Err(Error::conflict("review.closed", "this review is closed"));
                }
                Ok(())
            },
        )
        .await?;
        let (review, items) = self.review_row(id).await?;
        Ok(wire(review, items, now, true))
    }
}
