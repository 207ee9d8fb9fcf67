//! Connection admission and deadlines, so that idle connections cannot hold
//! the server hostage (slowloris, idle TLS or HTTP/2 sessions):
//!
//! - a connection must deliver its first request within
//!   `first_request_timeout` of being accepted (TLS handshake included);
//! - after that it is closed when no request is in flight and no byte has
//!   moved for `idle_timeout` (HTTP/1 keep-alive and HTTP/2 alike);
//! - each source address holds at most `max_per_source` connections;
//! - at `max_connections`, a new connection evicts the oldest one that has
//!   not sent a request yet, else the oldest idle one, else it is shed at
//!   once: nothing queues forever.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// Admission limits and deadlines.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Connections open at once, all sources.
    pub max_connections: usize,
    /// Connections open at once from one source address.
    pub max_per_source: usize,
    /// From accept to the first request's headers.
    pub first_request_timeout: Duration,
    /// With no request in flight and no byte moving.
    pub idle_timeout: Duration,
}

/// Why a connection was refused at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    /// Its source address holds `max_per_source` connections already.
    PerSource,
    /// The server is full of busy connections.
    Full,
}

/// What one connection has done so far; shared by its I/O wrapper, its
/// request counter and its watchdog.
#[derive(Debug)]
pub struct Activity {
    started: Instant,
    requested: AtomicBool,
    in_flight: AtomicUsize,
    /// Milliseconds after `started` of the last byte or request event.
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            requested: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
    }

    /// Marks a request as started; the returned guard ends it when dropped.
    pub fn request(self: &Arc<Self>) -> InFlight {
        self.requested.store(true, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.touch();
        InFlight(self.clone())
    }

    /// Resolves when the connection has outlived its deadlines.
    pub async fn expired(&self, limits: ConnLimits) {
        loop {
            let now = Instant::now();
            let deadline = if !self.requested.load(Ordering::Relaxed) {
                self.started + limits.first_request_timeout
            } else if !self.idle() {
                now + limits.idle_timeout
            } else {
                self.started
                    + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
                    + limits.idle_timeout
            };
            if deadline <= now {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// One request in flight on a connection.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Entry {
    source: IpAddr,
    activity: Arc<Activity>,
    evict: Arc<Notify>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    per_source: HashMap<IpAddr, usize>,
    open: BTreeMap<u64, Entry>,
}

impl Table {
    fn forget(&mut self, id: u64) {
        if let Some(e) = self.open.remove(&id)
            && let Some(n) = self.per_source.get_mut(&e.source)
        {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&e.source);
            }
        }
    }

    /// The oldest connection that never sent a request, else the oldest idle one.
    fn eviction_candidate(&self) -> Option<u64> {
        let oldest =
            |f: &dyn Fn(&Entry) -> bool| self.open.iter().find(|(_, e)| f(e)).map(|(id, _)| *id);
        oldest(&|e| !e.activity.requested.load(Ordering::Relaxed))
            .or_else(|| oldest(&|e| e.activity.idle()))
    }
}

/// The open connections, by source.
pub struct ConnTable {
    limits: ConnLimits,
    /// Sources exempt from the per-source cap (trusted reverse proxies,
    /// which carry many clients on their connections).
    exempt: Vec<ipnet::IpNet>,
    table: Mutex<Table>,
}

impl ConnTable {
    /// An empty table.
    pub fn new(limits: ConnLimits, exempt: Vec<ipnet::IpNet>) -> Arc<Self> {
        Arc::new(Self {
            limits,
            exempt,
            table: Mutex::default(),
        })
    }

    /// The limits.
    pub fn limits(&self) -> ConnLimits {
        self.limits
    }

    /// Admits a connection from `source`, evicting another if the server
    /// is full, or refuses it.
    pub fn admit(self: &Arc<Self>, source: IpAddr) -> Result<Admitted, Shed> {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if t.per_source.get(&source).copied().unwrap_or(0) >= self.limits.max_per_source
            && !self.exempt.iter().any(|n| n.contains(&source))
        {
            return Err(Shed::PerSource);
        }
        if t.open.len() >= self.limits.max_connections {
            let victim = t.eviction_candidate().ok_or(Shed::Full)?;
            if let Some(e) = t.open.get(&victim) {
                e.evict.notify_one();
            }
            t.forget(victim);
        }
        let id = t.next_id;
        t.next_id += 1;
        *t.per_source.entry(source).or_insert(0) += 1;
        let activity = Arc::new(Activity::new());
        let evict = Arc::new(Notify::new());
        t.open.insert(
            id,
            Entry {
                source,
                activity: activity.clone(),
                evict: evict.clone(),
            },
        );
        Ok(Admitted {
            table: self.clone(),
            id,
            activity,
            evict,
        })
    }
}

/// An admitted connection; leaving the table when dropped.
pub struct Admitted {
    table: Arc<ConnTable>,
    id: u64,
    /// Its activity.
    pub activity: Arc<Activity>,
    evict: Arc<Notify>,
}

impl Admitted {
    /// Resolves when the connection must close: evicted to make room, or
    /// past its deadlines.
    pub async fn closing(&self) {
        tokio::select! {
            () = self.evict.notified() => {}
            () = self.activity.expired(self.table.limits) => {}
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut t = self.table.table.lock().unwrap_or_else(|p| p.into_inner());
        t.forget(self.id);
    }
}

/// A stream that records each byte moved as activity.
pub struct ActivityIo<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> ActivityIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ActivityIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ActivityIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize, per_source: usize) -> ConnLimits {
        ConnLimits {
            max_connections: max,
            max_per_source: per_source,
            first_request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }

    impl ConnTable {
        fn new_for_test(limits: ConnLimits) -> Arc<Self> {
            Self::new(limits, vec!["127.0.0.99/32".parse().unwrap()])
        }
    }

    #[test]
    fn trusted_proxies_are_exempt_from_the_per_source_cap() {
        let t = ConnTable::new_for_test(limits(100, 1));
        let _a = t.admit(ip(99)).unwrap();
        assert!(t.admit(ip(99)).is_ok());
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn one_source_cannot_take_every_slot() {
        let t = ConnTable::new_for_test(limits(100, 2));
        let a = t.admit(ip(2)).unwrap();
        let _b = t.admit(ip(2)).unwrap();
        assert_eq!(t.admit(ip(2)).err(), Some(Shed::PerSource));
        assert!(t.admit(ip(3)).is_ok());
        drop(a);
        assert!(t.admit(ip(2)).is_ok(), "a closed connection frees its slot");
    }

    #[test]
    fn a_full_server_evicts_silent_connections_first() {
        let t = ConnTable::new_for_test(limits(2, 10));
        let busy = t.admit(ip(2)).unwrap();
        let _req = busy.activity.request();
        let _silent = t.admit(ip(3)).unwrap();
        let _new = t.admit(ip(4)).expect("the silent one makes room");
        let table = t.table.lock().unwrap();
        assert_eq!(table.open.len(), 2);
        assert!(!table.per_source.contains_key(&ip(3)));
    }

    #[test]
    fn a_full_server_of_busy_connections_sheds() {
        let t = ConnTable::new_for_test(limits(1, 10));
        let busy = t.admit(ip(2)).unwrap();
        let _req = busy.activity.request();
        assert_eq!(t.admit(ip(3)).err(), Some(Shed::Full));
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines() {
        let l = ConnLimits {
            first_request_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(5),
            ..limits(10, 10)
        };
        let a = Arc::new(Activity::new());
        let t0 = tokio::time::Instant::now();
        a.expired(l).await;
        assert_eq!(t0.elapsed().as_secs(), 2, "no request: closed at 2 s");
        let b = Arc::new(Activity::new());
        drop(b.request());
        let t0 = tokio::time::Instant::now();
        b.expired(l).await;
        assert_eq!(t0.elapsed().as_secs(), 5, "idle after a request: 5 s");
    }
}
