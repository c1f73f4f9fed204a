//! Compile-time behaviour: what must compile (`ui/pass`) and the diagnostics for every misuse
//! (`ui/fail`, each with the `.stderr` rustc prints). Regenerate with `TRYBUILD=overwrite`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
