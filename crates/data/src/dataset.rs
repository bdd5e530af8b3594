//! Loading a plugin's own data set (train and official test split) and
//! carving a validation split out of the training rows.

use crate::DataError;
use crate::fetch::{DataLocations, fetch};
use crate::idx::{IdxArray, parse_idx};
use crate::table::{RawTable, feature_columns, primary_head};
use indus_spec::{ColumnType, PluginManifest, SourceFormat};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::path::PathBuf;

/// The train and test tables of a data set, plus the files they came from.
#[derive(Debug)]
pub struct LoadedData {
    /// Training rows (validation is split from these later).
    pub train: RawTable,
    /// The held-out test rows (the data set's official test split).
    pub test: RawTable,
    /// Files read, for the run's provenance record.
    pub files: Vec<PathBuf>,
}

/// Row caps for quick experiments and tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Keep at most this many training rows.
    pub train: Option<usize>,
    /// Keep at most this many test rows.
    pub test: Option<usize>,
}

/// Loads the plugin's data set from the data directory, the cache or a mirror.
pub fn load_dataset(
    manifest: &PluginManifest,
    locations: &DataLocations,
    limits: Limits,
) -> Result<LoadedData, DataError> {
    let mut files = Vec::new();
    let train = load_split(manifest, locations, Split::Train, limits.train, &mut files)?;
    let test = load_split(manifest, locations, Split::Test, limits.test, &mut files)?;
    Ok(LoadedData { train, test, files })
}

/// Loads only the official test split (for `eval`, without touching the
/// training files).
pub fn load_test_split(
    manifest: &PluginManifest,
    locations: &DataLocations,
    limit: Option<usize>,
) -> Result<RawTable, DataError> {
    load_split(manifest, locations, Split::Test, limit, &mut Vec::new())
}

#[derive(Clone, Copy)]
enum Split {
    Train,
    Test,
}

fn load_split(
    manifest: &PluginManifest,
    locations: &DataLocations,
    split: Split,
    limit: Option<usize>,
    files: &mut Vec<PathBuf>,
) -> Result<RawTable, DataError> {
    match manifest.data.source.format {
        SourceFormat::Idx => {
            let (images, labels) = match split {
                Split::Train => ("train_images", "train_labels"),
                Split::Test => ("test_images", "test_labels"),
            };
            load_idx_split(manifest, locations, images, labels, limit, files)
        }
    }
}

fn load_idx_split(
    manifest: &PluginManifest,
    locations: &DataLocations,
    images: &str,
    labels: &str,
    limit: Option<usize>,
    files: &mut Vec<PathBuf>,
) -> Result<RawTable, DataError> {
    let features = feature_columns(manifest);
    let image = match features.as_slice() {
        [c] if c.kind == ColumnType::Image => *c,
        _ => {
            return Err(DataError::Schema {
                source_name: format!("plugin `{}`", manifest.name),
                message: "an IDX data source needs exactly one feature column, of `type: image`"
                    .into(),
            });
        }
    };
    let classes = primary_head(manifest)
        .classes
        .as_ref()
        .map(Vec::len)
        .unwrap_or(0);
    let source = &manifest.data.source;
    let img = fetch(locations, source, images)?;
    let lab = fetch(locations, source, labels)?;
    let img_arr = parse_idx(&img.path, &img.bytes)?;
    let lab_arr = parse_idx(&lab.path, &lab.bytes)?;
    let mut table = images_with_labels(
        &img_arr,
        &lab_arr,
        image.width(),
        classes,
        &img.path,
        &lab.path,
    )?;
    files.push(img.path);
    files.push(lab.path);
    if let Some(n) = limit {
        table.truncate(n);
    }
    Ok(table)
}

/// Pairs an IDX image array with its label array, checking counts, image
/// size and label range.
pub fn images_with_labels(
    images: &IdxArray,
    labels: &IdxArray,
    width: usize,
    classes: usize,
    image_path: &std::path::Path,
    label_path: &std::path::Path,
) -> Result<RawTable, DataError> {
    if images.item_len() != width {
        return Err(DataError::Corrupt {
            file: image_path.to_path_buf(),
            message: format!(
                "images have {} pixels each, the plugin's schema expects {width}",
                images.item_len()
            ),
        });
    }
    if images.count() != labels.count() {
        return Err(DataError::Corrupt {
            file: image_path.to_path_buf(),
            message: format!(
                "holds {} images but {} holds {} labels; they must match one to one",
                images.count(),
                label_path.display(),
                labels.count()
            ),
        });
    }
    if labels.item_len() != 1 {
        return Err(DataError::Corrupt {
            file: label_path.to_path_buf(),
            message: "a label file must be one-dimensional".into(),
        });
    }
    if let Some((row, &bad)) = labels
        .data
        .iter()
        .enumerate()
        .find(|&(_, &l)| classes > 0 && l as usize >= classes)
    {
        return Err(DataError::row(
            &label_path.display().to_string(),
            row + 1,
            None,
            format!("label {bad} is outside the {classes} declared classes"),
        ));
    }
    Ok(RawTable {
        features: images.data.iter().map(|&p| p as f32).collect(),
        width,
        labels: Some(labels.data.iter().map(|&l| l as u32).collect()),
        ids: None,
    })
}

/// Splits off a validation share of `table`, stratified by label when labels
/// exist, reproducibly for a given seed. Returns `(train, validation)`; with
/// no validation share the table is handed back untouched (no copy).
pub fn split_validation(table: RawTable, fraction: f64, seed: u64) -> (RawTable, Option<RawTable>) {
    if fraction <= 0.0 || table.len() < 2 {
        return (table, None);
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5EED_5A1D);
    let mut groups: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for i in 0..table.len() {
        let key = table.labels.as_ref().map_or(0, |l| l[i]);
        groups.entry(key).or_default().push(i);
    }
    let (mut train_idx, mut val_idx) = (Vec::new(), Vec::new());
    for (_, mut rows) in groups {
        rows.shuffle(&mut rng);
        let n_val = ((rows.len() as f64) * fraction).round() as usize;
        let n_val = n_val.min(rows.len().saturating_sub(1));
        val_idx.extend_from_slice(&rows[..n_val]);
        train_idx.extend_from_slice(&rows[n_val..]);
    }
    train_idx.sort_unstable();
    val_idx.sort_unstable();
    let val = (!val_idx.is_empty()).then(|| table.select(&val_idx));
    (table.select(&train_idx), val)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::encode_idx;
    use std::path::Path;

    #[test]
    fn count_mismatch_names_both_files() {
        let img = parse_idx(Path::new("i"), &encode_idx(&[3, 2, 2], &[0; 12])).unwrap();
        let lab = parse_idx(Path::new("l"), &encode_idx(&[2], &[0, 1])).unwrap();
        let err = images_with_labels(
            &img,
            &lab,
            4,
            10,
            Path::new("imgs.gz"),
            Path::new("labs.gz"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("imgs.gz") && err.contains("labs.gz") && err.contains("3 images"),
            "{err}"
        );
    }

    #[test]
    fn out_of_range_label_names_its_row() {
        let img = parse_idx(Path::new("i"), &encode_idx(&[2, 1], &[0, 0])).unwrap();
        let lab = parse_idx(Path::new("l"), &encode_idx(&[2], &[1, 12])).unwrap();
        let err = images_with_labels(&img, &lab, 1, 10, Path::new("i"), Path::new("labs"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 2") && err.contains("label 12"), "{err}");
    }

    #[test]
    fn validation_split_is_stratified_and_reproducible() {
        let labels: Vec<u32> = (0..100).map(|i| (i % 2) as u32).collect();
        let table = RawTable {
            features: (0..100).map(|i| i as f32).collect(),
            width: 1,
            labels: Some(labels),
            ids: None,
        };
        let (train, val) = split_validation(table.clone(), 0.2, 7);
        let val = val.unwrap();
        assert_eq!((train.len(), val.len()), (80, 20));
        assert_eq!(
            val.labels
                .as_ref()
                .unwrap()
                .iter()
                .filter(|&&l| l == 1)
                .count(),
            10
        );
        assert_eq!(split_validation(table.clone(), 0.2, 7).1.unwrap(), val);
        assert_ne!(split_validation(table, 0.2, 8).1.unwrap(), val);
    }
}
