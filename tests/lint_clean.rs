//! The expansion is warning-free in a crate that denies every warning and clippy's pedantic
//! group: `cargo clippy --all-targets -- -D warnings` (CI) checks this file, and
//! `tests/ui/pass/lint_clean.rs` compiles the same items under trybuild.

#![deny(warnings)]
#![deny(clippy::all, clippy::pedantic)]

include!("common/lint_items.rs");

#[tokio::test(start_paused = true)]
async fn every_attribute_in_a_lint_strict_crate() {
    {
        let mut client = Client { base: 1 };
        assert_eq!(client.charge(2, String::new()).await.unwrap(), 3);
        assert_eq!(client.bump().await.unwrap(), 2);
        assert_eq!(client.show(5, 0).await.unwrap(), "52");
        assert_eq!(free(1).await.unwrap(), 1);
        assert_eq!(one_line(4).await.unwrap(), 4);
        assert_eq!(slots("", vec![0], 0).await.unwrap(), 2);
        assert_eq!(slots("40", Vec::new(), 0).await.unwrap(), 41);
        assert!(slots("x", Vec::new(), 0).await.is_err());
        assert_eq!(one_slot(6).await.unwrap(), 6);
    }
}
