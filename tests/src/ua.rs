//! A browser without a browser: a user agent that keeps cookies (per host
//! and port, by hand) and follows no redirect by itself, so a test sees
//! every hop of a login. [`UserAgent::login_at_idp`] walks the
//! oidc-provider's login and consent forms.

// Test support: a broken fixture should stop the test loudly.
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// One answer.
#[derive(Debug, Clone)]
pub struct Hop {
    /// Status.
    pub status: u16,
    /// `Location`, made absolute.
    pub location: Option<String>,
    /// Every `Set-Cookie`.
    pub set_cookie: Vec<String>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// Body.
    pub body: String,
}

/// Cookies by `host:port`, then name.
#[derive(Default)]
pub struct UserAgent {
    jar: Mutex<HashMap<String, BTreeMap<String, String>>>,
}

fn authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn join(base: &str, loc: &str) -> String {
    if loc.contains("://") {
        return loc.to_owned();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let origin_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    format!("{}{loc}", &base[..origin_end])
}

/// `application/x-www-form-urlencoded` of one value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl UserAgent {
    /// A fresh agent (no cookies).
    pub fn new() -> UserAgent {
        UserAgent::default()
    }

    /// The cookie `name` held for the origin of `url`.
    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        self.jar
            .lock()
            .unwrap()
            .get(&authority(url))
            .and_then(|c| c.get(name).cloned())
    }

    /// Sets a cookie by hand (e.g. to forge one).
    pub fn set_cookie(&self, url: &str, name: &str, value: &str) {
        self.jar
            .lock()
            .unwrap()
            .entry(authority(url))
            .or_default()
            .insert(name.to_owned(), value.to_owned());
    }

    /// `GET url`.
    pub fn get(&self, url: &str) -> Hop {
        self.send("GET", url, None)
    }

    /// `POST url` with a form.
    pub fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Hop {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send("POST", url, Some(body))
    }

    fn send(&self, method: &str, url: &str, form: Option<String>) -> Hop {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build()
            .into();
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        let cookies = self
            .jar
            .lock()
            .unwrap()
            .get(&authority(url))
            .map(|c| {
                c.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        if !cookies.is_empty() {
            req = req.header("cookie", cookies);
        }
        if form.is_some() {
            req = req.header("content-type", "application/x-www-form-urlencoded");
        }
        let mut resp = agent
            .run(req.body(form.unwrap_or_default()).unwrap())
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let h = resp.headers();
        let set_cookie: Vec<String> = h
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        {
            let mut jar = self.jar.lock().unwrap();
            let mine = jar.entry(authority(url)).or_default();
            for c in &set_cookie {
                let first = c.split(';').next().unwrap_or_default();
                let Some((k, v)) = first.split_once('=') else {
                    continue;
                };
                let expired = c.to_ascii_lowercase().contains("max-age=0")
                    || c.to_ascii_lowercase().contains("expires=thu, 01 jan 1970");
                if expired || v.is_empty() {
                    mine.remove(k.trim());
                } else {
                    mine.insert(k.trim().to_owned(), v.trim().to_owned());
                }
            }
        }
        let location = h.get("location").map(|v| join(url, v.to_str().unwrap()));
        let content_type = h
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        Hop {
            status: resp.status().as_u16(),
            location,
            set_cookie,
            content_type,
            body: resp.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    /// From an answer that redirects to the IdP, follows the IdP's pages
    /// (logging in as `user` / `password` and consenting) until a redirect
    /// leaves the IdP (`issuer`); returns that redirect's URL.
    pub fn login_at_idp(&self, first: &Hop, issuer: &str, user: &str, password: &str) -> String {
        let mut hop = first.clone();
        for _ in 0..12 {
            let loc = hop
                .location
                .clone()
                .unwrap_or_else(|| panic!("expected a redirect, got {}: {}", hop.status, hop.body));
            if !loc.starts_with(issuer) {
                return loc;
            }
            hop = if loc.contains("/interaction/") {
                let page = self.get(&loc);
                if page.body.contains("name=\"login\"") {
                    self.post_form(
                        &loc,
                        &[("prompt", "login"), ("login", user), ("password", password)],
                    )
                } else {
                    self.post_form(&loc, &[("prompt", "consent")])
                }
            } else {
                self.get(&loc)
            };
            assert!(
                (300..400).contains(&hop.status),
                "the IdP answered {}: {}",
                hop.status,
                hop.body
            );
        }
        panic!("too many redirects at the IdP");
    }
}
