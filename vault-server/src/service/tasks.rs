//! Periodic background work: audit checkpoints, audit retention, trash
//! purge, automatic KEK rotation by age, removal of ended sessions, webhook
//! alerts. Each
//! runs only while unsealed (retention and purge do not need keys but wait
//! with the rest) and stops at shutdown.

use std::time::Duration;

use tokio::sync::watch;
use vault_core::names::ProjectName;

use super::Vault;
use crate::config::Config;

/// Intervals of the background tasks.
#[derive(Debug, Clone, Copy)]
pub struct Intervals {
    /// Signed checkpoints.
    pub checkpoint: Duration,
    /// Audit retention sweeps.
    pub retention: Duration,
    /// Trash purges.
    pub purge: Duration,
    /// Rotation checks.
    pub rotation: Duration,
    /// Removal of ended sessions (hourly; not configurable: it changes no
    /// outcome, only how long dead rows stay).
    pub sessions: Duration,
    /// Webhook alerts: new events into deliveries, due deliveries sent
    /// (every second: an alert is only useful soon).
    pub alerts: Duration,
}

impl Intervals {
    /// From the config.
    pub fn from_config(c: &Config) -> Self {
        Self {
            checkpoint: Duration::from_secs(c.audit.checkpoint_interval_secs),
            retention: Duration::from_secs(c.audit.retention_interval_secs),
            purge: Duration::from_secs(c.secrets.purge_interval_secs),
            rotation: Duration::from_secs(c.keys.rotation_check_interval_secs),
            sessions: Duration::from_secs(3600),
            alerts: Duration::from_secs(1),
        }
    }
}

/// Starts every task; they end when `stop` flips to true.
pub fn spawn_all(vault: &Vault, iv: Intervals, stop: watch::Receiver<bool>) {
    spawn_every(
        vault,
        iv.checkpoint,
        stop.clone(),
        "checkpoint",
        |v| async move { v.checkpoint().await.map(|_| ()) },
    );
    spawn_every(
        vault,
        iv.retention,
        stop.clone(),
        "audit retention",
        |v| async move { v.audit_retention().await.map(|_| ()) },
    );
    spawn_every(
        vault,
        iv.purge,
        stop.clone(),
        "trash purge",
        |v| async move { v.purge_trash().await.map(|_| ()) },
    );
    spawn_every(
        vault,
        iv.sessions,
        stop.clone(),
        "session prune",
        |v| async move { v.prune_sessions().await.map(|_| ()) },
    );
    spawn_every(vault, iv.alerts, stop.clone(), "alerts", |v| async move {
        v.alerts_tick().await
    });
    spawn_every(vault, iv.rotation, stop, "rotation check", |v| async move {
        v.rotation_sweep().await
    });
}

fn spawn_every<F, Fut>(
    vault: &Vault,
    every: Duration,
    mut stop: watch::Receiver<bool>,
    name: &'static str,
    f: F,
) where
    F: Fn(Vault) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = super::Result<()>> + Send,
{
    let vault = vault.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
            if vault.sealed() {
                continue;
            }
            if let Err(e) = f(vault.clone()).await {
                tracing::warn!(task = name, error = %e, "background task failed");
            }
        }
    });
}

impl Vault {
    /// Checks every project's active KEK against the rotation policy.
    pub async fn rotation_sweep(&self) -> super::Result<()> {
        let projects = self.store().read(|r| r.projects()).await?;
        for p in projects {
            if let Ok(name) = ProjectName::parse(&p.name) {
                self.rotate_if_due(&name).await?;
            }
        }
        Ok(())
    }
}
