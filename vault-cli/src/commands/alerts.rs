//! `vault alerts ...`: webhook subscriptions for critical events, their
//! delivery log, and test deliveries.

use ureq::http::Method;
use vault_core::api::{AlertDeliveryList, AlertList, CreateAlert, CreatedAlert};

use crate::cli::AlertsCommand;
use crate::commands::identity::enc;
use crate::commands::{Ctx, when};
use crate::error::CliResult;
use crate::output::{self, Format, Table};

/// Runs an alerts command.
pub fn run(cmd: AlertsCommand, ctx: &Ctx) -> CliResult<u8> {
    let (_, client) = ctx.connect(None, None)?;
    match cmd {
        AlertsCommand::Add {
            url,
            events,
            output,
        } => {
            let a: CreatedAlert =
                client.send(Method::POST, "/v1/alerts", &CreateAlert { url, events })?;
            if output.format == Format::Json {
                return output::json(&a).map(|()| 0);
            }
            output::note(&format!(
                "subscribed {} to {} ({}).\nSigning secret (shown once; give it to the receiver to \
                 verify webhook-signature):",
                a.subscription.url,
                a.subscription.events.join(", "),
                a.subscription.id
            ));
            // The secret goes to stdout alone, so it can be piped.
            println!("{}", a.secret.expose_secret());
            output::note(&format!("try it: vault alerts test {}", a.subscription.id));
        }
        AlertsCommand::List { output } => {
            let l: AlertList = client.get("/v1/alerts")?;
            if output.format == Format::Json {
                return output::json(&l).map(|()| 0);
            }
            let mut t = Table::new(&["ID", "URL", "EVENTS", "CREATED"]);
            for s in &l.subscriptions {
                t.row(vec![
                    s.id.clone(),
                    s.url.clone(),
                    s.events.join(","),
                    when(s.created_at),
                ]);
            }
            t.print("no subscriptions (add one with `vault alerts add`)")?;
            output::note(&format!(
                "events: {}",
                l.events
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        AlertsCommand::Remove { id } => {
            client.call_empty(Method::DELETE, &format!("/v1/alerts/{}", enc(&id)))?;
            output::note(&format!("removed {id} and its delivery log"));
        }
        AlertsCommand::Deliveries { id, output } => {
            let l: AlertDeliveryList =
                client.get(&format!("/v1/alerts/{}/deliveries", enc(&id)))?;
            if output.format == Format::Json {
                return output::json(&l).map(|()| 0);
            }
            let mut t = Table::new(&[
                "DELIVERY",
                "EVENT",
                "AUDIT SEQ",
                "STATUS",
                "ATTEMPTS",
                "LAST",
                "MADE",
            ]);
            for d in &l.deliveries {
                let last = match (&d.last_status, &d.last_error) {
                    (_, Some(e)) => e.clone(),
                    (Some(s), None) => s.to_string(),
                    (None, None) => "-".into(),
                };
                t.row(vec![
                    d.id.clone(),
                    d.event.clone(),
                    d.audit_seq.to_string(),
                    d.status.clone(),
                    d.attempts.to_string(),
                    last,
                    when(d.created_at),
                ]);
            }
            t.print("no deliveries yet")?;
        }
        AlertsCommand::Test { id } => {
            client.call_empty(Method::POST, &format!("/v1/alerts/{}/test", enc(&id)))?;
            output::note(&format!(
                "a test event is on its way; see `vault alerts deliveries {id}` in a few seconds"
            ));
        }
    }
    Ok(0)
}
