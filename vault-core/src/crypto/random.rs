//! Randomness from the operating system. Keys and nonces come from here only.

use super::CryptoError;

/// Fills `buf` from the OS random number generator.
pub fn fill(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buf).map_err(|_| CryptoError::Random)
}

/// `N` random bytes.
pub fn bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut b = [0u8; N];
    fill(&mut b)?;
    Ok(b)
}
