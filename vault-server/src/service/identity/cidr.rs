//! Allowed source networks for service tokens: `10.0.0.0/8`, `::1/128`, or
//! a bare address (a /32 or /128).

use std::net::IpAddr;

/// A parsed network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `ADDR[/PREFIX]`; the host bits must be zero.
    pub fn parse(s: &str) -> Option<Self> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        if prefix > max {
            return None;
        }
        let c = Self { addr, prefix };
        (c.mask(addr) == Some(bits(addr))).then_some(c)
    }

    fn mask(&self, ip: IpAddr) -> Option<u128> {
        let (width, v) = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V4(x)) => (32u32, u128::from(u32::from(x))),
            (IpAddr::V6(_), IpAddr::V6(x)) => (128u32, u128::from(x)),
            _ => return None,
        };
        let host = width - u32::from(self.prefix);
        Some(if host >= 128 { 0 } else { (v >> host) << host })
    }

    /// Whether `ip` is inside (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.mask(ip) == Some(bits(self.addr))
    }
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(x) => u128::from(u32::from(x)),
        IpAddr::V6(x) => u128::from(x),
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_contain() {
        let n = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(n.contains(ip("10.1.2.3")));
        assert!(!n.contains(ip("10.2.0.1")));
        assert!(n.contains(ip("::ffff:10.1.9.9")));
        assert!(!n.contains(ip("::1")));
        let one = Cidr::parse("127.0.0.1").unwrap();
        assert_eq!(one.to_string(), "127.0.0.1/32");
        assert!(one.contains(ip("127.0.0.1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("::1")));
        for bad in [
            "10.1.0.1/16",
            "10.0.0.0/33",
            "x/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "",
        ] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }
}
