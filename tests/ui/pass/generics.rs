//! Generic parameters, where-clauses, `impl Trait` arguments and return types.

use std::fmt::Display;

use resilience::{circuit_breaker, Rejected};

#[derive(Debug)]
pub enum Error {
    Rejected(Rejected),
}

impl From<Rejected> for Error {
    fn from(r: Rejected) -> Self {
        Error::Rejected(r)
    }
}

#[circuit_breaker]
pub async fn render<T>(value: T) -> Result<String, Error>
where
    T: Display + Send,
{
    Ok(value.to_string())
}

#[circuit_breaker]
pub async fn render_impl(value: impl Display) -> Result<String, Error> {
    Ok(format!("<{value}>"))
}

#[circuit_breaker]
pub async fn opaque(n: u32) -> Result<impl Display, Error> {
    Ok(n * 2)
}

#[circuit_breaker]
pub async fn with_question_mark(text: &str) -> Result<u32, Error> {
    let parsed: u32 = text.parse().map_err(|_| Rejected::bulkhead_full("parse", 0))?;
    Ok(parsed)
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(render(5).await.unwrap(), "5");
        assert_eq!(render("x").await.unwrap(), "x");
        assert_eq!(render_impl(1.5).await.unwrap(), "<1.5>");
        assert_eq!(opaque(2).await.unwrap().to_string(), "4");
        assert_eq!(with_question_mark("12").await.unwrap(), 12);
    });
}
