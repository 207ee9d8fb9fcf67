//! `vault access review ...`: start a review of the bindings in a scope,
//! decide keep or revoke on each, close it with an attestation.

use ureq::http::Method;
use vault_core::api::{
    AccessReview, CloseReview, DecideReviewItem, ReviewItem, ReviewList, StartReview,
};

use crate::cli::ReviewCommand;
use crate::client::Client;
use crate::commands::identity::{enc, parse_duration};
use crate::commands::when;
use crate::error::CliResult;
use crate::output::{self, Format, Table};

fn path(id: &str) -> String {
    format!("/v1/access/reviews/{}", enc(id))
}

fn items(r: &AccessReview) -> CliResult<()> {
    let mut t = Table::new(&[
        "BINDING",
        "USER",
        "ROLE",
        "SCOPE",
        "SOURCE",
        "GRANTED",
        "LAST USED",
        "DECISION",
    ]);
    for i in &r.items {
        t.row(vec![
            i.binding_id.clone(),
            i.user.clone(),
            i.role.clone(),
            i.scope.clone(),
            i.source.clone(),
            when(i.granted_at),
            i.last_used_at.map_or_else(|| "never".into(), when),
            i.decision.clone().unwrap_or_else(|| "pending".into()),
        ]);
    }
    t.print("no bindings in this scope")
}

fn summary(r: &AccessReview) -> String {
    let state = match (&r.closed_at, r.overdue) {
        (Some(t), _) => format!(
            "closed {} by {}",
            when(*t),
            r.closed_by.as_deref().unwrap_or("?")
        ),
        (None, true) => format!("OVERDUE (was due {})", when(r.due_at)),
        (None, false) => format!("open, due {}", when(r.due_at)),
    };
    format!(
        "review {} of {} ({}/{} decided): {state}",
        r.id, r.scope, r.decided, r.total
    )
}

/// Runs a review command.
pub fn run(cmd: ReviewCommand, client: &Client) -> CliResult<u8> {
    match cmd {
        ReviewCommand::Start { scope, due, output } => {
            let req = StartReview {
                scope,
                due_secs: due.as_deref().map(parse_duration).transpose()?,
            };
            let r: AccessReview = client.send(Method::POST, "/v1/access/reviews", &req)?;
            if output.format == Format::Json {
                return output::json(&r).map(|()| 0);
            }
            output::note(&summary(&r));
            items(&r)?;
            output::note(&format!(
                "decide each: vault access review decide {} BINDING keep|revoke --note ...",
                r.id
            ));
        }
        ReviewCommand::List { output } => {
            let l: ReviewList = client.get("/v1/access/reviews")?;
            if output.format == Format::Json {
                return output::json(&l).map(|()| 0);
            }
            for r in &l.reviews {
                println!("{}", summary(r));
            }
            if l.reviews.is_empty() {
                output::note("no reviews yet (start one with `vault access review start`)");
            }
            if l.overdue {
                output::note(&format!(
                    "a review is due: none closed in the last {} days{}",
                    l.cadence_days,
                    l.last_completed_at
                        .map(|t| format!(" (last closed {})", when(t)))
                        .unwrap_or_default()
                ));
            }
        }
        ReviewCommand::Show { id, output } => {
            let r: AccessReview = client.get(&path(&id))?;
            if output.format == Format::Json {
                return output::json(&r).map(|()| 0);
            }
            output::note(&summary(&r));
            items(&r)?;
        }
        ReviewCommand::Decide {
            id,
            binding,
            decision,
            note,
        } => {
            let i: ReviewItem = client.send(
                Method::POST,
                &format!("{}/bindings/{}", path(&id), enc(&binding)),
                &DecideReviewItem {
                    decision: decision.clone(),
                    note,
                },
            )?;
            output::note(&if decision == "revoke" {
                format!(
                    "revoked {} on {} for {} (binding removed, their sessions ended)",
                    i.role, i.scope, i.user
                )
            } else {
                format!("kept {} on {} for {}", i.role, i.scope, i.user)
            });
        }
        ReviewCommand::Close { id, note, output } => {
            let r: AccessReview = client.send(
                Method::POST,
                &format!("{}/close", path(&id)),
                &CloseReview { attestation: note },
            )?;
            if output.format == Format::Json {
                return output::json(&r).map(|()| 0);
            }
            output::note(&summary(&r));
        }
    }
    Ok(0)
}
