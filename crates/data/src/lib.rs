//! The data layer of indus: finding and verifying data files, reading them
//! into tables checked against a plugin's schema, splitting, and the
//! preprocessing that is fitted on training rows and saved with the model.

#![warn(missing_docs)]

mod batches;
mod dataset;
mod error;
mod fetch;
mod folder;
pub mod idx;
mod join;
mod npz;
mod preprocess;
mod profile;
mod quality;
mod rows;
mod table;

pub use batches::{DEFAULT_BATCH_ROWS, RowBatches, STREAM_ABOVE_BYTES, Streaming, read_batched};
pub use dataset::{
    DealUnits, Limits, LoadedData, csv_layout, has_official_test, images_with_labels, load_dataset,
    load_test_split, stratified_folds, stratified_split,
};
pub use error::DataError;
pub use fetch::{DataFile, DataLocations, FetchedFile, fetch, locate_folder, sha256_hex};
pub use folder::{
    FolderRows, MAX_IMAGE_PIXELS, image_bytes_row, image_dimensions, read_class_folders,
    read_images,
};
pub use join::{LookupTable, fill_json_rows};
pub use npz::read_npz_array;
pub use preprocess::{EmbeddingSlot, FittedColumn, ImageSlot, OTHER, Preprocessor};
pub use profile::{
    ColumnProfile, Content, NumberStats, TableProfile, profile_csv, profile_parquet,
};
pub use quality::{
    ConstantColumn, DataQuality, LEAKAGE_AUC, LEAKAGE_CLASS_SHARE, LEAKAGE_CORRELATION,
    LEAKAGE_COVERAGE, LEAKAGE_PURITY, LeakageSuspect, NEAR_CONSTANT_SHARE, QUALITY_SAMPLE_ROWS,
    RowHasher, assess, rows_seen, sorted_hashes,
};
pub use rows::{
    CsvLayout, RowFormat, class_index, csv_input_rows, head_classes, input_layout, json_rows,
    numeric_target, read_input_rows, rows_from_csv, rows_from_json, rows_from_parquet,
    target_classes, undeclared_note,
};
pub use table::{
    HeadTargets, RawTable, SkippedRows, drop_missing, feature_columns, image_column, primary_head,
    raw_width, rows_missing_required,
};
