//! Permanent test vectors: bytes written by release 0.1 that every future
//! release must still open. Never edit the constants; add new ones next to
//! them when a format version is added. `generate_vectors` (ignored) printed
//! them: `cargo test -p vault-core generate_vectors -- --ignored --nocapture`.

use super::*;
use crate::names::{EnvName, ProjectName, SecretName};
use crate::secret::{SecretBytes, SecretText};

const KEY_FILE: &str = "vault-unseal-key-v1.AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";
const SHARES_2_OF_3: [&str; 2] = [
    "vault-share-v1.AgFNNUkqSU9xJTwgSZlFXNdzBhY-vUAdVbbBx8sS4Imuv3xZdjM",
    "vault-share-v1.AgPVW9120d2df1Z0zajV-Hy1KB5k9OoL0fFqZnAOAbzXmhjO2yo",
];
const WRAPPED_ROOT_V1: &str = "01000000019c9ca290b6ccaafc080c30afc7d6455fad05161378c4bcb6d6c4f6c5e5b0692d3432081cacd4826383a4f29ec55bfba6e08932e36f5432649ebdc2ca";
const WRAPPED_KEK_V1: &str = "010000000173dc78d08ee523634ab1057d0ab0e697682f6f3d2623f14c643f23927730391c7304451dad5035f10e562dedfed55bf76581cc881233ac51ffa1798c";
const ENVELOPE_V1: &str = "01000000033fe17fc10c4b19223b9874b239f0028b6b73d961f68dbdc403580c3f8cd944b44512ba7a736694dcdab7baf76df21b2e20b010d6a7e129603a5885c876d3f6ebd422df98db19a135408465836bd3f66d0850baac7bee4b5e37abfec56c3dd3d5a6854a99df4a791cebb2d3e2a7ff9bd86d36fb41e0b0082dcc81edd9c95a15ec09ec86c12a8201989eb5b032f13f774d47a133d8";
const PLAINTEXT: &str = "postgres://vault:s3cret@db.internal:5432/app?sslmode=require";
const PROJECT: &str = "vectors";
const KEK_VERSION: u32 = 3;

fn context() -> SecretContext {
    SecretContext {
        project: ProjectName::parse(PROJECT).unwrap(),
        environment: EnvName::parse("prod").unwrap(),
        name: SecretName::parse("DATABASE_URL").unwrap(),
        version: 7,
    }
}

fn bytes(h: &str) -> Vec<u8> {
    hex::decode(h).unwrap()
}

#[test]
fn release_0_1_vectors_still_open() {
    let unseal = parse_key_file(KEY_FILE).unwrap();
    let from_shares = shamir_combine(&SHARES_2_OF_3.map(SecretText::from)).unwrap();
    assert_eq!(from_shares.expose_secret(), unseal.expose_secret());

    let root = unseal
        .unwrap_root(&WrappedRootKey::from_bytes(bytes(WRAPPED_ROOT_V1)).unwrap())
        .unwrap();
    assert_eq!(root.version(), 1);
    let project = ProjectName::parse(PROJECT).unwrap();
    let kek = root
        .unwrap_kek(
            &project,
            KEK_VERSION,
            &WrappedKek::from_bytes(bytes(WRAPPED_KEK_V1)).unwrap(),
        )
        .unwrap();
    let env = Envelope::from_bytes(bytes(ENVELOPE_V1)).unwrap();
    assert_eq!(env.kek_version(), KEK_VERSION);
    assert_eq!(
        open(&kek, &context(), &env).unwrap().expose_secret(),
        PLAINTEXT.as_bytes()
    );
}

#[test]
#[ignore = "prints new vectors; run by hand when adding a format version"]
fn generate_vectors() {
    let unseal = parse_key_file(KEY_FILE).unwrap();
    let shares = shamir_split(&unseal, 3, 2).unwrap();
    let root = RootKey::generate(1).unwrap();
    let kek = Kek::generate(&ProjectName::parse(PROJECT).unwrap(), KEK_VERSION).unwrap();
    let env = kek
        .seal(&context(), &SecretBytes::new(PLAINTEXT.as_bytes().to_vec()))
        .unwrap();
    println!("SHARE_1 {}", shares[0].expose_secret());
    println!("SHARE_3 {}", shares[2].expose_secret());
    println!(
        "WRAPPED_ROOT {}",
        hex::encode(unseal.wrap_root(&root).unwrap().as_bytes())
    );
    println!(
        "WRAPPED_KEK {}",
        hex::encode(root.wrap_kek(&kek).unwrap().as_bytes())
    );
    println!("ENVELOPE {}", hex::encode(env.as_bytes()));
}
