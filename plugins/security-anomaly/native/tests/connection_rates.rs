//! Derived features of hand-made connections.

use indus_plugin_sdk::serde_json::Value;
use indus_plugin_sdk::{Plugin, Table, f64_column};
use security_anomaly_native::{ConnectionRates, DERIVED};

fn connection(duration: f64, sent: f64, received: f64) -> Table {
    Table::from_numbers(&[
        ("duration", duration),
        ("src_bytes", sent),
        ("dst_bytes", received),
        ("count", 200.0),
        ("serror_rate", 0.5),
        ("rerror_rate", 0.25),
        ("same_srv_rate", 0.1),
        ("srv_count", 10.0),
        ("srv_serror_rate", 1.0),
        ("dst_host_count", 255.0),
        ("dst_host_serror_rate", 0.2),
        ("dst_host_rerror_rate", 0.0),
        ("dst_host_same_srv_rate", 0.04),
    ])
    .unwrap()
}

fn derive(rows: &Table) -> impl Fn(&str) -> f64 + use<> {
    let out = ConnectionRates::new(&Value::Null)
        .unwrap()
        .derive_features(rows)
        .unwrap();
    assert_eq!(out.len(), DERIVED.len());
    move |name: &str| f64_column(&out, name).unwrap()[0]
}

#[test]
fn shares_of_recent_traffic_become_counts() {
    let get = derive(&connection(0.0, 0.0, 0.0));
    assert_eq!(get("syn_errors_to_host"), 100.0);
    assert_eq!(get("rejections_to_host"), 50.0);
    assert_eq!(get("syn_errors_to_service"), 10.0);
    assert_eq!(get("same_service_connections"), 20.0);
    assert_eq!(get("host_syn_errors"), 51.0);
    assert_eq!(get("host_rejections"), 0.0);
    assert!((get("host_same_service_connections") - 10.2).abs() < 1e-12);
}

#[test]
fn byte_rate_and_direction_of_a_download() {
    // 9 seconds, a 99-byte request and a 9,999-byte reply.
    let get = derive(&connection(9.0, 99.0, 9999.0));
    assert!((get("log_bytes_per_second") - (10098.0f64 / 10.0).ln_1p()).abs() < 1e-12);
    assert!((get("log_reply_to_request_bytes") - (10000.0f64 / 100.0).ln()).abs() < 1e-12);
    assert_eq!(get("no_payload"), 0.0);
}

#[test]
fn a_connection_without_payload_is_marked() {
    let get = derive(&connection(0.0, 0.0, 0.0));
    assert_eq!(get("no_payload"), 1.0);
    assert_eq!(get("log_bytes_per_second"), 0.0);
    assert_eq!(get("log_reply_to_request_bytes"), 0.0);
}
