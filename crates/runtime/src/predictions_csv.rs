//! Predictions as CSV, one row per input row, for spreadsheet users: the
//! same table from `indus predict --out file.csv` and from the HTTP API
//! when a client asks for `text/csv`.

use crate::Prediction;
use std::fmt::Write as _;

/// A CSV cell, quoted when it holds a comma, a quote or a line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The predictions as CSV text with a header row: `row`, `id`, then
/// `label` and `score` (classifiers), `value` (numbers), `p_<class>` per
/// class where the scores are probabilities (`with_probabilities`; not for
/// an autoencoder), the plugin's own outputs, each secondary head's answer,
/// and a novelty guard's verdict.
pub fn predictions_csv(
    classes: &[String],
    with_probabilities: bool,
    predictions: &[Prediction],
) -> String {
    predictions_csv_with(classes, with_probabilities, predictions, &[], true)
}

/// [`predictions_csv`] without the header row: the lines of a batch after
/// the first, when a large input is predicted and written batch by batch.
pub fn predictions_csv_rows(
    classes: &[String],
    with_probabilities: bool,
    predictions: &[Prediction],
) -> String {
    predictions_csv_with(classes, with_probabilities, predictions, &[], false)
}

/// [`predictions_csv`] with `extra` columns at the end of each line (a
/// header and one cell per prediction): the truth and the fold of a run's
/// held-out rows.
pub(crate) fn predictions_csv_with(
    classes: &[String],
    with_probabilities: bool,
    predictions: &[Prediction],
    extra_columns: &[(&str, Vec<String>)],
    with_header: bool,
) -> String {
    let mut text = String::new();
    let valued = predictions.iter().any(|p| p.value.is_some());
    // A regression head has no label or score, only its value.
    let labelled = !classes.is_empty();
    let _ = write!(text, "row,id");
    if labelled {
        let _ = write!(text, ",label,score");
    }
    if valued {
        let _ = write!(text, ",value");
    }
    for c in classes.iter().filter(|_| with_probabilities) {
        let _ = write!(text, ",{}", csv_field(&format!("p_{c}")));
    }
    let extra: Vec<&str> = predictions
        .first()
        .map(|p| p.outputs.iter().map(|(k, _)| k.as_str()).collect())
        .unwrap_or_default();
    for k in &extra {
        let _ = write!(text, ",{}", csv_field(k));
    }
    // Heads trained beside the primary one: `<head>:label`, then one
    // probability per class (or `<head>:value`).
    if let Some(first) = predictions.first() {
        for (head, answer) in &first.heads {
            if answer.value.is_some() {
                let _ = write!(text, ",{}", csv_field(&format!("{head}:value")));
            } else {
                let _ = write!(text, ",{}", csv_field(&format!("{head}:label")));
                for (c, _) in &answer.probabilities {
                    let _ = write!(text, ",{}", csv_field(&format!("{head}:p_{c}")));
                }
            }
        }
    }
    // A novelty guard's verdict: the row's reconstruction error and
    // whether the guard gave it its class.
    let guarded = predictions.iter().any(|p| p.novelty.is_some());
    if guarded {
        let _ = write!(text, ",novelty_error,novelty_flagged");
    }
    for (name, _) in extra_columns {
        let _ = write!(text, ",{}", csv_field(name));
    }
    let _ = writeln!(text);
    if !with_header {
        text.clear();
    }
    for (i, p) in predictions.iter().enumerate() {
        let _ = write!(
            text,
            "{},{}",
            p.row,
            csv_field(p.id.as_deref().unwrap_or(""))
        );
        if labelled {
            let _ = write!(text, ",{},{}", csv_field(&p.label), p.score);
        }
        if valued {
            let _ = write!(
                text,
                ",{}",
                p.value.map_or(String::new(), |v| v.to_string())
            );
        }
        for (_, v) in &p.probabilities {
            let _ = write!(text, ",{v}");
        }
        for (_, v) in &p.outputs {
            let cell = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let _ = write!(text, ",{}", csv_field(&cell));
        }
        for (_, answer) in &p.heads {
            match (answer.value, &answer.label) {
                (Some(v), _) => {
                    let _ = write!(text, ",{v}");
                }
                (None, label) => {
                    let _ = write!(text, ",{}", csv_field(label.as_deref().unwrap_or("")));
                    for (_, v) in &answer.probabilities {
                        let _ = write!(text, ",{v}");
                    }
                }
            }
        }
        if let Some(n) = &p.novelty {
            let _ = write!(text, ",{},{}", n.error, n.flagged);
        }
        for (_, cells) in extra_columns {
            let cell = cells.get(i).map_or("", String::as_str);
            let _ = write!(text, ",{}", csv_field(cell));
        }
        let _ = writeln!(text);
    }
    text
}
