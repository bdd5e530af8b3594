//! Native hooks of the `security-anomaly` plugin: traffic-rate and
//! error-count features of a network connection. NSL-KDD states the recent
//! traffic to a host as a count and a set of shares (`count`,
//! `serror_rate`, …); an autoencoder that reconstructs each column on its
//! own does not see that 200 connections with 100 % SYN errors is a flood
//! while 2 with 100 % is a hiccup. The products, the byte rate and the
//! direction of the payload make that explicit (docs/scenarios.md has the
//! before/after numbers).

use indus_plugin_sdk::{Columns, Plugin, Table, export_plugin, numeric_columns};

/// The derived columns, in the order `plugin.yaml` declares them.
pub const DERIVED: [&str; 10] = [
    "log_bytes_per_second",
    "log_reply_to_request_bytes",
    "no_payload",
    "syn_errors_to_host",
    "rejections_to_host",
    "syn_errors_to_service",
    "same_service_connections",
    "host_syn_errors",
    "host_rejections",
    "host_same_service_connections",
];

/// The plugin (no settings).
pub struct ConnectionRates;

impl Plugin for ConnectionRates {
    fn new(_config: &indus_plugin_sdk::serde_json::Value) -> Result<Self, String> {
        Ok(ConnectionRates)
    }

    fn derive_features(&self, rows: &Table) -> Result<Columns, String> {
        let col = |n: &str| rows.f64(n);
        let (duration, sent, received) = (col("duration")?, col("src_bytes")?, col("dst_bytes")?);
        let (count, serror, rerror, same_srv) = (
            col("count")?,
            col("serror_rate")?,
            col("rerror_rate")?,
            col("same_srv_rate")?,
        );
        let (srv_count, srv_serror) = (col("srv_count")?, col("srv_serror_rate")?);
        let (host_count, host_serror, host_rerror, host_same_srv) = (
            col("dst_host_count")?,
            col("dst_host_serror_rate")?,
            col("dst_host_rerror_rate")?,
            col("dst_host_same_srv_rate")?,
        );
        Ok(numeric_columns(DERIVED, rows.len(), |i| {
            let (s, r) = (sent[i].max(0.0), received[i].max(0.0));
            [
                ((s + r) / (duration[i].max(0.0) + 1.0)).ln_1p(),
                r.ln_1p() - s.ln_1p(),
                if s == 0.0 && r == 0.0 { 1.0 } else { 0.0 },
                count[i] * serror[i],
                count[i] * rerror[i],
                srv_count[i] * srv_serror[i],
                count[i] * same_srv[i],
                host_count[i] * host_serror[i],
                host_count[i] * host_rerror[i],
                host_count[i] * host_same_srv[i],
            ]
        }))
    }
}

export_plugin!("security-anomaly", ConnectionRates);
