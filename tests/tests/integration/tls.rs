//! Outside dev mode the server speaks HTTPS (rustls) with HSTS, and refuses
//! plain HTTP off loopback.

use std::process::Command;
use std::sync::Arc;

use vault_tests::{Server, server_bin};

#[test]
fn https_with_hsts_and_no_plain_http() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, cert) = Server::https(tmp.path());
    let https = s.addr.clone();
    let pem = std::fs::read(&cert).unwrap();
    let root = ureq::tls::Certificate::from_pem(&pem).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![root])))
                .build(),
        )
        .build()
        .into();
    let r = agent.get(format!("{https}/v1/sys/health")).call().unwrap();
    assert_eq!(r.status(), 200);
    let hsts = r
        .headers()
        .get("strict-transport-security")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(hsts.starts_with("max-age="), "{hsts}");
    // Plain HTTP to the TLS port gets no answer.
    let plain: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(5)))
        .build()
        .into();
    assert!(
        plain
            .get(format!(
                "{}/v1/sys/health",
                https.replace("https://", "http://")
            ))
            .call()
            .is_err()
    );
}

#[test]
fn check_config_refuses_plain_http_off_loopback() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("vault.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"0.0.0.0:8200\"\ndanger_plain_http_loopback = true\n",
    )
    .unwrap();
    let out = Command::new(server_bin())
        .arg("check-config")
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plain HTTP"), "{err}");
    std::fs::write(&cfg, "[server]\nlisten = \"127.0.0.1:8200\"\ntypo = 1\n").unwrap();
    let out = Command::new(server_bin())
        .arg("check-config")
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("typo"));
    // Dev mode refuses a non-loopback listener.
    let out = Command::new(server_bin())
        .args(["--dev", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

#[test]
fn check_config_loads_the_tls_certificate_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = vault_tests::self_signed_cert(tmp.path());
    let other = tempfile::tempdir().unwrap();
    let (_, other_key) = vault_tests::self_signed_cert(other.path());
    let check = |cert: &std::path::Path, key: &std::path::Path| {
        let cfg = tmp.path().join("vault.toml");
        std::fs::write(
            &cfg,
            format!(
                "[server]\nlisten = \"127.0.0.1:8200\"\ndata_dir = \"{}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
                tmp.path().join("data").display(),
                cert.display(),
                key.display()
            ),
        )
        .unwrap();
        let out = Command::new(server_bin())
            .arg("check-config")
            .arg("--config")
            .arg(&cfg)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = check(&cert, &key);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("TLS certificate and key"), "{err}");
    let (code, err) = check(&tmp.path().join("missing.pem"), &key);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("missing.pem"), "{err}");
    let (code, err) = check(&key, &cert);
    assert_eq!(code, Some(2), "swapped files: {err}");
    let (code, err) = check(&cert, &other_key);
    assert_eq!(code, Some(2), "a key of another certificate: {err}");
    assert!(err.contains("mismatch"), "{err}");
    // A CA certificate as the server's own: no client would accept it.
    let ca_dir = tempfile::tempdir().unwrap();
    let (ca, ca_key) = vault_tests::ca_cert(ca_dir.path());
    let (code, err) = check(&ca, &ca_key);
    assert_eq!(code, Some(2), "a CA certificate as leaf: {err}");
    assert!(err.contains("CA certificate"), "{err}");
    assert!(err.contains("leaf"), "{err}");
}

/// TLS failures in words, each naming the setting to change and where it
/// was set.
#[test]
fn tls_failures_say_what_is_wrong_and_which_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, cert) = vault_tests::Server::https(tmp.path());
    let run = |addr: &str, env: &[(&str, &str)], args: &[&str]| {
        let mut c = vault_tests::cli::vault(&s);
        c.env("VAULT_ADDR", addr).env_remove("VAULT_CACERT");
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.args(args).args(["operator", "status"]).output().unwrap();
        assert_eq!(o.status.code(), Some(1));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    // Unknown issuer: with no CA set, and with the wrong CA from each source.
    let err = run(&s.addr, &[], &[]);
    assert!(
        err.contains("signed by a CA this client does not trust"),
        "{err}"
    );
    assert!(err.contains("set VAULT_CACERT"), "{err}");
    let other = tempfile::tempdir().unwrap();
    let (other_ca, _) = vault_tests::ca_cert(other.path());
    let other_ca = other_ca.to_str().unwrap();
    let err = run(&s.addr, &[("VAULT_CACERT", other_ca)], &[]);
    assert!(err.contains("does not hold the CA that signed it"), "{err}");
    assert!(err.contains("(from VAULT_CACERT)"), "{err}");
    let err = run(&s.addr, &[], &["--cacert", other_ca]);
    assert!(err.contains("(from --cacert)"), "{err}");
    let proj = tempfile::tempdir().unwrap();
    std::fs::write(
        proj.path().join(".vault.toml"),
        format!("cacert = \"{other_ca}\"\n"),
    )
    .unwrap();
    let o = vault_tests::cli::vault(&s)
        .current_dir(proj.path())
        .env("VAULT_ADDR", &s.addr)
        .env_remove("VAULT_CACERT")
        .args(["operator", "status"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`cacert` in ") && err.contains(".vault.toml"),
        "{err}"
    );
    // http:// to the TLS server.
    let err = run(
        &s.addr.replace("https://", "http://"),
        &[("VAULT_CACERT", cert.to_str().unwrap())],
        &[],
    );
    assert!(err.contains("probably expects TLS"), "{err}");
    assert!(err.contains("try https://"), "{err}");

    // https:// to a plain-HTTP (dev) server.
    let dev = vault_tests::Server::dev();
    let err = run(&dev.addr.replace("http://", "https://"), &[], &[]);
    assert!(err.contains("does not speak TLS"), "{err}");
    assert!(err.contains("VAULT_ADDR"), "{err}");

    // A CA certificate served as the server's own. Our server refuses to
    // start with one (see check_config above), so a real third-party TLS
    // server plays the misconfigured proxy: `openssl s_server`.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ca_dir = tempfile::tempdir().unwrap();
    let (ca, ca_key) = vault_tests::ca_cert(ca_dir.path());
    let mut proxy = std::process::Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept", &port.to_string()])
        .arg("-cert")
        .arg(&ca)
        .arg("-key")
        .arg(&ca_key)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("https://127.0.0.1:{port}");
    let mut err = String::new();
    for _ in 0..50 {
        err = run(&addr, &[("VAULT_CACERT", ca.to_str().unwrap())], &[]);
        if !err.contains("cannot reach") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = proxy.kill();
    let _ = proxy.wait();
    assert!(
        err.contains("presents a CA certificate as its own"),
        "{err}"
    );
    assert!(err.contains("leaf certificate"), "{err}");
}
