//! Loading a plugin's own data set (train and official test split) and
//! carving a validation split out of the training rows.

use crate::DataError;
use crate::fetch::{DataFile, DataLocations, fetch, locate_folder};
use crate::folder::read_class_folders;
use crate::idx::{IdxArray, parse_idx};
use crate::join::LookupTable;
use crate::npz::read_npz_array;
use crate::rows::{CsvLayout, RowFormat, rows_from_csv, rows_from_parquet, undeclared_note};
use crate::table::{RawTable, image_column, primary_head};
use indus_spec::{PluginManifest, SourceFormat, TextEncoding};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// The train and (when the data set has one) official test tables, plus the
/// files they came from.
#[derive(Debug)]
pub struct LoadedData {
    /// Training rows (validation and, without an official test file, the
    /// test split are carved from these by the scenario).
    pub train: RawTable,
    /// The data set's official test split, if it ships one.
    pub test: Option<RawTable>,
    /// The data set's official validation split, if it ships one.
    pub validation: Option<RawTable>,
    /// Files read with their digests, for the run's provenance record.
    pub files: Vec<DataFile>,
    /// Lookup tables joined onto the rows, kept for serving.
    pub lookups: Vec<LookupTable>,
    /// Rows left out for a missing value in a `missing: drop` column
    /// (training, test and validation together).
    pub dropped_rows: usize,
    /// Rows left out under `data.on_bad_rows: skip` (every split
    /// together), with the first reasons.
    pub skipped_rows: crate::table::SkippedRows,
    /// Things about the files worth telling the user that do not stop the
    /// run, e.g. undeclared columns read past.
    pub notes: Vec<String>,
}

/// Row caps for quick experiments and tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Keep at most this many training rows.
    pub train: Option<usize>,
    /// Keep at most this many test rows.
    pub test: Option<usize>,
}

/// Loads the plugin's data set from the data directory, the plugin's own
/// folder, the cache or a mirror.
pub fn load_dataset(
    manifest: &PluginManifest,
    locations: &DataLocations,
    limits: Limits,
) -> Result<LoadedData, DataError> {
    let mut files = Vec::new();
    let mut notes = Vec::new();
    let lookups = load_lookups(manifest, locations, &mut files)?;
    let train = load_split(
        manifest,
        locations,
        Split::Train,
        limits.train,
        &mut files,
        &mut notes,
        &lookups,
    )?
    .ok_or_else(|| missing_role(manifest, "train"))?;
    let test = load_split(
        manifest,
        locations,
        Split::Test,
        limits.test,
        &mut files,
        &mut notes,
        &lookups,
    )?;
    let validation = load_split(
        manifest,
        locations,
        Split::Validation,
        None,
        &mut files,
        &mut notes,
        &lookups,
    )?;
    let (mut train, mut test, mut validation) = (train, test, validation);
    let mut skipped_rows = std::mem::take(&mut train.skipped);
    for t in [test.as_mut(), validation.as_mut()].into_iter().flatten() {
        skipped_rows.merge(std::mem::take(&mut t.skipped));
    }
    let mut dropped_rows = crate::table::drop_missing(manifest, &mut train);
    for t in [test.as_mut(), validation.as_mut()].into_iter().flatten() {
        dropped_rows += crate::table::drop_missing(manifest, t);
    }
    Ok(LoadedData {
        train,
        test,
        validation,
        files,
        lookups,
        dropped_rows,
        skipped_rows,
        notes,
    })
}

/// The CSV layout of a plugin's files.
pub fn csv_layout(manifest: &PluginManifest) -> Result<CsvLayout, DataError> {
    let source = &manifest.data.source;
    let delimiter = u8::try_from(source.delimiter).map_err(|_| DataError::Schema {
        source_name: format!("plugin `{}`", manifest.name),
        message: format!(
            "data.source.delimiter `{}` is not a single-byte character",
            source.delimiter
        ),
    })?;
    Ok(CsvLayout {
        delimiter,
        header: source.header,
        latin1: source.encoding == TextEncoding::Latin1,
        decimal_comma: source.decimal_comma,
    })
}

/// Reads and indexes every table in `data.source.joins`.
fn load_lookups(
    manifest: &PluginManifest,
    locations: &DataLocations,
    files: &mut Vec<DataFile>,
) -> Result<Vec<LookupTable>, DataError> {
    let source = &manifest.data.source;
    if source.joins.is_empty() {
        return Ok(Vec::new());
    }
    let layout = csv_layout(manifest)?;
    let mut tables = Vec::new();
    for join in &source.joins {
        let file = fetch(locations, source, &join.file)?;
        files.push(file.record());
        tables.push(LookupTable::parse(
            &join.file,
            &join.on,
            &file.path.display().to_string(),
            file.content()?.into_owned(),
            layout,
        )?);
    }
    Ok(tables)
}

/// Loads only the official test split (for `eval`, without touching the
/// training files).
pub fn load_test_split(
    manifest: &PluginManifest,
    locations: &DataLocations,
    limit: Option<usize>,
) -> Result<RawTable, DataError> {
    let lookups = load_lookups(manifest, locations, &mut Vec::new())?;
    load_split(
        manifest,
        locations,
        Split::Test,
        limit,
        &mut Vec::new(),
        &mut Vec::new(),
        &lookups,
    )?
    .ok_or_else(|| DataError::Schema {
        source_name: format!("plugin `{}`", manifest.name),
        message:
            "the data set has no official test file; evaluate on a file of your own with --input"
                .into(),
    })
}

fn missing_role(manifest: &PluginManifest, role: &str) -> DataError {
    DataError::Schema {
        source_name: format!("plugin `{}`", manifest.name),
        message: format!("data.source.files has no `{role}` entry"),
    }
}

#[derive(Clone, Copy)]
enum Split {
    Train,
    Validation,
    Test,
}

/// Whether the plugin's data set ships an official test split: what
/// [`load_dataset`] fills `test` from (an NPZ archive always has one).
pub fn has_official_test(manifest: &PluginManifest) -> bool {
    let files = &manifest.data.source.files;
    match manifest.data.source.format {
        SourceFormat::Idx => files.contains_key("test_images"),
        SourceFormat::Npz => true,
        SourceFormat::Csv | SourceFormat::Parquet | SourceFormat::ImageFolder => {
            files.contains_key("test")
        }
    }
}

fn load_split(
    manifest: &PluginManifest,
    locations: &DataLocations,
    split: Split,
    limit: Option<usize>,
    files: &mut Vec<DataFile>,
    notes: &mut Vec<String>,
    lookups: &[LookupTable],
) -> Result<Option<RawTable>, DataError> {
    let source = &manifest.data.source;
    let prefix = match split {
        Split::Train => "train",
        Split::Validation => "val",
        Split::Test => "test",
    };
    let mut table = match source.format {
        SourceFormat::Idx => {
            let (images, labels) = (format!("{prefix}_images"), format!("{prefix}_labels"));
            if !source.files.contains_key(&images) {
                return Ok(None);
            }
            load_idx_split(manifest, locations, &images, &labels, files)?
        }
        SourceFormat::Csv => {
            if !source.files.contains_key(prefix) {
                return Ok(None);
            }
            let file = fetch(locations, source, prefix)?;
            files.push(file.record());
            let layout = csv_layout(manifest)?;
            let table = if file.streamed() {
                read_streamed(manifest, &file.path, RowFormat::Csv, layout, lookups)?
            } else {
                rows_from_csv(
                    manifest,
                    &file.path.display().to_string(),
                    file.bytes,
                    layout,
                    true,
                    lookups,
                )?
            };
            notes.extend(undeclared_note(&file.path.display().to_string(), &table));
            table
        }
        SourceFormat::Parquet => {
            if !source.files.contains_key(prefix) {
                return Ok(None);
            }
            let file = fetch(locations, source, prefix)?;
            files.push(file.record());
            let table = if file.streamed() {
                read_streamed(
                    manifest,
                    &file.path,
                    RowFormat::Parquet,
                    csv_layout(manifest)?,
                    lookups,
                )?
            } else {
                rows_from_parquet(
                    manifest,
                    &file.path.display().to_string(),
                    file.bytes,
                    true,
                    lookups,
                )?
            };
            notes.extend(undeclared_note(&file.path.display().to_string(), &table));
            table
        }
        SourceFormat::ImageFolder => {
            if !source.files.contains_key(prefix) {
                return Ok(None);
            }
            let folder = locate_folder(locations, source, prefix)?;
            let rows = read_class_folders(manifest, &folder)?;
            notes.extend(rows.notes);
            files.push(DataFile {
                path: folder,
                sha256: None,
                declared: false,
            });
            rows.table
        }
        SourceFormat::Npz => {
            let file = fetch(locations, source, "archive")?;
            let image = single_image_column(manifest)?;
            let classes = primary_head(manifest).classes.as_ref().map_or(2, Vec::len);
            let bytes = file.content()?;
            let images = match read_npz_array(&file.path, &bytes, &format!("{prefix}_images")) {
                Err(_) if matches!(split, Split::Validation) => return Ok(None), // optional
                other => other?,
            };
            let labels = read_npz_array(&file.path, &bytes, &format!("{prefix}_labels"))?;
            let (images_at, labels_at) = (
                file.path.join(format!("{prefix}_images")),
                file.path.join(format!("{prefix}_labels")),
            );
            let table = images_with_labels(
                &images,
                &labels,
                image.width(),
                classes,
                &images_at,
                &labels_at,
            )?;
            if !files.iter().any(|f| f.path == file.path) {
                files.push(file.record());
            }
            table
        }
    };
    if let Some(n) = limit {
        table.truncate(n);
    }
    Ok(Some(table))
}

/// A large training file read in batches into one table: only the rows
/// are held, never the file's bytes or its text.
fn read_streamed(
    manifest: &PluginManifest,
    path: &std::path::Path,
    format: RowFormat,
    layout: CsvLayout,
    lookups: &[LookupTable],
) -> Result<RawTable, DataError> {
    crate::batches::read_batched(
        manifest,
        path,
        format,
        layout,
        true,
        lookups,
        crate::batches::DEFAULT_BATCH_ROWS,
        crate::batches::Streaming::Always,
    )
}

/// The image column, or an error for a plugin that reads rows.
pub(crate) fn single_image_column(
    manifest: &PluginManifest,
) -> Result<&indus_spec::ColumnSpec, DataError> {
    image_column(manifest).ok_or_else(|| DataError::Schema {
        source_name: format!("plugin `{}`", manifest.name),
        message:
            "image data (IDX, NPZ, image files) needs exactly one feature column, of `type: image`"
                .into(),
    })
}

fn load_idx_split(
    manifest: &PluginManifest,
    locations: &DataLocations,
    images: &str,
    labels: &str,
    files: &mut Vec<DataFile>,
) -> Result<RawTable, DataError> {
    let image = single_image_column(manifest)?;
    let classes = primary_head(manifest)
        .classes
        .as_ref()
        .map(Vec::len)
        .unwrap_or(0);
    let source = &manifest.data.source;
    let img = fetch(locations, source, images)?;
    let lab = fetch(locations, source, labels)?;
    let img_arr = parse_idx(&img.path, &img.content()?)?;
    let lab_arr = parse_idx(&lab.path, &lab.content()?)?;
    let table = images_with_labels(
        &img_arr,
        &lab_arr,
        image.width(),
        classes,
        &img.path,
        &lab.path,
    )?;
    files.push(img.record());
    files.push(lab.record());
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
        ..Default::default()
    })
}

/// Splits off a share of `table` (validation or test rows), stratified by
/// label when labels exist, reproducibly for a given seed. Returns
/// `(rest, held_out)`; with no share the table is handed back untouched.
pub fn stratified_split(
    table: RawTable,
    fraction: f64,
    seed: u64,
    units: &DealUnits,
) -> (RawTable, Option<RawTable>) {
    if fraction <= 0.0 || table.len() < 2 {
        return (table, None);
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5EED_5A1D);
    let (mut rest, mut held) = (Vec::new(), Vec::new());
    let (all, groups) = label_units(&table, units);
    for mut group in groups {
        group.shuffle(&mut rng);
        let rows: usize = group.iter().map(|&u| all.len_of(u)).sum();
        let n_held = ((rows as f64) * fraction).round() as usize;
        // Whole units go to the test side until it holds its share, and
        // the training side keeps at least one.
        let mut taken = 0;
        for (k, &unit) in group.iter().enumerate() {
            if taken < n_held && k + 1 < group.len() {
                taken += all.len_of(unit);
                held.extend(all.rows_of(unit));
            } else {
                rest.extend(all.rows_of(unit));
            }
        }
    }
    rest.sort_unstable();
    held.sort_unstable();
    let held = (!held.is_empty()).then(|| table.select(&held));
    (table.select(&rest), held)
}

/// Assigns every row to one of `k` folds, stratified by label and
/// reproducible for a seed, with rows that repeat each other's feature
/// cells in one fold. Returns the row indices of each fold.
pub fn stratified_folds(
    table: &RawTable,
    k: usize,
    seed: u64,
    units: &DealUnits,
) -> Vec<Vec<usize>> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xF01D_5EED);
    let k = k.max(1);
    let mut folds = vec![Vec::new(); k];
    let mut next = 0;
    let (all, groups) = label_units(table, units);
    for mut group in groups {
        group.shuffle(&mut rng);
        for unit in group {
            folds[next % k].extend(all.rows_of(unit));
            next += 1;
        }
    }
    for f in &mut folds {
        f.sort_unstable();
    }
    folds
}

/// What rows are dealt together into splits and folds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DealUnits {
    /// Copies of a row (equal feature cells) with the same label: a test
    /// row the model trained on flatters the metrics. Copies with
    /// different labels stay apart: such a pair makes a test harder, not
    /// easier, and keeping them apart leaves the deal of a table without
    /// same-label copies exactly as it was.
    SameRows,
    /// Every row with one value of the plugin's `data.group_by` column, at
    /// this offset of a raw row, whatever its label.
    FeatureColumn(usize),
    /// Every row with one id (`data.group_by` names the id column).
    Ids,
}

impl DealUnits {
    /// The plugin's choice: its `data.group_by` column, else same rows.
    pub fn of(manifest: &PluginManifest) -> DealUnits {
        let Some(name) = &manifest.data.group_by else {
            return DealUnits::SameRows;
        };
        let mut at = 0;
        for c in crate::table::feature_columns(manifest) {
            if &c.name == name {
                return DealUnits::FeatureColumn(at);
            }
            at += c.width();
        }
        DealUnits::Ids
    }
}

/// The rows dealt together, as one flat list: unit `u` is
/// `rows[starts[u]..starts[u + 1]]`, in row order (8 bytes a row and a
/// unit, so a table of millions of rows is split without a list per row).
struct Units {
    starts: Vec<u32>,
    rows: Vec<u32>,
}

impl Units {
    fn rows_of(&self, unit: u32) -> impl Iterator<Item = usize> + '_ {
        let (a, b) = (self.starts[unit as usize], self.starts[unit as usize + 1]);
        self.rows[a as usize..b as usize]
            .iter()
            .map(|&r| r as usize)
    }

    fn len_of(&self, unit: u32) -> usize {
        (self.starts[unit as usize + 1] - self.starts[unit as usize]) as usize
    }
}

/// The units rows are dealt in, and their ids grouped by label (one group
/// when there are no labels; a unit spanning labels goes with its first
/// row's), each group in the order of its units' first rows. Without any
/// rows to bundle every unit is one row, in row order, and the deal is the
/// one of single rows.
fn label_units(table: &RawTable, by: &DealUnits) -> (Units, Vec<Vec<u32>>) {
    let hasher = crate::quality::RowHasher::all();
    let label = |i: usize| table.labels.as_ref().map_or(0, |l| l[i]);
    let key = |i: usize| -> (u32, u64) {
        match by {
            DealUnits::SameRows => (label(i), hasher.hash(table, i)),
            DealUnits::FeatureColumn(at) => {
                (0, u64::from(table.features[i * table.width + at].to_bits()))
            }
            DealUnits::Ids => {
                let id = table.ids.as_ref().map_or("", |ids| ids[i].as_str());
                (0, crate::quality::text_hash(id))
            }
        }
    };
    let n = table.len();
    let mut unit_of = Vec::with_capacity(n);
    let mut groups: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
    let mut sizes: Vec<u32> = Vec::new();
    {
        let mut at: std::collections::HashMap<(u32, u64), u32> = Default::default();
        for i in 0..n {
            let unit = *at.entry(key(i)).or_insert_with(|| {
                let u = sizes.len() as u32;
                sizes.push(0);
                groups.entry(label(i)).or_default().push(u);
                u
            });
            sizes[unit as usize] += 1;
            unit_of.push(unit);
        }
    }
    let mut starts = Vec::with_capacity(sizes.len() + 1);
    let mut next = 0u32;
    starts.push(0);
    for s in &sizes {
        next += s;
        starts.push(next);
    }
    let mut fill: Vec<u32> = starts[..sizes.len()].to_vec();
    let mut rows = vec![0u32; n];
    for (i, &u) in unit_of.iter().enumerate() {
        rows[fill[u as usize] as usize] = i as u32;
        fill[u as usize] += 1;
    }
    (Units { starts, rows }, groups.into_values().collect())
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
            ..Default::default()
        };
        let (train, val) = stratified_split(table.clone(), 0.2, 7, &DealUnits::SameRows);
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
        assert_eq!(
            stratified_split(table.clone(), 0.2, 7, &DealUnits::SameRows)
                .1
                .unwrap(),
            val
        );
        assert_ne!(
            stratified_split(table, 0.2, 8, &DealUnits::SameRows)
                .1
                .unwrap(),
            val
        );
    }

    #[test]
    fn copies_of_a_row_stay_on_one_side_of_every_split_and_fold() {
        // 60 rows, each value twice (rows i and i + 30), half of them a
        // third time: a random deal would put most pairs on both sides.
        let mut values: Vec<f32> = (0..30).chain(0..30).map(|i| i as f32).collect();
        values.extend((0..15).map(|i| i as f32));
        let labels: Vec<u32> = values
            .iter()
            .map(|&v| u32::from((v as u32).is_multiple_of(3)))
            .collect();
        let table = RawTable {
            features: values.clone(),
            width: 1,
            labels: Some(labels),
            ..Default::default()
        };
        let sides = |rows: &[f32], other: &[f32]| rows.iter().filter(|v| other.contains(v)).count();
        for seed in 0..5 {
            let (train, test) = stratified_split(table.clone(), 0.2, seed, &DealUnits::SameRows);
            let test = test.unwrap();
            assert_eq!(sides(&test.features, &train.features), 0, "seed {seed}");
            assert_eq!(train.len() + test.len(), 75);
            assert!((12..=20).contains(&test.len()), "{}", test.len());
            let folds = stratified_folds(&table, 5, seed, &DealUnits::SameRows);
            assert_eq!(folds.iter().map(Vec::len).sum::<usize>(), 75);
            for (f, rows) in folds.iter().enumerate() {
                let inside: Vec<f32> = rows.iter().map(|&r| values[r]).collect();
                let outside: Vec<f32> = (0..75)
                    .filter(|r| !rows.contains(r))
                    .map(|r| values[r])
                    .collect();
                assert_eq!(sides(&inside, &outside), 0, "seed {seed}, fold {f}");
            }
        }
    }

    #[test]
    fn rows_of_one_group_by_value_stay_on_one_side_whatever_their_labels() {
        // 20 patients with 3 scans each, labels varying within a patient.
        let ids: Vec<String> = (0..60).map(|i| format!("p{}", i / 3)).collect();
        let table = RawTable {
            features: (0..60).map(|i| (i / 3) as f32 + 0.5).collect(),
            width: 1,
            labels: Some((0..60).map(|i| u32::from(i % 2 == 0)).collect()),
            ids: Some(ids.clone()),
            ..Default::default()
        };
        let patients = |t: &RawTable| -> std::collections::HashSet<String> {
            t.ids.clone().unwrap().into_iter().collect()
        };
        for by in [DealUnits::Ids, DealUnits::FeatureColumn(0)] {
            for seed in 0..5 {
                let (train, test) = stratified_split(table.clone(), 0.25, seed, &by);
                let test = test.unwrap();
                assert!(
                    patients(&train).is_disjoint(&patients(&test)),
                    "{by:?} seed {seed}"
                );
                assert_eq!(train.len() + test.len(), 60);
                for fold in stratified_folds(&table, 4, seed, &by) {
                    let inside: std::collections::HashSet<&String> =
                        fold.iter().map(|&r| &ids[r]).collect();
                    assert_eq!(fold.len(), 3 * inside.len(), "{by:?}: whole patients only");
                }
            }
        }
    }

    #[test]
    fn folds_cover_every_row_once_with_balanced_labels() {
        let labels: Vec<u32> = (0..50).map(|i| u32::from(i % 5 == 0)).collect();
        let table = RawTable {
            features: (0..50).map(|i| i as f32).collect(),
            width: 1,
            labels: Some(labels),
            ids: None,
            ..Default::default()
        };
        let folds = stratified_folds(&table, 5, 1, &DealUnits::SameRows);
        let mut all: Vec<usize> = folds.concat();
        all.sort_unstable();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
        for f in &folds {
            assert_eq!(f.len(), 10);
            assert_eq!(
                f.iter().filter(|&&i| i % 5 == 0).count(),
                2,
                "each fold keeps the 20 % positives"
            );
        }
        assert_eq!(stratified_folds(&table, 5, 1, &DealUnits::SameRows), folds);
    }
}
