//! Snapshot tests of the CLI's help and usage errors (trycmd): the text a
//! user sees is reviewed like code. Regenerate with
//! `TRYCMD=overwrite cargo test -p vault-cli --test cli_tests`.

#[test]
fn cli_tests() {
    trycmd::TestCases::new()
        .env("NO_COLOR", "1")
        .env("VAULT_ADDR", "")
        .env("VAULT_TOKEN", "")
        .env("VAULT_PROJECT", "")
        .env("VAULT_ENV", "")
        .case("tests/cmd/*.toml");
}
