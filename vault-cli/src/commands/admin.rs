//! `vault projects ...` and `vault envs ...`.

use ureq::http::Method;
use vault_core::api::{
    CreateEnvironment, CreateProject, Environment, EnvironmentList, Project, ProjectList,
};

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
    }
    Ok(0)
}
