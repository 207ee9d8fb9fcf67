//! Prometheus metrics: a few counters and gauges kept in atomics and rendered
//! as the text exposition format at `/v1/sys/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Every metric of the server.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Responses by status class (index 1..=5).
    pub responses: [Counter; 6],
    /// Audit records written.
    pub audit_records: Counter,
    /// Secret reads (single or bundle).
    pub secret_reads: Counter,
    /// Secret versions written.
    pub secret_writes: Counter,
    /// Ciphertexts that failed authentication.
    pub integrity_failures: Counter,
    /// Data keys moved by rewrap.
    pub rewrapped: Counter,
    /// Read-cache lookups answered from memory.
    pub read_cache_hits: Counter,
    /// Read-cache lookups that went to the database.
    pub read_cache_misses: Counter,
    /// Connections accepted.
    pub connections: Counter,
    /// Connections open now.
    pub open_connections: AtomicU64,
    /// Connections refused at accept (per-source cap, or full of busy ones).
    pub connections_shed: Counter,
    /// Connections closed for silence, idleness or to make room.
    pub connections_timed_out: Counter,
    sealed: AtomicU64,
}

impl Metrics {
    /// Records the seal state.
    pub fn set_sealed(&self, sealed: bool) {
        self.sealed.store(u64::from(sealed), Ordering::Relaxed);
    }

    /// Counts a response.
    pub fn response(&self, status: u16) {
        let class = usize::from(status / 100).min(5);
        self.responses[class].inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let mut one = |name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        };
        one(
            "vault_sealed",
            "gauge",
            "1 when sealed.",
            self.sealed.load(Ordering::Relaxed),
        );
        one(
            "vault_audit_records_total",
            "counter",
            "Audit records written.",
            self.audit_records.get(),
        );
        one(
            "vault_secret_reads_total",
            "counter",
            "Secret reads.",
            self.secret_reads.get(),
        );
        one(
            "vault_secret_writes_total",
            "counter",
            "Secret versions written.",
            self.secret_writes.get(),
        );
        one(
            "vault_integrity_failures_total",
            "counter",
            "Stored ciphertexts that failed authentication.",
            self.integrity_failures.get(),
        );
        one(
            "vault_rewrapped_total",
            "counter",
            "Data keys moved by rewrap.",
            self.rewrapped.get(),
        );
        one(
            "vault_read_cache_hits_total",
            "counter",
            "Credential and secret lookups answered from the read cache.",
            self.read_cache_hits.get(),
        );
        one(
            "vault_read_cache_misses_total",
            "counter",
            "Credential and secret lookups that went to the database.",
            self.read_cache_misses.get(),
        );
        one(
            "vault_connections_total",
            "counter",
            "Connections accepted.",
            self.connections.get(),
        );
        one(
            "vault_open_connections",
            "gauge",
            "Connections open now.",
            self.open_connections.load(Ordering::Relaxed),
        );
        one(
            "vault_connections_shed_total",
            "counter",
            "Connections closed at accept: per-source cap, or full of busy connections.",
            self.connections_shed.get(),
        );
        one(
            "vault_connections_timed_out_total",
            "counter",
            "Connections closed for sending no request in time, idleness, or to make room.",
            self.connections_timed_out.get(),
        );
        let _ = writeln!(
            s,
            "# HELP vault_http_responses_total HTTP responses by status class.\n# TYPE vault_http_responses_total counter"
        );
        for class in 1..=5 {
            let _ = writeln!(
                s,
                "vault_http_responses_total{{class=\"{class}xx\"}} {}",
                self.responses[class].get()
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.response(200);
        m.response(503);
        m.secret_reads.inc();
        let t = m.render();
        assert!(t.contains("vault_http_responses_total{class=\"2xx\"} 1"));
        assert!(t.contains("vault_secret_reads_total 1"));
        assert!(t.contains("# TYPE vault_sealed gauge"));
    }
}
