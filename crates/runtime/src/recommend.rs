//! What a recommender needs besides its network: for every user and item
//! seen in training, the part of an input row that belongs to them (the id
//! and its joined side columns), and which items each user already rated,
//! so that a top-k list can be built for any known user without a client
//! sending side features, and never repeats what the user has seen.

use crate::RuntimeError;
use crate::decision::RatingDecision;
use crate::model::TrainedModel;
use indus_data::{LookupTable, RawTable, feature_columns, primary_head};
use indus_engine::rating::{TopKMetrics, top_k_metrics};
use indus_spec::{ColumnSpec, ColumnType, HeadSpec, PluginManifest};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Users and items known from the training rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemCatalog {
    /// The head's user column.
    pub user_column: String,
    /// The head's item column.
    pub item_column: String,
    /// Raw-row positions filled from the user's part.
    user_positions: Vec<usize>,
    /// Raw-row positions filled from the item's part.
    item_positions: Vec<usize>,
    /// Values per raw row.
    width: usize,
    /// User key → values at `user_positions`.
    users: BTreeMap<String, Vec<f32>>,
    /// Item key → values at `item_positions`.
    items: BTreeMap<String, Vec<f32>>,
    /// User key → items rated in training.
    seen: BTreeMap<String, BTreeSet<String>>,
    /// Item key → ratings in training.
    #[serde(default)]
    item_ratings: BTreeMap<String, usize>,
    /// Items with fewer training ratings are never recommended.
    #[serde(default)]
    min_item_ratings: usize,
}

/// Where the user and item ids sit in a raw row, to read them as keys.
pub(crate) struct PairKeys<'a> {
    user: (usize, &'a ColumnSpec),
    item: (usize, &'a ColumnSpec),
}

impl<'a> PairKeys<'a> {
    /// The positions of a user_item head's two columns.
    pub(crate) fn new(plugin: &'a PluginManifest, head: &HeadSpec) -> Result<Self, RuntimeError> {
        let position = |name: &Option<String>| {
            let mut at = 0;
            for c in feature_columns(plugin) {
                if Some(&c.name) == name.as_ref() {
                    return Some((at, c));
                }
                at += c.width();
            }
            None
        };
        match (position(&head.user), position(&head.item)) {
            (Some(user), Some(item)) => Ok(PairKeys { user, item }),
            _ => Err(RuntimeError::Invalid(format!(
                "head `{}` needs its `user` and `item` among the feature columns",
                head.name
            ))),
        }
    }

    /// The user and item keys of a raw row.
    pub(crate) fn keys(&self, row: &[f32]) -> (String, String) {
        (
            key_text(self.user.1, row[self.user.0]),
            key_text(self.item.1, row[self.item.0]),
        )
    }
}

/// The text form of a raw value of `column` (category name or number), as
/// users type it in requests.
fn key_text(c: &ColumnSpec, v: f32) -> String {
    match c.kind {
        ColumnType::Category => c
            .values
            .as_ref()
            .and_then(|vals| vals.get(v as usize))
            .cloned()
            .unwrap_or_else(|| indus_data::OTHER.to_string()),
        _ => format!("{v}"),
    }
}

impl ItemCatalog {
    /// Collects users, items and seen pairs from the training rows. Every
    /// feature column must belong to the user (its id or a column of a
    /// table joined on it) or to the item; a context column such as a
    /// timestamp has no value for an item the user never met.
    pub fn build(
        plugin: &PluginManifest,
        head: &HeadSpec,
        lookups: &[LookupTable],
        train: &RawTable,
    ) -> Result<ItemCatalog, RuntimeError> {
        let (Some(user_column), Some(item_column)) = (&head.user, &head.item) else {
            return Err(RuntimeError::Invalid(format!(
                "head `{}` names no user and item columns",
                head.name
            )));
        };
        let owner_of = |name: &str| -> Option<bool> {
            if name == user_column {
                return Some(true);
            }
            if name == item_column {
                return Some(false);
            }
            lookups
                .iter()
                .find(|t| t.columns().iter().any(|c| c == name))
                .and_then(|t| {
                    if &t.on == user_column {
                        Some(true)
                    } else if &t.on == item_column {
                        Some(false)
                    } else {
                        None
                    }
                })
        };
        let pair = PairKeys::new(plugin, head)?;
        let (mut user_positions, mut item_positions) = (Vec::new(), Vec::new());
        let mut at = 0;
        for c in feature_columns(plugin) {
            let positions = at..at + c.width();
            match owner_of(&c.name) {
                Some(true) => user_positions.extend(positions),
                Some(false) => item_positions.extend(positions),
                None => {
                    return Err(RuntimeError::Invalid(format!(
                        "plugin `{}`: feature `{}` belongs to neither the user (`{user_column}`) nor the item (`{item_column}`); a recommender ranks items for a user, so every feature must come from one of them (the id or a table joined on it)",
                        plugin.name, c.name
                    )));
                }
            }
            at += c.width();
        }
        let mut catalog = ItemCatalog {
            user_column: user_column.clone(),
            item_column: item_column.clone(),
            user_positions,
            item_positions,
            width: train.width,
            users: BTreeMap::new(),
            items: BTreeMap::new(),
            seen: BTreeMap::new(),
            item_ratings: BTreeMap::new(),
            min_item_ratings: head.min_item_ratings.map_or(1, |c| c.get()),
        };
        for row in train.features.chunks_exact(train.width.max(1)) {
            let (user, item) = pair.keys(row);
            let pick = |positions: &[usize]| positions.iter().map(|&p| row[p]).collect();
            catalog
                .users
                .entry(user.clone())
                .or_insert_with(|| pick(&catalog.user_positions));
            catalog
                .items
                .entry(item.clone())
                .or_insert_with(|| pick(&catalog.item_positions));
            *catalog.item_ratings.entry(item.clone()).or_default() += 1;
            catalog.seen.entry(user).or_default().insert(item);
        }
        Ok(catalog)
    }

    /// Number of known users and of items that can be recommended.
    pub fn sizes(&self) -> (usize, usize) {
        (self.users.len(), self.recommendable().count())
    }

    /// The items with enough training ratings, with their raw values.
    fn recommendable(&self) -> impl Iterator<Item = (&String, &Vec<f32>)> {
        self.items.iter().filter(|(item, _)| {
            self.item_ratings.get(*item).copied().unwrap_or(0) >= self.min_item_ratings
        })
    }

    /// The least number of training ratings an item needs to be listed.
    pub fn min_item_ratings(&self) -> usize {
        self.min_item_ratings
    }

    /// Items the user rated in training.
    pub fn seen(&self, user: &str) -> usize {
        self.seen.get(user).map_or(0, BTreeSet::len)
    }

    /// Input rows pairing `user` with every known item they have not rated
    /// in training, and those items' keys in the same order.
    pub fn candidates(&self, user: &str) -> Result<(RawTable, Vec<String>), RuntimeError> {
        let profile = self.users.get(user).ok_or_else(|| {
            RuntimeError::NotFound(format!(
                "user `{user}` is not among the {} users seen in training; recommendations need a user the model has learned",
                self.users.len()
            ))
        })?;
        let seen = self.seen.get(user);
        let mut features = Vec::with_capacity(self.items.len() * self.width);
        let mut keys = Vec::with_capacity(self.items.len());
        let mut row = vec![0.0f32; self.width];
        for (p, v) in self.user_positions.iter().zip(profile) {
            row[*p] = *v;
        }
        for (item, values) in self.recommendable() {
            if seen.is_some_and(|s| s.contains(item)) {
                continue;
            }
            for (p, v) in self.item_positions.iter().zip(values) {
                row[*p] = *v;
            }
            features.extend_from_slice(&row);
            keys.push(item.clone());
        }
        Ok((
            RawTable {
                features,
                width: self.width,
                ..Default::default()
            },
            keys,
        ))
    }
}

/// One recommended item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// 1-based position in the list.
    pub rank: usize,
    /// The item's key, as in the item column.
    pub item: String,
    /// The predicted rating.
    pub rating: f32,
    /// Probability that the user likes the item (rating at or above the
    /// head's `liked_at`), calibrated on held-out rows.
    pub liked_probability: f32,
}

/// Indices of the `k` largest scores, best first (ties: lower index first).
pub fn top_indices(scores: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order.truncate(k);
    order
}

/// List length of the top-k evaluation.
const TOP_K: usize = 10;

/// HR@10, NDCG@10 and recall@10 over the test users: each user's list
/// ranks every item known from training that the user did not rate in
/// training; the relevant items are the user's test items rated at or
/// above `liked_at`.
pub(crate) fn evaluate_top_k(
    plugin: &indus_spec::PluginManifest,
    catalog: &ItemCatalog,
    model: &TrainedModel,
    decision: RatingDecision,
    test: &RawTable,
) -> Result<TopKMetrics, RuntimeError> {
    let pair = PairKeys::new(plugin, primary_head(plugin))?;
    let truth = test.values.as_deref().unwrap_or_default();
    let mut liked: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (r, row) in test.features.chunks_exact(test.width.max(1)).enumerate() {
        if truth
            .get(r)
            .is_some_and(|&t| f64::from(t) >= decision.liked_at)
        {
            let (user, item) = pair.keys(row);
            liked.entry(user).or_default().push(item);
        }
    }
    let (mut lists, mut relevant) = (Vec::new(), Vec::new());
    for (user, items) in liked {
        let Ok((rows, keys)) = catalog.candidates(&user) else {
            continue; // a user never seen in training has no profile
        };
        let scores = model
            .predictor
            .predict(&model.preprocessor.transform(&rows))?;
        let top: Vec<String> = top_indices(&scores, TOP_K)
            .into_iter()
            .map(|i| keys[i].clone())
            .collect();
        lists.push(top);
        relevant.push(items);
    }
    let (_, items) = catalog.sizes();
    Ok(top_k_metrics(
        &lists,
        &relevant,
        TOP_K,
        &format!(
            "for each test user with a test rating >= {}: rank all {items} items with at least {} training ratings, minus those the user rated in training; relevant = the user's test items rated >= {}",
            decision.liked_at,
            catalog.min_item_ratings(),
            decision.liked_at
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use indus_spec::parse_plugin;
    use std::path::Path;

    fn plugin(extra: &str) -> PluginManifest {
        parse_plugin(
            Path::new("p.yaml"),
            &format!("name: p\nindustry: t\ndescription: t\ndata:\n  source: {{format: csv, dataset: p, files: {{train: {{name: t.csv}}}}}}\n  columns:\n    - {{name: user, type: integer, role: feature, encoding: embedding, embedding_dim: 4}}\n    - {{name: item, type: integer, role: feature, encoding: embedding, embedding_dim: 4}}\n{extra}    - {{name: r, type: number, role: target}}\nheads:\n  - {{name: r, task: user_item, target: r, user: user, item: item, liked_at: 4}}\n"),
        )
        .unwrap()
    }

    #[test]
    fn candidates_skip_seen_items_and_carry_each_side() {
        let p = plugin("");
        let train = RawTable {
            features: vec![1.0, 10.0, 1.0, 11.0, 2.0, 12.0],
            width: 2,
            ..Default::default()
        };
        let c = ItemCatalog::build(&p, &p.heads[0], &[], &train).unwrap();
        assert_eq!(c.sizes(), (2, 3));
        let mut strict = p.clone();
        strict.heads[0].min_item_ratings = Some(indus_spec::Count::try_from(2).unwrap());
        let train2 = RawTable {
            features: vec![1.0, 10.0, 2.0, 10.0, 2.0, 12.0, 3.0, 11.0],
            width: 2,
            ..Default::default()
        };
        let c2 = ItemCatalog::build(&strict, &strict.heads[0], &[], &train2).unwrap();
        // Only item 10 has two ratings; user 3 has not rated it.
        assert_eq!(c2.candidates("3").unwrap().1, ["10"]);
        let (rows, keys) = c.candidates("1").unwrap();
        assert_eq!(keys, ["12"]);
        assert_eq!(rows.features, [1.0, 12.0]);
        let (_, keys) = c.candidates("2").unwrap();
        assert_eq!(keys, ["10", "11"]);
        let err = c.candidates("3").unwrap_err().to_string();
        assert!(err.contains("user `3`"), "{err}");
    }

    #[test]
    fn a_context_feature_is_refused_with_its_name() {
        let p = plugin("    - {name: hour, type: number, role: feature}\n");
        let train = RawTable {
            features: vec![1.0, 10.0, 7.0],
            width: 3,
            ..Default::default()
        };
        let err = ItemCatalog::build(&p, &p.heads[0], &[], &train)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`hour`"), "{err}");
    }

    #[test]
    fn top_indices_are_best_first() {
        assert_eq!(top_indices(&[0.1, 0.9, 0.5, 0.9], 3), [1, 3, 2]);
    }
}
