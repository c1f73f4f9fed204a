//! The expansion is warning-free in a crate that denies every warning (the same items that
//! `tests/lint_clean.rs` shows to clippy).

#![deny(warnings)]
#![deny(clippy::all, clippy::pedantic)]

include!("../../common/lint_items.rs");

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut client = Client { base: 1 };
        assert_eq!(client.charge(2, String::new()).await.unwrap(), 3);
        assert_eq!(client.bump().await.unwrap(), 2);
        assert_eq!(client.show(5, 0).await.unwrap(), "52");
        assert_eq!(free(1).await.unwrap(), 1);
    });
}
