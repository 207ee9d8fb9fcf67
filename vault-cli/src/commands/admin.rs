//! `vault projects ...` and `vault envs ...`.

use ureq::http::Method;
use vault_core::api::{
    Bundle, CreateEnvironment, CreateProject, Environment, EnvironmentList, Project, ProjectList,
    SecretList, SecretMeta, WriteSecret,
};
use vault_core::names::EnvName;

use crate::cli::{EnvsCommand, ProjectsCommand};
use crate::commands::{Ctx, when};
use crate::error::{CliError, CliResult};
use crate::output::{self, Format, Table};
use crate::prompt;

/// Runs a `vault projects` command.
pub fn projects(cmd: ProjectsCommand, ctx: &Ctx) -> CliResult<u8> {
    let (_, client) = ctx.connect(None, None)?;
    match cmd {
        ProjectsCommand::List { output } => {
            let list: ProjectList = client.get("/v1/projects")?;
            if output.format == Format::Json {
                return output::json(&list).map(|()| 0);
            }
            let mut t = Table::new(&["PROJECT", "CREATED"]);
            for p in &list.projects {
                t.row(vec![p.name.clone(), when(p.created_at)]);
            }
            t.print("no projects (create one with `vault projects create NAME`)")?;
        }
        ProjectsCommand::Create { name, output } => {
            let p: Project = client.send(
                Method::POST,
                "/v1/projects",
                &CreateProject {
                    name: name.to_string(),
                },
            )?;
            if output.format == Format::Json {
                return output::json(&p).map(|()| 0);
            }
            output::note(&format!("created project {}", p.name));
        }
        ProjectsCommand::Delete { name, yes } => {
            if !yes
                && !prompt::confirm(&format!(
                    "Delete project {name} and destroy its keys? Its secrets become unrecoverable."
                ))
            {
                return Err(CliError::new("not confirmed; nothing deleted")
                    .hint("pass --yes to delete without a prompt"));
            }
            client.call_empty(Method::DELETE, &format!("/v1/projects/{name}"))?;
            output::note(&format!("deleted project {name} (keys destroyed)"));
        }
    }
    Ok(0)
}

/// Runs a `vault envs` command.
pub fn envs(cmd: EnvsCommand, ctx: &Ctx) -> CliResult<u8> {
    match cmd {
        EnvsCommand::List { project, output } => {
            let (s, client) = ctx.connect(project.as_ref(), None)?;
            let p = s.project()?;
            let list: EnvironmentList = client.get(&format!("/v1/projects/{p}/environments"))?;
            if output.format == Format::Json {
                return output::json(&list).map(|()| 0);
            }
            let mut t = Table::new(&["ENVIRONMENT", "CREATED"]);
            for e in &list.environments {
                t.row(vec![e.name.clone(), when(e.created_at)]);
            }
            t.print(&format!(
                "no environments in {p} (create one with `vault envs create -p {p} NAME`)"
            ))?;
        }
        EnvsCommand::Create {
            project,
            name,
            output,
        } => {
            let (s, client) = ctx.connect(project.as_ref(), None)?;
            let p = s.project()?;
            let e: Environment = client.send(
                Method::POST,
                &format!("/v1/projects/{p}/environments"),
                &CreateEnvironment {
                    name: name.to_string(),
                },
            )?;
            if output.format == Format::Json {
                return output::json(&e).map(|()| 0);
            }
            output::note(&format!("created environment {}/{}", e.project, e.name));
        }
        EnvsCommand::Clone {
            project,
            from,
            to,
            output,
        } => {
            let (s, client) = ctx.connect(project.as_ref(), None)?;
            let p = s.project()?;
            let source: Bundle = client.get(&crate::run::bundle_path(p.as_str(), from.as_str()))?;
            let _: Environment = client
                .send(
                    Method::POST,
                    &format!("/v1/projects/{p}/environments"),
                    &CreateEnvironment {
                        name: to.to_string(),
                    },
                )
                .map_err(|e| e.context(format!("cannot create {p}/{to}; nothing was copied")))?;
            for (name, value) in &source.secrets {
                let _: SecretMeta = client
                    .send(
                        Method::PUT,
                        &format!("/v1/projects/{p}/environments/{to}/secrets/{name}"),
                        &WriteSecret {
                            value: value.clone(),
                            cas: Some(0),
                        },
                    )
                    .map_err(|e| e.context(format!("clone stopped at {name}")))?;
            }
            let names: Vec<&String> = source.secrets.keys().collect();
            if output.format == Format::Json {
                output::json(
                    &serde_json::json!({ "from": from.as_str(), "to": to.as_str(), "secrets": names }),
                )?;
            } else {
                output::note(&format!(
                    "cloned {} secret(s) from {p}/{from} into the new {p}/{to}",
                    names.len()
                ));
            }
        }
        EnvsCommand::Diff {
            project,
            a,
            b,
            output,
        } => {
            let (s, client) = ctx.connect(project.as_ref(), None)?;
            let p = s.project()?;
            let names = |e: &EnvName| -> CliResult<std::collections::BTreeSet<String>> {
                let l: SecretList =
                    client.get(&format!("/v1/projects/{p}/environments/{e}/secrets"))?;
                Ok(l.secrets.into_iter().map(|x| x.name).collect())
            };
            let (na, nb) = (names(&a)?, names(&b)?);
            let only_a: Vec<&String> = na.difference(&nb).collect();
            let only_b: Vec<&String> = nb.difference(&na).collect();
            let both: Vec<&String> = na.intersection(&nb).collect();
            if output.format == Format::Json {
                output::json(&serde_json::json!({
                    "only_in": { a.as_str(): only_a, b.as_str(): only_b },
                    "in_both": both,
                }))?;
            } else {
                let mut t = Table::new(&["NAME", "IN", "ONLY"]);
                for n in na.union(&nb) {
                    let (inside, only) = match (na.contains(n), nb.contains(n)) {
                        (true, true) => ("both", "-".to_owned()),
                        (true, false) => ("one", a.to_string()),
                        _ => ("one", b.to_string()),
                    };
                    t.row(vec![n.clone(), inside.into(), only]);
                }
                t.print("no secrets in either")?;
                output::note(&format!(
                    "{} only in {a}, {} only in {b}, {} in both (names only; values are not compared)",
                    only_a.len(),
                    only_b.len(),
                    both.len()
                ));
            }
        }
    }
    Ok(0)
}
