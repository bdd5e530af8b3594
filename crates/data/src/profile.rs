//! What a CSV file's columns hold (numbers or text, how many distinct
//! values, how many empty cells), read without a schema, so that
//! `indus new plugin --from FILE` can propose one for a user's own data.

use crate::DataError;
use crate::rows::{CsvLayout, read_first_csv_rows};
use polars::prelude::*;
use std::collections::HashMap;

/// A file's layout and the content of each of its columns.
#[derive(Debug, Clone)]
pub struct TableProfile {
    /// Delimiter, encoding and decimal mark a CSV file was read with
    /// (`None` for Parquet, whose columns are typed).
    pub layout: Option<CsvLayout>,
    /// Data rows read (the header excluded).
    pub rows: usize,
    /// When the file has more rows than a profile reads
    /// ([`PROFILE_ROWS`]): about how many it has (counted by lines).
    pub sampled_from: Option<usize>,
    /// One entry per column, in file order.
    pub columns: Vec<ColumnProfile>,
}

/// One column: its name, its empty cells and what the other cells hold.
#[derive(Debug, Clone)]
pub struct ColumnProfile {
    /// The header's name for it.
    pub name: String,
    /// Empty (or blank) cells.
    pub missing: usize,
    /// What the non-empty cells hold.
    pub content: Content,
    /// A value of this column that marks exactly the rows of one target
    /// class, `(value, class)`: the column gives the answer away (a one-hot
    /// copy of the label, an outcome recorded after the fact).
    pub gives_away: Option<(String, String)>,
}

/// What the non-empty cells of a column hold.
#[derive(Debug, Clone)]
pub enum Content {
    /// Every cell is empty.
    Empty,
    /// Every non-empty cell is a finite number.
    Numbers(NumberStats),
    /// Some cell is not a number: the distinct texts with their counts,
    /// most frequent first (ties in text order).
    Text(Vec<(String, usize)>),
}

/// Summary of a numeric column.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberStats {
    /// Whether every value is a whole number.
    pub integer: bool,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Sample skewness (0 for a symmetric spread; large and positive for a
    /// long right tail such as amounts or counts).
    pub skewness: f64,
    /// Distinct values, with their counts, most frequent first (ties in
    /// ascending order).
    pub counts: Vec<(f64, usize)>,
    /// The values exactly as written in the file, in the order of
    /// `counts`, so a label like `1` or `2.0` is quoted as the file has it.
    pub written: Vec<String>,
    /// Texts that are not numbers but commonly stand for a missing value
    /// (`NA`, `?`, `null`, ...), with their counts: the column is numeric
    /// apart from them.
    pub markers: Vec<(String, usize)>,
}

/// Rows of a CSV file read for a profile: enough to see every common
/// value and the shape of every column, without holding a multi-gigabyte
/// export as text.
pub const PROFILE_ROWS: usize = 200_000;

/// Rows a class needs before a value that marks exactly its rows is
/// taken for a copy of the label.
const MARKED_ROWS: usize = 10;

/// Texts that exports write for "no value". A column that is numeric but
/// for them is reported as numbers with markers, so the user is told to
/// blank them rather than being handed a category of numbers.
const MISSING_MARKERS: &[&str] = &[
    "na", "n/a", "nan", "null", "none", "?", "-", "--", ".", "missing", "#n/a",
];

/// Reads a CSV file with every column as text and summarises each column.
/// The delimiter is taken from `delimiter` or guessed from the header
/// line; text that is not UTF-8 is read as Latin-1; with a delimiter other
/// than `,`, a file whose numbers are written `61,7` is read with decimal
/// commas.
pub fn profile_csv(
    source_name: &str,
    bytes: Vec<u8>,
    delimiter: Option<u8>,
    target: Option<&str>,
) -> Result<TableProfile, DataError> {
    let latin1 = std::str::from_utf8(&bytes).is_err();
    let delimiter = delimiter.unwrap_or_else(|| guess_delimiter(&bytes));
    let mut layout = CsvLayout {
        delimiter,
        header: true,
        latin1,
        decimal_comma: false,
    };
    let lines = bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .count();
    let frame = read_first_csv_rows(source_name, bytes, layout, PROFILE_ROWS)?;
    // A repeated header name was refused while reading.
    let texts = text_cells(&frame);
    layout.decimal_comma = delimiter != b',' && texts.iter().any(|(_, c)| has_decimal_commas(c));
    let mut profile = profile_texts(Some(layout), frame.height(), &texts, target);
    let data_lines = lines.saturating_sub(1);
    if frame.height() == PROFILE_ROWS && data_lines > PROFILE_ROWS {
        profile.sampled_from = Some(data_lines);
    }
    Ok(profile)
}

/// Reads a Parquet file, every column as text (as training reads it), and
/// summarises each column.
pub fn profile_parquet(
    source_name: &str,
    bytes: Vec<u8>,
    target: Option<&str>,
) -> Result<TableProfile, DataError> {
    let unreadable = |e: PolarsError| DataError::Schema {
        source_name: source_name.to_string(),
        message: format!("cannot read as Parquet: {e}"),
    };
    let frame = ParquetReader::new(std::io::Cursor::new(bytes))
        .finish()
        .map_err(unreadable)?;
    let columns = frame
        .columns()
        .iter()
        .map(|c| c.cast(&DataType::String))
        .collect::<Result<Vec<Column>, _>>()
        .map_err(unreadable)?;
    let frame = DataFrame::new_infer_height(columns).map_err(unreadable)?;
    Ok(profile_texts(
        None,
        frame.height(),
        &text_cells(&frame),
        target,
    ))
}

/// Every column's cells as trimmed text, empty cells as `None`.
fn text_cells(frame: &DataFrame) -> Vec<(String, Vec<Option<String>>)> {
    frame
        .columns()
        .iter()
        .map(|c| {
            let cells = c
                .as_materialized_series()
                .str()
                .map(|s| {
                    s.iter()
                        .map(|v| v.map(str::trim).filter(|v| !v.is_empty()).map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            (c.name().to_string(), cells)
        })
        .collect()
}

fn profile_texts(
    layout: Option<CsvLayout>,
    rows: usize,
    texts: &[(String, Vec<Option<String>>)],
    target: Option<&str>,
) -> TableProfile {
    let decimal_comma = layout.is_some_and(|l| l.decimal_comma);
    let labels = target.and_then(|t| texts.iter().find(|(name, _)| name == t));
    let columns = texts
        .iter()
        .map(|(name, cells)| {
            let mut column = profile_column(name, cells, decimal_comma);
            if let Some((label_name, label_cells)) = labels
                && label_name != name
            {
                column.gives_away = value_marking_a_class(cells, label_cells);
            }
            column
        })
        .collect();
    TableProfile {
        layout,
        rows,
        sampled_from: None,
        columns,
    }
}

/// The candidate delimiter (`,` `;` tab `|`) that occurs most often
/// outside quotes in the first line; `,` when none does.
fn guess_delimiter(bytes: &[u8]) -> u8 {
    let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0), (b'|', 0)];
    let mut quoted = false;
    for &b in first_line {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(slot) = counts.iter_mut().find(|(d, _)| *d == b) {
            slot.1 += 1;
        }
    }
    counts
        .iter()
        .max_by_key(|(d, n)| (*n, *d == b','))
        .filter(|(_, n)| *n > 0)
        .map_or(b',', |(d, _)| *d)
}

/// Whether a column's cells are numbers written with a decimal comma:
/// every cell is digits with at most one comma, and some cell has one.
fn has_decimal_commas(cells: &[Option<String>]) -> bool {
    let mut some_comma = false;
    for cell in cells.iter().flatten() {
        let digits = cell.strip_prefix(['-', '+']).unwrap_or(cell);
        let mut parts = digits.split(',');
        let whole = parts.next().unwrap_or_default();
        let fraction = parts.next();
        let ok = !whole.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && parts.next().is_none()
            && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return false;
        }
        some_comma |= fraction.is_some();
    }
    some_comma
}

fn profile_column(name: &str, cells: &[Option<String>], decimal_comma: bool) -> ColumnProfile {
    let missing = cells.iter().filter(|c| c.is_none()).count();
    let present: Vec<&str> = cells.iter().flatten().map(String::as_str).collect();
    let content = if present.is_empty() {
        Content::Empty
    } else {
        numbers(&present, decimal_comma)
            .map_or_else(|| Content::Text(text_counts(&present)), Content::Numbers)
    };
    ColumnProfile {
        name: name.to_string(),
        missing,
        content,
        gives_away: None,
    }
}

/// A value `v` and a class `c` such that a row holds `v` exactly when its
/// label is `c`, among a column of at most a few dozen values, for a class
/// of at least [`MARKED_ROWS`] rows (in a handful of rows any value marks
/// some class by chance).
fn value_marking_a_class(
    cells: &[Option<String>],
    labels: &[Option<String>],
) -> Option<(String, String)> {
    const FEW: usize = 30;
    let mut per_value: HashMap<&str, usize> = HashMap::new();
    let mut per_label: HashMap<&str, usize> = HashMap::new();
    let mut pairs: HashMap<(&str, &str), usize> = HashMap::new();
    for (cell, label) in cells.iter().zip(labels) {
        let (Some(cell), Some(label)) = (cell.as_deref(), label.as_deref()) else {
            continue;
        };
        *per_value.entry(cell).or_default() += 1;
        if per_value.len() > FEW {
            return None;
        }
        *per_label.entry(label).or_default() += 1;
        *pairs.entry((cell, label)).or_default() += 1;
    }
    if per_value.len() < 2 || per_label.len() < 2 {
        return None;
    }
    // The rarest such class names it best (`1` ⇔ `bad` rather than `0` ⇔ `good`).
    pairs
        .iter()
        .filter(|((v, l), n)| **n >= MARKED_ROWS && per_value[v] == **n && per_label[l] == **n)
        .map(|((v, l), n)| (*n, v.to_string(), l.to_string()))
        .min()
        .map(|(_, v, l)| (v, l))
}

/// The column's numbers, if every cell is a finite number or a missing
/// marker, and at least one is a number.
fn numbers(cells: &[&str], decimal_comma: bool) -> Option<NumberStats> {
    let mut values = Vec::with_capacity(cells.len());
    let mut written: HashMap<u64, &str> = HashMap::new();
    let mut markers: HashMap<&str, usize> = HashMap::new();
    for &cell in cells {
        let text = if decimal_comma {
            std::borrow::Cow::Owned(cell.replace(',', "."))
        } else {
            std::borrow::Cow::Borrowed(cell)
        };
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => {
                values.push(v);
                written.entry(v.to_bits()).or_insert(cell);
            }
            _ if MISSING_MARKERS.contains(&cell.to_ascii_lowercase().as_str()) => {
                *markers.entry(cell).or_default() += 1;
            }
            _ => return None,
        }
    }
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let (m2, m3) = values.iter().fold((0.0, 0.0), |(m2, m3), v| {
        let d = v - mean;
        (m2 + d * d / n, m3 + d * d * d / n)
    });
    let skewness = if m2 > 0.0 { m3 / m2.powf(1.5) } else { 0.0 };
    let mut by_value: HashMap<u64, usize> = HashMap::new();
    for v in &values {
        *by_value.entry(v.to_bits()).or_default() += 1;
    }
    let mut counts: Vec<(f64, usize)> = by_value
        .into_iter()
        .map(|(bits, n)| (f64::from_bits(bits), n))
        .collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.total_cmp(&b.0)));
    let written = counts
        .iter()
        .map(|(v, _)| {
            written
                .get(&v.to_bits())
                .copied()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let mut markers: Vec<(String, usize)> = markers
        .into_iter()
        .map(|(m, n)| (m.to_string(), n))
        .collect();
    markers.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Some(NumberStats {
        integer: values.iter().all(|v| v.fract() == 0.0),
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        skewness,
        counts,
        written,
        markers,
    })
}

fn text_counts(cells: &[&str]) -> Vec<(String, usize)> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for &cell in cells {
        *counts.entry(cell).or_default() += 1;
    }
    let mut counts: Vec<(String, usize)> = counts
        .into_iter()
        .map(|(text, n)| (text.to_string(), n))
        .collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(text: &str) -> TableProfile {
        profile_csv("test.csv", text.as_bytes().to_vec(), None, None).expect("profile")
    }

    #[test]
    fn numbers_texts_and_empty_cells_are_told_apart() {
        let p =
            profile("id,age,amount,city,note\n1,30,100.5,Oslo,\n2,,2000,Bergen,\n3,41,15,Oslo,\n");
        assert_eq!(p.rows, 3);
        assert_eq!(p.layout.unwrap().delimiter, b',');
        let age = &p.columns[1];
        assert_eq!(age.missing, 1);
        let Content::Numbers(s) = &age.content else {
            panic!("age: {:?}", age.content)
        };
        assert!(s.integer);
        assert_eq!((s.min, s.max), (30.0, 41.0));
        let Content::Numbers(amount) = &p.columns[2].content else {
            panic!("amount")
        };
        assert!(!amount.integer);
        assert!(
            amount.skewness > 0.5,
            "one large amount: {}",
            amount.skewness
        );
        let Content::Text(city) = &p.columns[3].content else {
            panic!("city")
        };
        assert_eq!(city, &[("Oslo".to_string(), 2), ("Bergen".to_string(), 1)]);
        assert!(matches!(p.columns[4].content, Content::Empty));
        assert_eq!(p.columns[4].missing, 3);
    }

    #[test]
    fn a_european_export_is_read_with_its_delimiter_encoding_and_decimal_comma() {
        let mut bytes = b"name;weight;size\n".to_vec();
        bytes.extend_from_slice(b"J\xf8rn;61,7;3\nAnna;70;4\n");
        let p = profile_csv("eu.csv", bytes, None, None).expect("profile");
        let layout = p.layout.unwrap();
        assert_eq!(layout.delimiter, b';');
        assert!(layout.latin1);
        assert!(layout.decimal_comma);
        let Content::Text(names) = &p.columns[0].content else {
            panic!("name")
        };
        assert!(names.iter().any(|(t, _)| t == "Jørn"));
        let Content::Numbers(weight) = &p.columns[1].content else {
            panic!("weight: {:?}", p.columns[1].content)
        };
        assert_eq!((weight.min, weight.max), (61.7, 70.0));
    }

    #[test]
    fn missing_markers_and_labels_keep_how_the_file_writes_them() {
        let p = profile("x,label\n1.5,1\n?,2\nNA,1\n2,1\n");
        let Content::Numbers(x) = &p.columns[0].content else {
            panic!("x")
        };
        assert_eq!(x.markers, [("?".to_string(), 1), ("NA".to_string(), 1)]);
        let Content::Numbers(label) = &p.columns[1].content else {
            panic!("label")
        };
        assert_eq!(label.written, ["1", "2"]);
        assert_eq!(label.counts, [(1.0, 3), (2.0, 1)]);
    }

    #[test]
    fn a_column_that_copies_one_class_of_the_target_is_found() {
        let mut text = String::from("kind,pastry,size,fault\n");
        for _ in 0..5 {
            text.push_str("a,1,3,Pastry\nb,0,4,Bumps\na,0,3,Stains\nb,1,5,Pastry\n");
        }
        let p =
            profile_csv("t.csv", text.as_bytes().to_vec(), None, Some("fault")).expect("profile");
        assert_eq!(
            p.columns[1].gives_away,
            Some(("1".to_string(), "Pastry".to_string()))
        );
        assert_eq!(
            p.columns[0].gives_away, None,
            "`a` is Pastry once and Stains once"
        );
        assert_eq!(p.columns[3].gives_away, None, "the target itself");
    }

    #[test]
    fn a_parquet_file_is_profiled_from_its_typed_columns_read_as_text() {
        let mut df = df!(
            "amount" => [Some(10.5f64), None, Some(2.5), Some(4.0)],
            "count" => [3i64, 0, 7, 1],
            "kind" => ["b", "a", "a", "b"],
            "flag" => [1.0f64, 0.0, 0.0, 1.0],
            "y" => ["bad", "good", "good", "good"],
        )
        .expect("frame");
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes)
            .finish(&mut df)
            .expect("parquet");
        let p = profile_parquet("t.parquet", bytes, Some("y")).expect("profile");
        assert!(p.layout.is_none());
        assert_eq!(p.rows, 4);
        let Content::Numbers(amount) = &p.columns[0].content else {
            panic!("amount: {:?}", p.columns[0].content)
        };
        assert_eq!((p.columns[0].missing, amount.integer), (1, false));
        let Content::Numbers(count) = &p.columns[1].content else {
            panic!("count")
        };
        assert!(count.integer);
        assert!(matches!(p.columns[2].content, Content::Text(_)));
        let Content::Numbers(flag) = &p.columns[3].content else {
            panic!("flag")
        };
        assert_eq!(flag.counts.len(), 2);
        let broken = profile_parquet("t.parquet", b"PAR1 not really".to_vec(), None);
        assert!(
            broken
                .unwrap_err()
                .to_string()
                .contains("t.parquet: cannot read as Parquet"),
        );
    }

    #[test]
    fn a_large_file_is_profiled_from_its_first_rows() {
        let mut text = String::from("x,y\n");
        for i in 0..PROFILE_ROWS + 10 {
            text.push_str(if i % 2 == 0 { "1,a\n" } else { "2,b\n" });
        }
        let p = profile_csv("big.csv", text.into_bytes(), None, None).expect("profile");
        assert_eq!(p.rows, PROFILE_ROWS);
        assert_eq!(p.sampled_from, Some(PROFILE_ROWS + 10));
        let small = profile_csv("small.csv", b"x\n1\n2\n".to_vec(), None, None).expect("profile");
        assert_eq!((small.rows, small.sampled_from), (2, None));
    }

    #[test]
    fn a_header_that_names_a_column_twice_is_refused() {
        let e = profile_csv("t.csv", b"a,b,a\n1,2,3\n".to_vec(), None, None).unwrap_err();
        assert!(
            e.to_string()
                .contains("t.csv: the header names column `a` more than once"),
            "{e}"
        );
    }

    #[test]
    fn a_delimiter_inside_quotes_does_not_count() {
        assert_eq!(guess_delimiter(b"\"a;b;c\",d\n"), b',');
        assert_eq!(guess_delimiter(b"a\tb\tc\n"), b'\t');
        assert_eq!(guess_delimiter(b"single\n"), b',');
        assert!(!has_decimal_commas(&[Some("1,234,5".into())]));
        assert!(!has_decimal_commas(&[Some("12".into())]));
    }
}
