//! The three ways to protect the unseal key (the key that wraps the root key).
//!
//! - **Shamir**: split into N shares, any T of which rebuild it (GF(256),
//!   `vsss-rs`, constant-time arithmetic). T = 1 is allowed for small teams:
//!   every share is then the key itself. Share text:
//!   `vault-share-v1.<base64url(threshold | share id | 32 bytes | checksum 4)>`,
//!   the checksum catching typos per share before any combining.
//! - **Passphrase**: Argon2id with the parameters stored beside the wrapped
//!   root key (default m = 19 MiB, t = 2, p = 1, 16-byte random salt).
//! - **Key file**: `vault-unseal-key-v1.<base64url(32 bytes)>` for unattended
//!   restarts; protect the file like the data it unlocks.

use std::collections::BTreeMap;

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vsss_rs::Gf256;
use zeroize::Zeroizing;

use super::aead::KEY_LEN;
use super::keys::UnsealKey;
use super::{CryptoError, random};
use crate::secret::SecretText;

const SHARE_PREFIX: &str = "vault-share-v1.";
const KEY_FILE_PREFIX: &str = "vault-unseal-key-v1.";
// threshold (1) + share id (1) + key (32) + checksum (4)
const SHARE_BYTES: usize = 1 + 1 + KEY_LEN + 4;

fn checksum(payload: &[u8]) -> [u8; 4] {
    let d = Sha256::digest([b"vault/v1/share\0".as_slice(), payload].concat());
    [d[0], d[1], d[2], d[3]]
}

/// Splits the unseal key into `shares` shares, any `threshold` of which
/// rebuild it.
pub fn shamir_split(
    key: &UnsealKey,
    shares: u8,
    threshold: u8,
) -> Result<Vec<SecretText>, CryptoError> {
    if shares == 0 || threshold == 0 || threshold > shares {
        return Err(CryptoError::InvalidParameter(format!(
            "need 1 <= threshold <= shares <= 255, got {threshold} of {shares}"
        )));
    }
    let raw: Vec<Zeroizing<Vec<u8>>> = if threshold == 1 {
        (1..=shares)
            .map(|id| {
                let mut v = Zeroizing::new(Vec::with_capacity(1 + KEY_LEN));
                v.push(id);
                v.extend_from_slice(key.expose_secret());
                v
            })
            .collect()
    } else {
        Gf256::split_bytes(
            usize::from(threshold),
            usize::from(shares),
            key.expose_secret(),
            rand::rng(),
        )
        .map_err(|_| CryptoError::InvalidParameter("shamir split failed".into()))?
        .into_iter()
        .map(Zeroizing::new)
        .collect()
    };
    raw.iter()
        .map(|share| {
            if share.len() != 1 + KEY_LEN {
                return Err(CryptoError::Shares("unexpected share length"));
            }
            let mut payload = Zeroizing::new(Vec::with_capacity(SHARE_BYTES));
            payload.push(threshold);
            payload.extend_from_slice(share);
            let sum = checksum(&payload);
            payload.extend_from_slice(&sum);
            Ok(SecretText::new(format!(
                "{SHARE_PREFIX}{}",
                URL_SAFE_NO_PAD.encode(&payload[..])
            )))
        })
        .collect()
}

/// A share decoded from its text.
struct Share {
    threshold: u8,
    id: u8,
    bytes: Zeroizing<Vec<u8>>, // id || key share
}

fn decode_share(text: &SecretText) -> Result<Share, CryptoError> {
    const BAD: CryptoError =
        CryptoError::Shares("a share is not valid share text (mistyped or truncated?)");
    let body = text
        .expose_secret()
        .trim()
        .strip_prefix(SHARE_PREFIX)
        .ok_or(BAD)?;
    let payload = Zeroizing::new(URL_SAFE_NO_PAD.decode(body).map_err(|_| BAD)?);
    if payload.len() != SHARE_BYTES {
        return Err(BAD);
    }
    let (data, sum) = payload.split_at(SHARE_BYTES - 4);
    if checksum(data) != sum {
        return Err(CryptoError::Shares(
            "a share's checksum does not match (mistyped?)",
        ));
    }
    let threshold = data[0];
    let id = data[1];
    if threshold == 0 || id == 0 {
        return Err(BAD);
    }
    Ok(Share {
        threshold,
        id,
        bytes: Zeroizing::new(data[1..].to_vec()),
    })
}

/// The threshold a share text declares, to tell an operator how many to bring.
pub fn share_threshold(text: &SecretText) -> Result<u8, CryptoError> {
    decode_share(text).map(|s| s.threshold)
}

/// What can be known of a share without the others: what it declares, and a
/// public commitment to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareInfo {
    /// Shares needed to unseal.
    pub threshold: u8,
    /// Its x-coordinate (1..=255): two shares with one id are the same share.
    pub id: u8,
    /// SHA-256 over a domain label and the decoded share. Stored at init, it
    /// lets the server reject a forged or foreign share on submission,
    /// before combining; it reveals nothing usable about the 256-bit share.
    pub commitment: [u8; 32],
}

/// Decodes and checks one share text: prefix, length and checksum.
///
/// # Errors
/// [`CryptoError::Shares`] naming what is wrong (never quoting the text).
pub fn inspect_share(text: &SecretText) -> Result<ShareInfo, CryptoError> {
    let s = decode_share(text)?;
    // Hashed in parts so no unwiped copy of the share is made.
    let mut h = Sha256::new();
    h.update(b"vault/v1/share-commitment\0");
    h.update(&s.bytes[..]);
    Ok(ShareInfo {
        threshold: s.threshold,
        id: s.id,
        commitment: h.finalize().into(),
    })
}

/// Rebuilds the unseal key from at least `threshold` distinct shares.
/// Fewer shares, or shares of different splits, give an error here or a key
/// that fails to unwrap the root key (the AEAD catches it), never silently.
pub fn shamir_combine(shares: &[SecretText]) -> Result<UnsealKey, CryptoError> {
    let mut distinct: BTreeMap<u8, Share> = BTreeMap::new();
    let mut threshold = None;
    for text in shares {
        let s = decode_share(text)?;
        match threshold {
            None => threshold = Some(s.threshold),
            Some(t) if t != s.threshold => {
                return Err(CryptoError::Shares("shares come from different splits"));
            }
            Some(_) => {}
        }
        distinct.insert(s.id, s);
    }
    let threshold = threshold.ok_or(CryptoError::Shares("no shares given"))?;
    if distinct.len() < usize::from(threshold) {
        return Err(CryptoError::Shares("not enough distinct shares"));
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    if threshold == 1 {
        let first = distinct
            .values()
            .next()
            .ok_or(CryptoError::Shares("no shares given"))?;
        key.copy_from_slice(&first.bytes[1..]);
    } else {
        let picked: Vec<Vec<u8>> = distinct
            .values()
            .take(usize::from(threshold))
            .map(|s| s.bytes.to_vec())
            .collect();
        let combined =
            Gf256::combine_bytes(&picked).map_err(|_| CryptoError::Shares("combining failed"));
        let mut picked = picked;
        for p in picked.iter_mut() {
            zeroize::Zeroize::zeroize(p);
        }
        let combined = Zeroizing::new(combined?);
        if combined.len() != KEY_LEN {
            return Err(CryptoError::Shares("combined key has the wrong length"));
        }
        key.copy_from_slice(&combined);
    }
    Ok(UnsealKey::from_bytes(key))
}

/// Argon2id parameters for the passphrase mode, stored beside the wrapped root key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassphraseParams {
    /// Always `argon2id`.
    pub algorithm: String,
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Parallelism.
    pub p: u32,
    /// Salt, base64url.
    pub salt: String,
}

/// Smallest accepted memory cost (OWASP: 19 MiB).
pub const MIN_M_KIB: u32 = 19 * 1024;

impl PassphraseParams {
    /// OWASP-recommended parameters (m = 19 MiB, t = 2, p = 1) with a fresh salt.
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self {
            algorithm: "argon2id".into(),
            m_kib: MIN_M_KIB,
            t: 2,
            p: 1,
            salt: URL_SAFE_NO_PAD.encode(random::bytes::<16>()?),
        })
    }

    fn check(&self) -> Result<Params, CryptoError> {
        let bad =
            |why: &str| CryptoError::InvalidParameter(format!("passphrase parameters: {why}"));
        if self.algorithm != "argon2id" {
            return Err(bad("algorithm must be argon2id"));
        }
        if !(MIN_M_KIB..=4 * 1024 * 1024).contains(&self.m_kib)
            || !(2..=64).contains(&self.t)
            || !(1..=16).contains(&self.p)
        {
            return Err(bad(
                "out of range (m >= 19 MiB, 2 <= t <= 64, 1 <= p <= 16)",
            ));
        }
        Params::new(self.m_kib, self.t, self.p, Some(KEY_LEN))
            .map_err(|_| bad("rejected by argon2"))
    }
}

/// Derives the unseal key from a passphrase (slow by design: run it off any
/// async runtime).
pub fn derive_unseal_key(
    passphrase: &SecretText,
    params: &PassphraseParams,
) -> Result<UnsealKey, CryptoError> {
    if passphrase.is_empty() {
        return Err(CryptoError::InvalidParameter(
            "the passphrase is empty".into(),
        ));
    }
    let argon_params = params.check()?;
    let salt = URL_SAFE_NO_PAD
        .decode(&params.salt)
        .map_err(|_| CryptoError::InvalidParameter("passphrase salt is not base64url".into()))?;
    if salt.len() < 16 {
        return Err(CryptoError::InvalidParameter(
            "passphrase salt is shorter than 16 bytes".into(),
        ));
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params)
        .hash_password_into(passphrase.expose_secret().as_bytes(), &salt, key.as_mut())
        .map_err(|_| CryptoError::InvalidParameter("argon2 failed".into()))?;
    Ok(UnsealKey::from_bytes(key))
}

/// The text of a key file holding the unseal key.
pub fn encode_key_file(key: &UnsealKey) -> SecretText {
    SecretText::new(format!(
        "{KEY_FILE_PREFIX}{}\n",
        URL_SAFE_NO_PAD.encode(key.expose_secret())
    ))
}

/// Reads a key file's text.
pub fn parse_key_file(text: &str) -> Result<UnsealKey, CryptoError> {
    const BAD: CryptoError = CryptoError::Format {
        what: "unseal key file",
        why: "not a vault unseal key file",
    };
    let body = text.trim().strip_prefix(KEY_FILE_PREFIX).ok_or(BAD)?;
    let raw = Zeroizing::new(URL_SAFE_NO_PAD.decode(body).map_err(|_| BAD)?);
    let arr: [u8; KEY_LEN] = raw.as_slice().try_into().map_err(|_| BAD)?;
    Ok(UnsealKey::from_bytes(Zeroizing::new(arr)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn combos(n: usize, k: usize) -> Vec<Vec<usize>> {
        if k == 0 {
            return vec![vec![]];
        }
        if n < k {
            return vec![];
        }
        let mut with_last = combos(n - 1, k - 1);
        for c in &mut with_last {
            c.push(n - 1);
        }
        with_last.extend(combos(n - 1, k));
        with_last
    }

    #[test]
    fn any_t_shares_rebuild_and_t_minus_1_do_not() {
        for (n, t) in [(5u8, 3u8), (3, 2), (4, 4), (1, 1), (3, 1), (7, 5)] {
            let key = UnsealKey::generate().unwrap();
            let shares = shamir_split(&key, n, t).unwrap();
            assert_eq!(shares.len(), usize::from(n));
            for c in combos(usize::from(n), usize::from(t)) {
                let subset: Vec<_> = c.iter().map(|&i| shares[i].clone()).collect();
                let back = shamir_combine(&subset).unwrap();
                assert_eq!(back.expose_secret(), key.expose_secret(), "{n}/{t} {c:?}");
            }
            if t > 1 {
                for c in combos(usize::from(n), usize::from(t - 1)) {
                    let subset: Vec<_> = c.iter().map(|&i| shares[i].clone()).collect();
                    assert!(
                        shamir_combine(&subset).is_err(),
                        "{n}/{t} with {} shares",
                        t - 1
                    );
                }
                // Repeating one share does not count twice.
                let dup = vec![shares[0].clone(); usize::from(t)];
                assert!(shamir_combine(&dup).is_err());
            }
        }
    }

    #[test]
    fn mistyped_and_mixed_shares_are_caught() {
        let a = shamir_split(&UnsealKey::generate().unwrap(), 3, 2).unwrap();
        let b = shamir_split(&UnsealKey::generate().unwrap(), 3, 3).unwrap();
        assert!(shamir_combine(&[a[0].clone(), b[1].clone()]).is_err());
        let mut typo = a[1].expose_secret().to_owned();
        let last = typo.pop().unwrap();
        typo.push(if last == 'A' { 'B' } else { 'A' });
        assert!(shamir_combine(&[a[0].clone(), SecretText::new(typo)]).is_err());
        assert!(shamir_combine(&[]).is_err());
        assert!(shamir_split(&UnsealKey::generate().unwrap(), 2, 3).is_err());
        assert!(shamir_split(&UnsealKey::generate().unwrap(), 0, 0).is_err());
        assert_eq!(share_threshold(&a[0]).unwrap(), 2);
    }

    #[test]
    fn passphrase_derivation_is_deterministic_per_salt() {
        let params = PassphraseParams::generate().unwrap();
        assert_eq!((params.m_kib, params.t, params.p), (19456, 2, 1));
        let pw = SecretText::from("correct horse battery staple");
        let k1 = derive_unseal_key(&pw, &params).unwrap();
        let k2 = derive_unseal_key(&pw, &params).unwrap();
        assert_eq!(k1.expose_secret(), k2.expose_secret());
        let other = derive_unseal_key(&SecretText::from("wrong horse"), &params).unwrap();
        assert_ne!(other.expose_secret(), k1.expose_secret());
        let weak = PassphraseParams {
            m_kib: 1024,
            ..params.clone()
        };
        assert!(derive_unseal_key(&pw, &weak).is_err());
        assert!(derive_unseal_key(&SecretText::from(""), &params).is_err());
        let json = serde_json::to_string(&params).unwrap();
        assert_eq!(
            serde_json::from_str::<PassphraseParams>(&json).unwrap(),
            params
        );
    }

    #[test]
    fn key_file_round_trip() {
        let key = UnsealKey::generate().unwrap();
        let text = encode_key_file(&key);
        assert_eq!(
            parse_key_file(text.expose_secret())
                .unwrap()
                .expose_secret(),
            key.expose_secret()
        );
        assert!(parse_key_file("nope").is_err());
        assert!(parse_key_file("vault-unseal-key-v1.AAAA").is_err());
    }
}
