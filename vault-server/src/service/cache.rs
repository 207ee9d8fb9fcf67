//! In-memory read caches in front of the reader pool, for the hot paths:
//! credential checks and secret-version lookups.
//!
//! Correctness rests on one counter, the store's change count: the writer
//! bumps it after every commit that ran a change (anything but audit-only
//! appends) and before it answers the writers. An entry is tagged with the
//! count read BEFORE the database read that produced it, and is served only
//! while the count is still the same. So a cached answer is never older than
//! the last acknowledged change: a revoked token, a disabled user, a changed
//! role, a new version, a trashed secret or a rewrapped envelope is seen by
//! the very next request, as without the cache. (One process owns the
//! SQLite file; a shared database across servers would need the count from
//! the database instead.)
//!
//! What is held: hashes of credentials with their principals (never a
//! credential), and envelopes as stored (ciphertext and wrapped data keys,
//! never plaintext). A hit still verifies the credential in constant time,
//! checks expiry against the clock, and authenticates the ciphertext when
//! the value is opened. Memory is capped by weight; at the cap a shelf is
//! emptied rather than tracked per entry.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use vault_core::clock::Timestamp;
use vault_core::crypto::{parse_token, token_hash, verify_token_hash};
use vault_core::secret::SecretText;

use super::Principal;
use crate::metrics::Metrics;
use crate::store::VersionRow;

/// One shelf of entries, all from the same change count.
struct Shelf<V> {
    generation: u64,
    bytes: usize,
    map: HashMap<String, (V, usize)>,
}

/// A map whose entries are valid for one change count.
struct GenCache<V> {
    shelf: Mutex<Shelf<V>>,
    max_bytes: usize,
}

impl<V: Clone> GenCache<V> {
    fn new(max_bytes: usize) -> Self {
        Self {
            shelf: Mutex::new(Shelf {
                generation: 0,
                bytes: 0,
                map: HashMap::new(),
            }),
            max_bytes,
        }
    }

    fn get(&self, key: &str, generation: u64) -> Option<V> {
        let shelf = self.shelf.lock().ok()?;
        if shelf.generation != generation {
            return None;
        }
        shelf.map.get(key).map(|(v, _)| v.clone())
    }

    fn put(&self, key: String, value: V, weight: usize, generation: u64) {
        if self.max_bytes == 0 || weight > self.max_bytes {
            return;
        }
        let Ok(mut shelf) = self.shelf.lock() else {
            return;
        };
        if generation < shelf.generation {
            // Read before a change the shelf already reflects: stale.
            return;
        }
        if generation > shelf.generation || shelf.bytes + weight > self.max_bytes {
            shelf.map.clear();
            shelf.bytes = 0;
            shelf.generation = generation;
        }
        if let Some((_, old)) = shelf.map.insert(key, (value, weight)) {
            shelf.bytes -= old;
        }
        shelf.bytes += weight;
    }

    fn remove(&self, key: &str) {
        if let Ok(mut shelf) = self.shelf.lock()
            && let Some((_, w)) = shelf.map.remove(key)
        {
            shelf.bytes -= w;
        }
    }

    fn clear(&self) {
        if let Ok(mut shelf) = self.shelf.lock() {
            shelf.map.clear();
            shelf.bytes = 0;
        }
    }
}

/// A credential verified against the database.
struct Verified {
    hash: [u8; 32],
    principal: Principal,
    valid_until: Option<Timestamp>,
}

/// Rough fixed cost of an entry besides its variable bytes.
const ENTRY_OVERHEAD: usize = 128;

fn row_weight(row: &VersionRow) -> usize {
    ENTRY_OVERHEAD + row.envelope.len() + row.created_by.len() + row.kind.len()
}

/// The caches of one vault.
pub struct ReadCache {
    changes: Arc<AtomicU64>,
    credentials: GenCache<Arc<Verified>>,
    versions: GenCache<Arc<VersionRow>>,
    bundles: GenCache<Arc<Vec<(String, VersionRow)>>>,
    metrics: Arc<Metrics>,
}

impl ReadCache {
    /// Caches over the store's change count, using at most `max_bytes`
    /// (0 turns caching off).
    pub fn new(changes: Arc<AtomicU64>, max_bytes: usize, metrics: Arc<Metrics>) -> Self {
        // Credentials are small and few; values get the most room.
        Self {
            changes,
            credentials: GenCache::new(max_bytes / 8),
            versions: GenCache::new(max_bytes / 2),
            bundles: GenCache::new(max_bytes / 2 - max_bytes / 8),
            metrics,
        }
    }

    /// The change count now; read it BEFORE the database read whose result
    /// is put with it.
    pub fn generation(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    fn count<T>(&self, found: Option<T>) -> Option<T> {
        if found.is_some() {
            self.metrics.read_cache_hits.inc();
        } else {
            self.metrics.read_cache_misses.inc();
        }
        found
    }

    fn credential_key(id: &str, source: &str) -> String {
        let mut k = String::with_capacity(id.len() + source.len() + 1);
        k.push_str(id);
        k.push('\n');
        k.push_str(source);
        k
    }

    /// The principal of a credential verified earlier from the same source,
    /// if nothing changed since and it has not expired.
    pub fn principal(
        &self,
        credential: Option<&SecretText>,
        source: &str,
        now: Timestamp,
    ) -> Option<Principal> {
        let (id, secret) = parse_token(credential?.expose_secret()).ok()?;
        let key = Self::credential_key(id.as_str(), source);
        let found = self
            .credentials
            .get(&key, self.generation())
            .filter(|v| verify_token_hash(&secret, &v.hash))
            .filter(|v| v.valid_until.is_none_or(|t| now < t))
            .map(|v| v.principal.clone());
        self.count(found)
    }

    /// Records a credential the database just accepted.
    pub fn put_principal(
        &self,
        credential: &SecretText,
        source: &str,
        principal: &Principal,
        valid_until: Option<Timestamp>,
        generation: u64,
    ) {
        let Ok((id, secret)) = parse_token(credential.expose_secret()) else {
            return;
        };
        let key = Self::credential_key(id.as_str(), source);
        let weight = ENTRY_OVERHEAD * 4 + key.len();
        let v = Verified {
            hash: token_hash(&secret),
            principal: principal.clone(),
            valid_until,
        };
        self.credentials.put(key, Arc::new(v), weight, generation);
    }

    /// A stored version by `project/env/name@version` key.
    pub fn version(&self, key: &str) -> Option<Arc<VersionRow>> {
        self.count(self.versions.get(key, self.generation()))
    }

    /// Records a version row read at `generation`.
    pub fn put_version(&self, key: String, row: Arc<VersionRow>, generation: u64) {
        let w = row_weight(&row) + key.len();
        self.versions.put(key, row, w, generation);
    }

    /// The current versions of an environment by `project/env` key.
    pub fn bundle(&self, key: &str) -> Option<Arc<Vec<(String, VersionRow)>>> {
        self.count(self.bundles.get(key, self.generation()))
    }

    /// Records an environment's current versions read at `generation`.
    pub fn put_bundle(&self, key: String, rows: Arc<Vec<(String, VersionRow)>>, generation: u64) {
        let w = rows
            .iter()
            .map(|(n, r)| n.len() + row_weight(r))
            .sum::<usize>()
            + key.len();
        self.bundles.put(key, rows, w, generation);
    }

    /// Forgets a version under both its keys and its environment's bundle
    /// (after a row failed authentication: the next read goes back to the
    /// database).
    pub fn forget(&self, numbered: &str, current: &str, bundle: &str) {
        self.versions.remove(numbered);
        self.versions.remove(current);
        self.bundles.remove(bundle);
    }

    /// Forgets everything (sealing).
    pub fn clear(&self) {
        self.credentials.clear();
        self.versions.clear();
        self.bundles.clear();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn row(v: u64) -> Arc<VersionRow> {
        Arc::new(VersionRow {
            id: 1,
            secret_id: 1,
            version: v,
            envelope: vec![0; 40],
            kek_version: 1,
            created_at: Timestamp::from_millis(0),
            created_by: "root".into(),
            kind: "write".into(),
            source_version: None,
            head_mac: None,
            head_checked: std::sync::OnceLock::new(),
        })
    }

    #[test]
    fn a_change_invalidates_every_entry() {
        let changes = Arc::new(AtomicU64::new(7));
        let c = ReadCache::new(changes.clone(), 1 << 20, Arc::default());
        let g = c.generation();
        c.put_version("p/e/A@".into(), row(1), g);
        assert_eq!(c.version("p/e/A@").unwrap().version, 1);
        changes.fetch_add(1, Ordering::Release);
        assert!(c.version("p/e/A@").is_none());
        // A read that began before the change must not repopulate.
        c.put_version("p/e/A@".into(), row(1), g + 1);
        c.put_version("p/e/B@".into(), row(1), g);
        assert!(c.version("p/e/B@").is_none());
        assert_eq!(c.version("p/e/A@").unwrap().version, 1);
        let m = &c.metrics;
        assert_eq!((m.read_cache_hits.get(), m.read_cache_misses.get()), (2, 2));
    }

    #[test]
    fn the_weight_cap_holds() {
        let c = ReadCache::new(Arc::new(AtomicU64::new(0)), 2000, Arc::default());
        for i in 0..50 {
            c.put_version(format!("p/e/S{i}@"), row(1), 0);
        }
        let shelf = c.versions.shelf.lock().unwrap();
        assert!(shelf.bytes <= 1000 && !shelf.map.is_empty());
        drop(shelf);
        let off = ReadCache::new(Arc::new(AtomicU64::new(0)), 0, Arc::default());
        off.put_version("k".into(), row(1), 0);
        assert!(off.version("k").is_none());
    }

    #[test]
    fn a_credential_hit_needs_the_same_secret_source_and_time() {
        let c = ReadCache::new(Arc::new(AtomicU64::new(0)), 1 << 20, Arc::default());
        let (_, full, _) = vault_core::crypto::Token::generate().unwrap();
        let p = Principal::Root {
            token_id: "t".into(),
        };
        let until = Timestamp::from_millis(10_000);
        c.put_principal(&full, "127.0.0.1", &p, Some(until), 0);
        let early = Timestamp::from_millis(5_000);
        assert!(c.principal(Some(&full), "127.0.0.1", early).is_some());
        assert!(c.principal(Some(&full), "10.0.0.1", early).is_none());
        assert!(c.principal(Some(&full), "127.0.0.1", until).is_none());
        // Same id, another secret.
        let s = full.expose_secret();
        let (id, secret) = s.split_once('.').unwrap();
        let mut other = secret.to_owned().into_bytes();
        other[0] = if other[0] == b'a' { b'b' } else { b'a' };
        let forged = SecretText::new(format!("{id}.{}", String::from_utf8(other).unwrap()));
        assert!(c.principal(Some(&forged), "127.0.0.1", early).is_none());
        assert!(c.principal(None, "127.0.0.1", early).is_none());
    }
}
