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
}
