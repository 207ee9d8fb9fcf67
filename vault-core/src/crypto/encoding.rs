//! Unambiguous byte encodings for associated data and headers.

/// Builds associated data: a domain label, then length-prefixed fields, so no
/// two different identities can encode to the same bytes.
pub(crate) struct Aad(Vec<u8>);

impl Aad {
    /// Starts with a domain-separation label such as `vault/v1/dek`.
    pub(crate) fn new(label: &str) -> Self {
        let mut v = Vec::with_capacity(96);
        v.extend_from_slice(&(label.len() as u32).to_be_bytes());
        v.extend_from_slice(label.as_bytes());
        Self(v)
    }

    /// Appends a length-prefixed string.
    pub(crate) fn str(mut self, s: &str) -> Self {
        self.0.extend_from_slice(&(s.len() as u32).to_be_bytes());
        self.0.extend_from_slice(s.as_bytes());
        self
    }

    /// Appends a big-endian u32.
    pub(crate) fn u32(mut self, n: u32) -> Self {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }

    /// Appends a big-endian u64.
    pub(crate) fn u64(mut self, n: u64) -> Self {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }

    /// The bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Reads a big-endian u32 at `at`.
pub(crate) fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_cannot_run_together() {
        let a = Aad::new("x").str("ab").str("c");
        let b = Aad::new("x").str("a").str("bc");
        assert_ne!(a.as_bytes(), b.as_bytes());
    }
}
