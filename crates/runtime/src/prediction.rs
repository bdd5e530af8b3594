//! What a loaded run answers for one row: the decided label or value,
//! probabilities, the secondary heads' answers, the novelty guard's verdict
//! and, when asked, why (attributions). The JSON shape of these types is
//! the shape of the API's and `indus predict`'s answers.

use crate::decision::{Decided, Decision};
use indus_data::RawTable;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// One answered row.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// 1-based row number in the input.
    pub row: usize,
    /// The row's id, when the schema has an id column and the input gave it.
    pub id: Option<String>,
    /// The decided class (the most probable one, or the positive class at
    /// or above the run's decision threshold).
    pub label: String,
    /// Probability of `label`; for an autoencoder, the alarm score
    /// `error / (error + threshold)`, which ranks rows but is no probability.
    pub score: f32,
    /// `(class, probability)` in class order; empty for an autoencoder,
    /// whose answer is `label`, `score` and the error in `value`.
    pub probabilities: Vec<(String, f32)>,
    /// Outputs of the plugin's native `postprocess` hook, by name.
    pub outputs: Vec<(String, serde_json::Value)>,
    /// Heads that predict a number (ratings): the predicted value, clipped
    /// to the target's declared range.
    pub value: Option<f32>,
    /// Answers of the heads trained beside the primary one, by head name.
    pub heads: Vec<(String, HeadAnswer)>,
    /// The novelty guard's verdict, when the run has one.
    pub novelty: Option<Novelty>,
}

/// How unusual a row looked to a run's novelty guard.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Novelty {
    /// The row's reconstruction error.
    pub error: f32,
    /// The error at or above which the guard fires.
    pub threshold: f32,
    /// Whether it fired: the row then gets the guard's class, whatever
    /// `probabilities` (the classifier's) say, and `score` is the guard's
    /// `error / (error + threshold)`.
    pub flagged: bool,
}

impl Serialize for Prediction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("row", &self.row)?;
        if let Some(id) = &self.id {
            m.serialize_entry("id", id)?;
        }
        if let Some(v) = self.value {
            m.serialize_entry("value", &v)?;
        }
        // A regression head has no classes: its answer is `value` alone.
        if !self.probabilities.is_empty() || !self.label.is_empty() {
            m.serialize_entry("label", &self.label)?;
            m.serialize_entry("score", &self.score)?;
        }
        if !self.probabilities.is_empty() {
            m.serialize_entry("probabilities", &OrderedMap(&self.probabilities))?;
        }
        if !self.outputs.is_empty() {
            m.serialize_entry("outputs", &OrderedMap(&self.outputs))?;
        }
        if !self.heads.is_empty() {
            m.serialize_entry("heads", &OrderedMap(&self.heads))?;
        }
        if let Some(n) = &self.novelty {
            m.serialize_entry("novelty", n)?;
        }
        m.end()
    }
}

/// Name → value pairs serialized as a JSON object in their order (class
/// order, hook order, head order), which a map type would not keep.
pub(crate) struct OrderedMap<'a, V>(pub &'a [(String, V)]);

impl<V: Serialize> Serialize for OrderedMap<'_, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Prediction {
    /// Row `i` of `rows` (its 1-based number and id) with nothing decided
    /// yet: the base every kind of head fills in.
    pub(crate) fn for_row(rows: &RawTable, i: usize) -> Prediction {
        Prediction {
            row: rows.source_row(i),
            id: rows.ids.as_ref().and_then(|ids| ids.get(i).cloned()),
            label: String::new(),
            score: 0.0,
            probabilities: Vec::new(),
            outputs: Vec::new(),
            value: None,
            heads: Vec::new(),
            novelty: None,
        }
    }
}

impl Prediction {
    /// One answer per row of what `decision` decided for `rows`: the
    /// label (labels joined by `separator` for multilabel heads), its
    /// score, the class probabilities and the number behind the answer.
    pub(crate) fn from_decided(
        rows: &RawTable,
        decided: &Decided,
        decision: &Decision,
        classes: &[String],
        separator: &str,
    ) -> Vec<Prediction> {
        let k = classes.len().max(1);
        let calibrated = decision.scores_are_probabilities();
        match decision {
            Decision::Multilabel => decided
                .probabilities
                .chunks_exact(k)
                .enumerate()
                .map(|(i, p)| {
                    let chosen: Vec<&str> = classes
                        .iter()
                        .zip(p)
                        .filter(|(_, v)| **v >= 0.5)
                        .map(|(c, _)| c.as_str())
                        .collect();
                    Prediction {
                        label: chosen.join(separator),
                        // How sure the least sure decision is.
                        score: p.iter().map(|v| v.max(1.0 - v)).fold(1.0, f32::min),
                        probabilities: named(classes, p),
                        ..Prediction::for_row(rows, i)
                    }
                })
                .collect(),
            Decision::Value => decided
                .values
                .iter()
                .enumerate()
                .map(|(i, &v)| Prediction {
                    score: v,
                    value: Some(v),
                    ..Prediction::for_row(rows, i)
                })
                .collect(),
            Decision::Classes { .. } | Decision::Rating(_) | Decision::Anomaly(_) => decided
                .probabilities
                .chunks_exact(k)
                .zip(&decided.classes)
                .enumerate()
                .map(|(i, (p, &class))| Prediction {
                    label: classes[class].clone(),
                    // An autoencoder's alarm score is no probability: its
                    // answer is that score, without per-class columns.
                    score: if calibrated { p[class] } else { p[1] },
                    probabilities: if calibrated {
                        named(classes, p)
                    } else {
                        Vec::new()
                    },
                    // Ratings and anomalies: the rating or the error that
                    // decided between the two classes.
                    value: decided.values.get(i).copied(),
                    ..Prediction::for_row(rows, i)
                })
                .collect(),
        }
    }
}

/// `(class, probability)` pairs of one row, in class order.
pub(crate) fn named(classes: &[String], probabilities: &[f32]) -> Vec<(String, f32)> {
    classes
        .iter()
        .cloned()
        .zip(probabilities.iter().copied())
        .collect()
}

/// One secondary head's answer for one row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeadAnswer {
    /// Classifiers: the decided class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Classifiers: probability of `label`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// Classifiers: probability per class, in class order.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ordered")]
    pub probabilities: Vec<(String, f32)>,
    /// Regression heads: the predicted number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f32>,
}

fn ordered<S: serde::Serializer>(pairs: &[(String, f32)], s: S) -> Result<S::Ok, S::Error> {
    OrderedMap(pairs).serialize(s)
}

/// How much one source column moved the explained probability.
#[derive(Debug, Clone, Serialize)]
pub struct Attribution {
    /// The column.
    pub column: String,
    /// Its share of `score - baseline_score` (negative: it pulled the
    /// probability down).
    pub value: f32,
}

/// One explained row.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The prediction being explained.
    #[serde(flatten)]
    pub prediction: Prediction,
    /// Probability of the same label for the all-baseline row (training
    /// means, no category, black image): the attributions explain the move
    /// from here to `prediction.score`.
    pub baseline_score: f32,
    /// Attribution per source column, in schema order (image columns: the
    /// sum over their pixels).
    pub attributions: Vec<Attribution>,
    /// Attribution per model input (one-hot categories and pixels apart),
    /// in the order of [`indus_data::Preprocessor::input_names`].
    pub inputs: Vec<f32>,
}
