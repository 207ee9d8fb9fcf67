//! `vault login --oidc` and `--web`: a sign-in in a browser (single sign-on,
//! or the vault's own page with passkeys), brought back to the
//! CLI over loopback (RFC 8252 §7.3, "loopback interface redirection").
//!
//! The CLI makes a PKCE verifier (RFC 7636) and listens on 127.0.0.1; the
//! URL it prints starts the OIDC flow on the vault server with the port and
//! the verifier's S256 challenge. After the IdP, the server sends the
//! browser to `http://127.0.0.1:PORT/callback?code=...` with a one-time code
//! (60 s) that only the holder of the verifier can trade for a session at
//! `POST /v1/auth/oidc/token`. A refusal comes back as `?error=REASON`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use ureq::http::Method;
use vault_core::api::{LoginResponse, SsoCodeExchange, SsoProviderList};
use vault_core::secret::SecretText;
use vault_core::sso::{Refusal, pkce_challenge};

use crate::cli::LoginArgs;
use crate::client::Client;
use crate::error::{CliError, CliResult};
use crate::output;

/// What came back to the loopback listener.
enum Callback {
    Code(SecretText),
    Refused(String),
}

/// Runs the browser login (`--oidc`, or `--web` through the vault's own
/// sign-in page); the new session.
pub fn browser_login(client: &Client, address: &str, args: &LoginArgs) -> CliResult<LoginResponse> {
    if args.web {
        return loopback_login(
            client,
            address,
            args,
            "/ui/login",
            "on the vault's sign-in page",
        );
    }
    let wanted = args.oidc.as_deref().filter(|p| !p.is_empty());
    let list: SsoProviderList = client.get("/v1/auth/oidc/providers")?;
    let names: Vec<&str> = list.providers.iter().map(|p| p.name.as_str()).collect();
    let provider = match (wanted, list.providers.as_slice()) {
        (_, []) => {
            return Err(CliError::new(format!(
                "the server at {address} has no single sign-on provider"
            ))
            .hint(
                "log in with --username, or ask an administrator to configure \
                 [[oidc.providers]] (docs/sso.md)",
            ));
        }
        (Some(w), ps) => ps.iter().find(|p| p.name == w).ok_or_else(|| {
            CliError::new(format!("no single sign-on provider {w:?} on this server"))
                .hint(format!("the server has: {}", names.join(", ")))
                .code(crate::error::exit::USAGE)
        })?,
        (None, [only]) => only,
        (None, _) => {
            return Err(
                CliError::new("this server has several single sign-on providers")
                    .hint(format!(
                        "choose one: {}",
                        names
                            .iter()
                            .map(|n| format!("vault login --oidc {n}"))
                            .collect::<Vec<_>>()
                            .join(" | ")
                    ))
                    .code(crate::error::exit::USAGE),
            );
        }
    };

    loopback_login(
        client,
        address,
        args,
        &provider.start_url,
        &format!("with {}", provider.display_name),
    )
}

/// The loopback part of a browser login: listen on 127.0.0.1, send the
/// browser to `path` on the server with the port and PKCE challenge, wait
/// for the one-time code, redeem it with the verifier.
fn loopback_login(
    client: &Client,
    address: &str,
    args: &LoginArgs,
    path: &str,
    how: &str,
) -> CliResult<LoginResponse> {
    let verifier = new_verifier()?;
    let listener =
        TcpListener::bind(("127.0.0.1", args.callback_port.unwrap_or(0))).map_err(|e| {
            CliError::new("cannot listen on 127.0.0.1 for the browser to come back")
                .source(e)
                .hint("free the port given with --callback-port, or leave it out to use any")
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| CliError::new("cannot read the listener's port").source(e))?
        .port();
    let challenge = pkce_challenge(verifier.expose_secret());
    let url = format!(
        "{}{path}?cli_port={port}&cli_challenge={challenge}",
        address.trim_end_matches('/'),
    );
    output::note(&format!(
        "Sign in {how} in your browser:\n\n  {url}\n\nWaiting up to {} for the sign-in to finish \
         (Ctrl-C to cancel)...",
        minutes(args.timeout)
    ));
    if !args.no_browser && !open_browser(&url) {
        output::note("(could not open a browser; open the URL above yourself)");
    }
    let code = match wait_for_callback(&listener, Duration::from_secs(args.timeout), &challenge)? {
        Callback::Code(c) => c,
        Callback::Refused(reason) => {
            let why = Refusal::from_code(&reason)
                .map_or("the server refused the sign-in", Refusal::explanation);
            return Err(CliError::new(format!("single sign-on was refused ({reason})")).hint(why));
        }
    };
    client.send(
        Method::POST,
        "/v1/auth/oidc/token",
        &SsoCodeExchange {
            code,
            code_verifier: verifier,
        },
    )
}

fn minutes(secs: u64) -> String {
    if secs.is_multiple_of(60) && secs >= 60 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// 32 random bytes as 64 hex digits: a verifier in RFC 7636's alphabet.
fn new_verifier() -> CliResult<SecretText> {
    let b = vault_core::crypto::random::bytes::<32>()
        .map_err(|e| CliError::new("the system random number generator failed").source(e))?;
    Ok(SecretText::new(
        b.iter().map(|x| format!("{x:02x}")).collect::<String>(),
    ))
}

/// Tries the desktop's URL opener; whether one started.
fn open_browser(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

/// Accepts connections until one brings `/callback?code=` or `?error=`, or
/// the deadline passes. Other requests (a favicon) get a 404.
fn wait_for_callback(
    listener: &TcpListener,
    timeout: Duration,
    state: &str,
) -> CliResult<Callback> {
    listener
        .set_nonblocking(true)
        .map_err(|e| CliError::new("listener").source(e))?;
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Some(cb) = answer(stream, state) {
                    return Ok(cb);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(CliError::new(format!(
                        "no sign-in within {}",
                        minutes(timeout.as_secs())
                    ))
                    .hint(
                        "run `vault login --oidc` (or `--web`) again and finish the sign-in in the browser \
                         (--timeout SECS gives more time)",
                    ));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(CliError::new("the loopback listener failed").source(e)),
        }
    }
}

/// Answers one connection; the callback it carried, if it is this login's
/// (its `state` is the S256 challenge only this CLI and the server know).
fn answer(stream: TcpStream, state: &str) -> Option<Callback> {
    use std::io::Read as _;
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    // At most 16 KiB of request line and headers.
    let mut reader = BufReader::new(stream.try_clone().ok()?.take(16 * 1024));
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    // Drain the headers so the browser sees a clean answer.
    let mut header = String::new();
    while reader.read_line(&mut header).ok()? > 2 {
        header.clear();
    }
    let target = line.split_whitespace().nth(1).unwrap_or_default();
    let query = target.strip_prefix("/callback?");
    let param = |k: &str| {
        query.and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
        })
    };
    let ours = param("state") == Some(state);
    let (status, body, result) = match (param("code"), param("error")) {
        _ if !ours => (
            "400 Bad Request",
            "This answer is not for the sign-in this vault command is waiting for.",
            None,
        ),
        (Some(c), _) if !c.is_empty() => (
            "200 OK",
            "Signed in to vault. You can close this tab and go back to the terminal.",
            Some(Callback::Code(SecretText::new(c.to_owned()))),
        ),
        (_, Some(e)) => (
            "200 OK",
            "The sign-in was refused; the terminal says why. You can close this tab.",
            Some(Callback::Refused(
                e.chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .take(64)
                    .collect(),
            )),
        ),
        _ => ("404 Not Found", "Not found.", None),
    };
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>vault</title></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto\">\
         <h1>vault</h1><p>{body}</p></body></html>"
    );
    let mut out = stream;
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nreferrer-policy: no-referrer\r\nconnection: close\r\n\r\n{page}",
        page.len()
    );
    let _ = out.flush();
    result
}
