//! `docs/grafana-dashboard.json` graphs exactly the metrics the `monitor` docs list: a
//! renamed or added metric fails here until the dashboard follows.

use std::collections::BTreeSet;

use serde_json::Value;

/// Every `resilience_*` word in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("resilience_") && word.len() > "resilience_".len())
        .map(str::to_string)
        .collect()
}

fn exprs(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                match (key.as_str(), field) {
                    ("expr", Value::String(expr)) => into.push(expr.clone()),
                    _ => exprs(field, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| exprs(item, into)),
        _ => {}
    }
}

#[test]
fn dashboard_queries_exactly_the_documented_metrics() {
    let dashboard: Value =
        serde_json::from_str(include_str!("../docs/grafana-dashboard.json")).unwrap();
    let mut queries = Vec::new();
    exprs(&dashboard, &mut queries);
    assert!(queries.len() >= 6, "every panel has a query: {queries:?}");
    let graphed: BTreeSet<String> = queries.iter().flat_map(|q| metric_names(q)).collect();

    // The metrics table of the `monitor` docs: rows that start with a metric name.
    let docs = include_str!("../src/monitor.rs");
    let documented: BTreeSet<String> = docs
        .lines()
        .filter_map(|line| line.strip_prefix("//! | `resilience_"))
        .map(|rest| format!("resilience_{}", rest.split('`').next().unwrap()))
        .collect();
    assert_eq!(documented.len(), 10, "the docs table: {documented:?}");
    assert_eq!(graphed, documented);
    for panel in dashboard["panels"].as_array().unwrap() {
        assert!(
            panel["title"].is_string() && panel["gridPos"].is_object(),
            "{panel}"
        );
    }
}
