//! Cost of opening a secret (data-key unwrap + value decryption) against a raw
//! AES-256-GCM decryption of the same size, measured in the same run.
//!
//! Run: `cargo bench -p vault-core --bench envelope`. Targets (issue 2): a
//! full open costs at most 3x the raw decryption at 64 B and 1.3x at 4 KiB.
//! Two raw baselines: `raw_aes_gcm_decrypt` with a cipher whose key schedule
//! is already expanded (the strictest), and `..._with_key_setup`, a one-shot
//! decryption from key bytes. `vault-core` keeps expanded KEKs, but must
//! expand each fresh data key, which is the price of one data key per version.

// Bench inputs are constants made here; a failure is a bug worth a panic.
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vault_core::crypto::{Envelope, Kek, SecretContext, open};
use vault_core::names::{EnvName, ProjectName, SecretName};
use vault_core::secret::SecretBytes;

fn bench_open(c: &mut Criterion) {
    let project = ProjectName::parse("bench").unwrap();
    let kek = Kek::generate(&project, 1).unwrap();
    let ctx = SecretContext {
        project,
        environment: EnvName::parse("prod").unwrap(),
        name: SecretName::parse("DATABASE_URL").unwrap(),
        version: 42,
    };
    let raw = Aes256Gcm::new(&Key::<Aes256Gcm>::from([7u8; 32]));
    let nonce = aes_gcm::aead::Nonce::<Aes256Gcm>::from([9u8; 12]);
    let aad = [3u8; 64];

    let mut group = c.benchmark_group("open");
    for size in [64usize, 4096] {
        let value = SecretBytes::new(vec![0x5a; size]);
        let env: Envelope = kek.seal(&ctx, &value).unwrap();
        let raw_ct = raw
            .encrypt(
                &nonce,
                Payload {
                    msg: value.expose_secret(),
                    aad: &aad,
                },
            )
            .unwrap();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(
            BenchmarkId::new("raw_aes_gcm_decrypt", size),
            &size,
            |b, _| {
                b.iter(|| {
                    raw.decrypt(
                        black_box(&nonce),
                        Payload {
                            msg: black_box(&raw_ct),
                            aad: &aad,
                        },
                    )
                    .unwrap()
                })
            },
        );
        // A one-shot decryption with a key: schedule expansion included, as a
        // caller holding only key bytes would pay.
        group.bench_with_input(
            BenchmarkId::new("raw_aes_gcm_decrypt_with_key_setup", size),
            &size,
            |b, _| {
                b.iter(|| {
                    let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(black_box([7u8; 32])));
                    cipher
                        .decrypt(
                            black_box(&nonce),
                            Payload {
                                msg: black_box(&raw_ct),
                                aad: &aad,
                            },
                        )
                        .unwrap()
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("vault_open", size), &size, |b, _| {
            b.iter(|| open(black_box(&kek), black_box(&ctx), black_box(&env)).unwrap())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = bench_open
}
criterion_main!(benches);
