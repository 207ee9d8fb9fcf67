//! Webhook alerts on critical events (HIPAA 45 CFR 164.308(a)(6)): the
//! audit trail is the outbox. A background tick turns new audit records
//! into deliveries (one per matching subscription), then sends the due
//! ones as signed POSTs (Standard Webhooks), retrying with backoff and
//! logging every attempt. Payloads carry the audit record's fields, which
//! never hold a secret value. Receivers are reached through the guarded
//! client: public HTTPS, or what `[alerts]` allows; never link-local or
//! metadata addresses; no redirects; DNS resolved once and the connection
//! made to the checked address.

use vault_core::alerts::{
    EVENTS, WebhookPolicy, check_url, events_of, is_event, parse_network, retry_after_secs,
    secret_text, signature,
};
use vault_core::api::{
    AlertDelivery, AlertDeliveryList, AlertEvent, AlertList, AlertSubscription, CreateAlert,
    CreatedAlert,
};
use vault_core::audit::{AuditRecord, Outcome};
use vault_core::secret::SecretText;

use crate::config::AlertsConfig;
use crate::service::identity::new_id;
use crate::service::outbound::{GuardedHttp, OutboundError};
use crate::service::{Action, Ctx, Error, Result, Vault};
use crate::store::AuditFilter;
use crate::store::alerts::{DeliveryRow, SubscriptionRow};

/// Audit records turned into deliveries per tick.
const FAN_OUT_BATCH: u64 = 500;
/// Deliveries sent per tick.
const SEND_BATCH: u32 = 20;
/// The test event.
const TEST_EVENT: &str = "alert.test";

/// The delivery client and its policy.
pub struct AlertState {
    http: GuardedHttp,
    allow_loopback: bool,
    /// One tick at a time.
    busy: tokio::sync::Mutex<()>,
}

impl AlertState {
    /// From `[alerts]`.
    pub fn new(c: &AlertsConfig) -> std::result::Result<Self, String> {
        let policy = WebhookPolicy {
            allow_loopback: c.danger_allow_loopback,
            private_networks: c
                .allowed_networks
                .iter()
                .filter_map(|n| parse_network(n))
                .collect(),
        };
        Ok(Self {
            http: GuardedHttp::for_webhooks(policy)?,
            allow_loopback: c.danger_allow_loopback,
            busy: tokio::sync::Mutex::new(()),
        })
    }
}

fn wire(s: SubscriptionRow) -> AlertSubscription {
    AlertSubscription {
        id: s.id,
        url: s.url,
        events: s.events,
        created_by: s.created_by,
        created_at: s.created_at,
    }
}

fn wire_delivery(d: DeliveryRow) -> AlertDelivery {
    AlertDelivery {
        id: d.id,
        event: d.event,
        audit_seq: d.audit_seq,
        attempts: d.attempts,
        status: d.status,
        last_status: d.last_status,
        last_error: d.last_error,
        created_at: d.created_at,
        delivered_at: d.delivered_at,
        next_attempt_at: d.next_attempt_at,
    }
}

/// The JSON body of a delivery: the event and the audit record's fields.
fn payload(event: &str, r: &AuditRecord) -> String {
    serde_json::json!({
        "type": event,
        "timestamp": r.time.to_rfc3339(),
        "data": {
            "audit_seq": r.seq,
            "action": r.action,
            "actor": r.actor,
            "resource": r.resource,
            "outcome": r.outcome.as_str(),
            "detail": r.detail,
            "source": r.source,
            "request_id": r.request_id,
        }
    })
    .to_string()
}

/// Whether subscription `s` gets `event` from record `r`.
fn wants(s: &SubscriptionRow, event: &str, r: &AuditRecord) -> bool {
    if r.seq <= s.from_seq {
        return false;
    }
    if event == TEST_EVENT {
        // A test goes to the one receiver it was asked for.
        return r.resource == format!("alerts/{}", s.id);
    }
    s.events.iter().any(|e| e == event)
}

impl Vault {
    /// `GET /v1/alerts`.
    pub async fn alerts(&self, ctx: &Ctx) -> Result<AlertList> {
        self.audited(ctx, Action::AuditRead, "alerts", |_| async move {
            let subs = self.store().read(|r| r.subscriptions()).await?;
            Ok(AlertList {
                subscriptions: subs.into_iter().map(wire).collect(),
                events: EVENTS
                    .iter()
                    .map(|(n, d)| AlertEvent {
                        name: (*n).to_owned(),
                        description: (*d).to_owned(),
                    })
                    .collect(),
            })
        })
        .await
    }

    /// `POST /v1/alerts`: a subscription; its signing secret is shown once
    /// (derived from the audit key and the id, never stored).
    pub async fn create_alert(&self, ctx: &Ctx, req: CreateAlert) -> Result<CreatedAlert> {
        // Security configuration: who may see the trail may not redirect or
        // silence its alerts.
        let p = self
            .authorize_sensitive(ctx, Action::UsersManage, "alerts")
            .await?;
        let url = check_url(req.url.trim(), self.alert_state().allow_loopback).map_err(|why| {
            let hint = match why {
                vault_core::alerts::UrlRefusal::NotHttps => {
                    "a receiver URL must be https:// (plain HTTP only to loopback, and only with \
                     alerts.danger_allow_loopback)"
                }
                vault_core::alerts::UrlRefusal::Malformed => {
                    "a receiver URL is https://host[:port]/path, without user:password@ or #fragment"
                }
            };
            Error::bad("alert.invalid_url", hint)
        })?;
        let mut events: Vec<String> = req.events.iter().map(|e| e.trim().to_owned()).collect();
        events.sort();
        events.dedup();
        if events.is_empty() {
            return Err(Error::bad("alert.invalid_event", "name at least one event"));
        }
        if let Some(bad) = events.iter().find(|e| !is_event(e)) {
            return Err(Error::bad(
                "alert.invalid_event",
                format!(
                    "no event {:?}; events: {}",
                    bad.chars().take(64).collect::<String>(),
                    EVENTS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let u = self.unsealed()?;
        let head = self
            .store()
            .read(|r| r.audit_head())
            .await?
            .map_or(0, |(seq, _)| seq);
        let row = SubscriptionRow {
            id: new_id("wh_")?,
            url: url.to_string(),
            events,
            created_by: p.actor(),
            created_at: self.clock().now(),
            from_seq: head,
        };
        let key = u.audit_key.webhook_secret(&row.id);
        let secret = SecretText::new(secret_text(&key));
        // The query string may hold the receiver's own token: not recorded.
        let shown_url = format!("{}{}", url.origin().ascii_serialization(), url.path());
        let detail = Some(format!(
            "subscription={} url={shown_url} events={}",
            row.id,
            row.events.join(",")
        ));
        let r2 = row.clone();
        self.write_as(ctx, Some(&p), "alert.create", "alerts", detail, move |w| {
            Ok(w.insert_subscription(&r2)?)
        })
        .await?;
        Ok(CreatedAlert {
            subscription: wire(row),
            secret,
        })
    }

    /// `DELETE /v1/alerts/{id}`: the subscription and its delivery log go.
    pub async fn delete_alert(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let p = self
            .authorize_sensitive(ctx, Action::UsersManage, "alerts")
            .await?;
        let id = id.to_owned();
        let detail = Some(format!("subscription={id}"));
        self.write_as(ctx, Some(&p), "alert.delete", "alerts", detail, move |w| {
            if !w.delete_subscription(&id)? {
                return Err(Error::not_found(
                    "alert.not_found",
                    "no such alert subscription",
                ));
            }
            Ok(())
        })
        .await
    }

    /// `GET /v1/alerts/{id}/deliveries`: the delivery log, newest first.
    pub async fn alert_deliveries(&self, ctx: &Ctx, id: &str) -> Result<AlertDeliveryList> {
        self.audited(ctx, Action::AuditRead, "alerts", |_| async move {
            let id = id.to_owned();
            let rows = self
                .store()
                .read(move |r| {
                    if !r.subscriptions()?.iter().any(|s| s.id == id) {
                        return Ok(None);
                    }
                    Ok(Some(r.deliveries(&id, 200)?))
                })
                .await?
                .ok_or_else(|| Error::not_found("alert.not_found", "no such alert subscription"))?;
            Ok(AlertDeliveryList {
                deliveries: rows.into_iter().map(wire_delivery).collect(),
            })
        })
        .await
    }

    /// `POST /v1/alerts/{id}/test`: an `alert.test` event for that receiver
    /// (an audit record like any other, delivered at the next tick).
    pub async fn test_alert(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let p = self.authorize(ctx, Action::UsersManage, "alerts").await?;
        let wanted = id.to_owned();
        let exists = self
            .store()
            .read(move |r| Ok(r.subscriptions()?.iter().any(|s| s.id == wanted)))
            .await?;
        if !exists {
            return Err(Error::not_found(
                "alert.not_found",
                "no such alert subscription",
            ));
        }
        let e = self.entry(
            ctx,
            Some(&p),
            TEST_EVENT,
            &format!("alerts/{id}"),
            Outcome::Success,
            Some("a test delivery".into()),
        );
        self.audit(ctx, e).await
    }

    /// One round of background work: new audit records become deliveries,
    /// then the due deliveries are sent. Runs only while unsealed (the
    /// signing keys derive from the audit key).
    pub async fn alerts_tick(&self) -> Result<()> {
        let Ok(u) = self.unsealed() else {
            return Ok(());
        };
        let Ok(_turn) = self.alert_state().busy.try_lock() else {
            return Ok(());
        };
        self.fan_out().await?;
        let now = self.clock().now();
        let due = self
            .store()
            .read(move |r| r.due_deliveries(now, SEND_BATCH))
            .await?;
        let subs = self.store().read(|r| r.subscriptions()).await?;
        // Concurrently: one slow receiver does not hold up the others.
        let mut sends = tokio::task::JoinSet::new();
        for d in due {
            let Some(s) = subs.iter().find(|s| s.id == d.subscription_id) else {
                continue;
            };
            let key = u.audit_key.webhook_secret(&s.id);
            let (v, url) = (self.clone(), s.url.clone());
            sends.spawn(async move { v.deliver(&url, &key[..], d).await });
        }
        while let Some(done) = sends.join_next().await {
            let Ok(next) = done else { continue };
            self.store()
                .write(None, move |w| -> Result<()> {
                    Ok(w.record_attempt(&next)?)
                })
                .await
                .map_err(|e| Error::internal(format!("write failed: {e}")))??;
        }
        Ok(())
    }

    /// New audit records (after the cursor) into deliveries. The first
    /// tick ever starts at the head: history is not replayed.
    async fn fan_out(&self) -> Result<()> {
        let cursor = self.store().read(|r| r.alert_cursor()).await?;
        let Some(after) = cursor else {
            let head = self
                .store()
                .read(|r| r.audit_head())
                .await?
                .map_or(0, |(seq, _)| seq);
            return self
                .store()
                .write(None, move |w| -> Result<()> {
                    Ok(w.set_alert_cursor(head)?)
                })
                .await
                .map_err(|e| Error::internal(format!("write failed: {e}")))?;
        };
        let (records, subs) = self
            .store()
            .read(move |r| {
                Ok((
                    r.audit_records(&AuditFilter {
                        after: Some(after),
                        limit: Some(FAN_OUT_BATCH),
                        ..AuditFilter::default()
                    })?,
                    r.subscriptions()?,
                ))
            })
            .await?;
        let Some(last) = records.last().map(|r| r.seq) else {
            return Ok(());
        };
        let now = self.clock().now();
        let mut deliveries = Vec::new();
        for r in &records {
            for event in events_of(r) {
                for s in subs.iter().filter(|s| wants(s, event, r)) {
                    deliveries.push(DeliveryRow {
                        id: new_id("msg_")?,
                        subscription_id: s.id.clone(),
                        event: event.to_owned(),
                        audit_seq: r.seq,
                        payload: payload(event, r),
                        attempts: 0,
                        next_attempt_at: Some(now),
                        status: "pending".into(),
                        last_status: None,
                        last_error: None,
                        created_at: now,
                        delivered_at: None,
                    });
                }
            }
        }
        self.store()
            .write(None, move |w| -> Result<()> {
                for d in &deliveries {
                    w.insert_delivery(d)?;
                }
                Ok(w.set_alert_cursor(last)?)
            })
            .await
            .map_err(|e| Error::internal(format!("write failed: {e}")))?
    }

    /// One attempt; the delivery as it is after it.
    async fn deliver(&self, url: &str, key: &[u8], mut d: DeliveryRow) -> DeliveryRow {
        let now = self.clock().now();
        let ts = now.as_millis() / 1000;
        let sig = signature(key, &d.id, ts, d.payload.as_bytes());
        let request = axum::http::Request::builder()
            .method("POST")
            .uri(url)
            .header("content-type", "application/json")
            .header("webhook-id", &d.id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(d.payload.clone().into_bytes());
        let outcome = match request {
            Ok(req) => self.alert_state().http.send(req).await,
            Err(e) => Err(OutboundError::Transport(format!("request: {e}"))),
        };
        d.attempts = d.attempts.saturating_add(1);
        match outcome {
            Ok(resp) if resp.status().is_success() => {
                d.status = "delivered".into();
                d.last_status = Some(resp.status().as_u16());
                d.last_error = None;
                d.delivered_at = Some(now);
                d.next_attempt_at = None;
                return d;
            }
            Ok(resp) => {
                d.last_status = Some(resp.status().as_u16());
                d.last_error = Some(if resp.status().is_redirection() {
                    "the receiver answered a redirect, which is not followed".into()
                } else {
                    format!("the receiver answered {}", resp.status())
                });
            }
            Err(e) => {
                d.last_status = None;
                d.last_error = Some(e.to_string());
            }
        }
        match retry_after_secs(d.attempts) {
            Some(wait) => d.next_attempt_at = Some(now.plus_secs(wait)),
            None => {
                d.status = "failed".into();
                d.next_attempt_at = None;
                tracing::warn!(
                    delivery = %d.id,
                    event = %d.event,
                    "alert delivery failed for good after {} attempts",
                    d.attempts
                );
            }
        }
        d
    }
}
