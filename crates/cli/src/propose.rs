//! `indus new plugin NAME --from FILE --target COLUMN`: a plugin and a
//! scenario proposed from the user's own CSV file. Each column's type,
//! role, scaling and missing-value rule is read off its cells, and the
//! reasons are written beside it as comments, so the user reviews a
//! working schema rather than typing one from nothing.

use anyhow::{Context, Result, bail};
use indus_data::{ColumnProfile, Content, NumberStats, TableProfile};
use std::fmt::Write as _;
use std::path::Path;

/// What the head predicts, when the user overrides the guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TaskChoice {
    /// Two classes.
    Binary,
    /// Three or more classes.
    Multiclass,
    /// A number.
    Regression,
}

/// A category feature with more values than this is embedded rather than
/// one-hot encoded: a one-hot input per value would swamp a small network.
const ONE_HOT_LIMIT: usize = 100;
/// A text column with more distinct values than this is left out: a
/// vocabulary that large is usually free text or an identifier.
const VOCABULARY_LIMIT: usize = 1000;
/// The most classes a proposed classification head takes.
const CLASS_LIMIT: usize = 100;
/// Below this many rows the scenario cross-validates instead of holding out
/// one test split, whose metrics would rest on too few rows.
const CROSS_VALIDATE_BELOW: usize = 5000;
/// A numeric column of non-negative values skewed beyond this is scaled
/// with `log1p`.
const LONG_TAIL_SKEWNESS: f64 = 2.0;

/// Labels that usually name the event a binary model should score.
const POSITIVE_LABELS: &[&str] = &[
    "1",
    "yes",
    "y",
    "true",
    "t",
    "bad",
    "default",
    "defaulted",
    "fraud",
    "failure",
    "fail",
    "failed",
    "churn",
    "churned",
    "positive",
    "pos",
    "malignant",
    "attack",
    "anomaly",
    "abnormal",
    "sick",
    "disease",
    "spam",
    "event",
    "faulty",
    "defect",
];

/// The industry a proposal writes when `--industry` is not given: no guess
/// from the file, which could be from any trade.
pub const UNSPECIFIED_INDUSTRY: &str = "unspecified";

/// Everything the proposal needs to know besides the file.
pub struct Proposal<'a> {
    /// The plugin (and scenario) name.
    pub name: &'a indus_spec::Name,
    /// Industry shown on the dashboard.
    pub industry: &'a str,
    /// The user's CSV or Parquet file (by its extension).
    pub file: &'a Path,
    /// The column to predict.
    pub target: &'a str,
    /// Overrides the task read off the target's values.
    pub task: Option<TaskChoice>,
    /// Overrides the delimiter guessed from the header line.
    pub delimiter: Option<char>,
}

/// The texts written for one proposal, and what the user should know.
pub struct Written {
    /// plugin.yaml.
    pub plugin: String,
    /// The scenario file.
    pub scenario: String,
    /// Lines for the terminal: columns left out, markers, empty targets.
    pub notes: Vec<String>,
    /// Data rows in the file.
    pub rows: usize,
}

/// Reads the file and writes the plugin and scenario texts.
pub fn propose(p: &Proposal, data_file_name: &str, bytes: Vec<u8>) -> Result<Written> {
    let delimiter = match p.delimiter {
        Some(c) if c.is_ascii() && c != '"' && c != '\n' => Some(c as u8),
        Some(c) => bail!("--delimiter {c:?}: use one ASCII character other than a quote"),
        None => None,
    };
    let sha256 = indus_data::sha256_hex(&bytes);
    let source = p.file.display().to_string();
    let profile = match indus_data::RowFormat::from_path(p.file) {
        Some(indus_data::RowFormat::Parquet) => {
            if delimiter.is_some() {
                bail!("--delimiter applies to CSV files; {source} is Parquet");
            }
            indus_data::profile_parquet(&source, bytes, Some(p.target))?
        }
        Some(indus_data::RowFormat::Csv) | None => {
            indus_data::profile_csv(&source, bytes, delimiter, Some(p.target))?
        }
        Some(_) => bail!(
            "{source}: --from reads a CSV or Parquet file; for images use `indus new plugin NAME --images`"
        ),
    };
    if profile.rows == 0 {
        bail!("{source}: no rows; nothing to learn from");
    }
    // Texts like `NA` or `?` among numbers are declared missing markers;
    // the plugin then reads them as missing in every column, so they are
    // missing cells of text columns too, not a category value.
    let mut markers: Vec<String> = Vec::new();
    for column in &profile.columns {
        if let Content::Numbers(s) = &column.content {
            for (m, _) in &s.markers {
                if !markers.contains(m) {
                    markers.push(m.clone());
                }
            }
        }
    }
    let mut profile = profile;
    for column in &mut profile.columns {
        without_markers(column, &markers);
    }
    let Some(target) = profile.columns.iter().find(|c| c.name == p.target) else {
        let wanted = p.target.to_lowercase();
        let close: Vec<String> = profile
            .columns
            .iter()
            .filter(|c| {
                let name = c.name.to_lowercase();
                name.contains(&wanted) || wanted.contains(&name)
            })
            .map(|c| format!("`{}`", c.name))
            .collect();
        let hint = if close.is_empty() {
            String::new()
        } else {
            format!(" (did you mean {}?)", close.join(" or "))
        };
        bail!(
            "{}: no column named `{}`{hint}; the file has: {}",
            p.file.display(),
            p.target,
            names_list(&profile)
        );
    };
    let head = head_for(p, target)?;
    let mut notes = Vec::new();
    if let Some(total) = profile.sampled_from {
        notes.push(format!(
            "the proposal reads the first {} of about {total} rows; a category value that first appears later goes to the unknown-value bucket until you list it",
            profile.rows
        ));
    }
    if p.task.is_none()
        && head.task == TaskChoice::Multiclass
        && matches!(target.content, Content::Numbers(_))
    {
        notes.push(format!(
            "`{}` holds {} whole numbers, read as classes; pass `--task regression` to predict it as a number (a rating, a count)",
            target.name,
            head.classes.len()
        ));
    }
    if target.missing > 0 {
        notes.push(format!(
            "{} row(s) have no `{}`; indus refuses rows without a target: remove them before `indus run`",
            target.missing, target.name
        ));
    }
    let mut columns = String::new();
    let mut id_taken = false;
    for column in &profile.columns {
        if column.name == target.name {
            columns.push_str(&target_column(column, &head));
            continue;
        }
        let draft = feature_for(column, profile.rows, &mut id_taken);
        if let Some(why) = &draft.left_out {
            notes.push(format!("`{}` left out: {why}", column.name));
        }
        columns.push_str(&draft.yaml);
    }
    if !columns.contains("role: feature") {
        let why = if notes.is_empty() {
            " the file has no other column".to_string()
        } else {
            format!("\n  {}", notes.join("\n  "))
        };
        bail!(
            "{}: no column is left to learn `{}` from:{why}",
            p.file.display(),
            p.target
        );
    }
    if head.task == TaskChoice::Binary {
        notes.push(format!(
            "the positive class of `{}` (the one the model scores, recall and the decision threshold refer to) is `{}`: {}; to score `{}` instead, swap the two `classes` of the head in plugin.yaml",
            target.name, head.classes[1], head.positive_reason, head.classes[0]
        ));
    }
    if p.industry == UNSPECIFIED_INDUSTRY {
        notes.push(
            "industry left `unspecified` (pass --industry, or set `industry:` in plugin.yaml); the dashboard groups scenarios by it".to_string(),
        );
    }
    if !markers.is_empty() {
        notes.push(format!(
            "{} read as missing values (`data.source.missing_markers`)",
            markers
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let plugin = plugin_yaml(
        p,
        &profile,
        data_file_name,
        &sha256,
        &markers,
        &columns,
        &head,
    );
    let scenario = scenario_yaml(p, &profile, &head);
    Ok(Written {
        plugin,
        scenario,
        notes,
        rows: profile.rows,
    })
}

/// Counts a text column's cells that are missing markers as missing.
fn without_markers(column: &mut ColumnProfile, markers: &[String]) {
    let Content::Text(counts) = &mut column.content else {
        return;
    };
    let marked: usize = counts
        .iter()
        .filter(|(t, _)| markers.contains(t))
        .map(|(_, n)| n)
        .sum();
    counts.retain(|(t, _)| !markers.contains(t));
    column.missing += marked;
    if counts.is_empty() {
        column.content = Content::Empty;
    }
}

/// The head read off the target column.
struct HeadDraft {
    task: TaskChoice,
    /// Class labels as the file writes them ([negative, positive] for
    /// binary); empty for regression.
    classes: Vec<String>,
    /// Share of the rarest class (1 for regression).
    rarest_share: f64,
    /// Why the positive class is the one it is (binary only).
    positive_reason: &'static str,
    /// What a model that learned nothing scores on the file.
    reference: Reference,
}

/// What a model that learned nothing scores on the file: the baselines a
/// proposal starts with, measured rather than made up.
enum Reference {
    /// Always answering the most frequent class: its label and share.
    Majority(String, f64),
    /// Always answering the mean: an RMSE equal to the standard deviation.
    Spread(f64),
}

fn head_for(p: &Proposal, target: &ColumnProfile) -> Result<HeadDraft> {
    let labels: Vec<(String, usize)> = match &target.content {
        Content::Empty => bail!(
            "{}: column `{}` is empty in every row; there is nothing to predict",
            p.file.display(),
            target.name
        ),
        Content::Text(counts) => counts.clone(),
        Content::Numbers(s) => s
            .written
            .iter()
            .cloned()
            .zip(s.counts.iter().map(|(_, n)| *n))
            .collect(),
    };
    let numeric = match &target.content {
        Content::Numbers(s) => Some(s),
        _ => None,
    };
    let distinct = labels.len();
    let task = match p.task {
        Some(task) => task,
        None => match numeric {
            Some(s) if !s.integer || distinct > 20 => TaskChoice::Regression,
            _ if distinct == 2 => TaskChoice::Binary,
            _ => TaskChoice::Multiclass,
        },
    };
    let what = |reason: String| -> anyhow::Error {
        anyhow::anyhow!("{}: column `{}`: {reason}", p.file.display(), target.name)
    };
    match task {
        TaskChoice::Regression => {
            let Some(s) = numeric else {
                bail!(what(format!(
                    "`{}` is not a number, so it cannot be a regression target",
                    first_text(&target.content)
                )));
            };
            if !s.markers.is_empty() {
                bail!(what(format!(
                    "`{}` marks a missing target; remove those rows first",
                    s.markers[0].0
                )));
            }
            let n: usize = s.counts.iter().map(|(_, n)| n).sum();
            let mean = s.counts.iter().map(|(v, k)| v * *k as f64).sum::<f64>() / n as f64;
            let variance = s
                .counts
                .iter()
                .map(|(v, k)| (v - mean).powi(2) * *k as f64)
                .sum::<f64>()
                / n as f64;
            return Ok(HeadDraft {
                task,
                classes: Vec::new(),
                rarest_share: 1.0,
                positive_reason: "",
                reference: Reference::Spread(variance.sqrt()),
            });
        }
        TaskChoice::Binary if distinct != 2 => bail!(what(format!(
            "a binary head needs exactly two values, found {distinct}: {}",
            preview(&labels)
        ))),
        TaskChoice::Multiclass if distinct < 2 => bail!(what(format!(
            "only one value ({}); there is nothing to tell apart",
            preview(&labels)
        ))),
        _ if distinct > CLASS_LIMIT => bail!(what(format!(
            "{distinct} distinct values are too many classes (at most {CLASS_LIMIT}); pass `--task regression` if it is a number to predict"
        ))),
        _ => {}
    }
    let total: usize = labels.iter().map(|(_, n)| n).sum();
    let rarest_share = labels.iter().map(|(_, n)| *n).min().unwrap_or(0) as f64 / total as f64;
    // `labels` lists the most frequent first.
    let reference = Reference::Majority(labels[0].0.clone(), labels[0].1 as f64 / total as f64);
    let mut classes: Vec<(String, usize)> = labels;
    match numeric {
        Some(s) => {
            // Numbers in ascending order, each as the file writes it.
            let mut by_value: Vec<(f64, String, usize)> = s
                .counts
                .iter()
                .zip(&s.written)
                .map(|((v, n), w)| (*v, w.clone(), *n))
                .collect();
            by_value.sort_by(|a, b| a.0.total_cmp(&b.0));
            classes = by_value.into_iter().map(|(_, w, n)| (w, n)).collect();
        }
        None => classes.sort_by(|a, b| a.0.cmp(&b.0)),
    }
    let mut positive_reason = "";
    if task == TaskChoice::Binary {
        let known = |label: &str| POSITIVE_LABELS.contains(&label.to_ascii_lowercase().as_str());
        let flip = match (known(&classes[0].0), known(&classes[1].0)) {
            (true, false) => {
                positive_reason = "the label usually names the event";
                true
            }
            (false, true) => {
                positive_reason = "the label usually names the event";
                false
            }
            _ => {
                positive_reason = "the rarer class";
                classes[0].1 < classes[1].1
            }
        };
        if flip {
            classes.swap(0, 1);
        }
    }
    Ok(HeadDraft {
        task,
        classes: classes.into_iter().map(|(c, _)| c).collect(),
        rarest_share,
        positive_reason,
        reference,
    })
}

/// One feature column's YAML, and why it is left out if it is.
struct FeatureDraft {
    yaml: String,
    left_out: Option<String>,
}

fn feature_for(column: &ColumnProfile, rows: usize, id_taken: &mut bool) -> FeatureDraft {
    let name = yaml_text(&column.name);
    let present = rows - column.missing;
    let empty_note = if column.missing > 0 {
        format!(", {} empty", column.missing)
    } else {
        String::new()
    };
    // A left-out column keeps the type its cells have, so that turning it
    // into a feature is a one-word edit of its role.
    let kind = match &column.content {
        Content::Numbers(s) if s.integer => "integer",
        Content::Numbers(_) => "number",
        _ => "category",
    };
    let ignore = |why: String| FeatureDraft {
        yaml: format!(
            "    - name: {name}       # left out: {why}\n      type: {kind}\n      role: ignore\n"
        ),
        left_out: Some(why),
    };
    if let Some((value, class)) = &column.gives_away {
        return ignore(format!(
            "`{}` marks exactly the rows labelled `{}`: it gives the answer away (a copy of the label?)",
            comment_safe(value),
            comment_safe(class)
        ));
    }
    let distinct = match &column.content {
        Content::Empty => return ignore("every cell is empty".into()),
        Content::Numbers(s) => s.counts.len(),
        Content::Text(counts) => counts.len(),
    };
    if distinct == 1 && column.missing == 0 && rows > 1 {
        return ignore("the same value in every row".into());
    }
    if let Content::Text(counts) = &column.content
        && counts.iter().all(|(t, _)| looks_like_date(t))
    {
        return ignore(format!(
            "dates or times (e.g. `{}`): as text every day is its own category; derive numbers from them (month, day of week, days since) in another column or a native hook, or give unix seconds as a `role: split` column for `data.time_split`",
            comment_safe(&counts[0].0)
        ));
    }
    let every_row_differs = distinct == present && column.missing == 0;
    // Without an identifier's name, a column must differ in enough rows
    // before it is taken for one.
    let unique = every_row_differs && (rows >= 20 || looks_like_id(&column.name));
    let counter = match &column.content {
        // 0 or 1 up to the row count: a row number.
        Content::Numbers(s) => {
            unique
                && s.integer
                && (s.min == 0.0 || s.min == 1.0)
                && s.max - s.min + 1.0 == present as f64
        }
        _ => false,
    };
    if looks_like_id(&column.name)
        || counter
        || (unique && matches!(column.content, Content::Text(_)))
    {
        if unique && !*id_taken {
            *id_taken = true;
            return FeatureDraft {
                yaml: format!(
                    "    - name: {name}       # {}: echoed with each prediction\n      type: id\n      role: id\n",
                    if counter {
                        "numbers the rows"
                    } else {
                        "a different value in every row"
                    }
                ),
                left_out: None,
            };
        }
        if unique {
            return ignore(
                "a different value in every row (another identifier or free text)".into(),
            );
        }
        if looks_like_id(&column.name) {
            return ignore(format!(
                "an identifier that repeats ({distinct} values); to learn from it, make it a feature with `encoding: embedding` and an `embedding_dim`"
            ));
        }
    }
    let mut yaml = String::new();
    match &column.content {
        Content::Empty => unreachable!("handled above"),
        Content::Numbers(s) => number_feature(&mut yaml, &name, s, column.missing, &empty_note),
        Content::Text(counts) => {
            if let Some(why) = text_feature(&mut yaml, &name, counts, column.missing, &empty_note) {
                return ignore(why);
            }
        }
    }
    FeatureDraft {
        yaml,
        left_out: None,
    }
}

fn number_feature(
    yaml: &mut String,
    name: &str,
    s: &NumberStats,
    missing: usize,
    empty_note: &str,
) {
    let marked: usize = s.markers.iter().map(|(_, n)| n).sum();
    let nullable = missing + marked > 0;
    let marker_note = if marked > 0 {
        format!(
            ", {marked} written {}",
            s.markers
                .iter()
                .map(|(m, _)| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        )
    } else {
        String::new()
    };
    let is_flag = s.counts.len() == 2 && s.counts.iter().all(|(v, _)| *v == 0.0 || *v == 1.0);
    if is_flag {
        let _ = writeln!(
            yaml,
            "    - name: {name}       # 0 / 1{empty_note}{marker_note}"
        );
        yaml.push_str("      type: boolean\n      role: feature\n");
        if nullable {
            yaml.push_str("      nullable: true\n      missing: mode\n");
        }
        return;
    }
    let kind = if s.integer { "integer" } else { "number" };
    let _ = writeln!(
        yaml,
        "    - name: {name}       # {}{empty_note}{marker_note}",
        number_summary(s)
    );
    let _ = writeln!(yaml, "      type: {kind}\n      role: feature");
    let _ = writeln!(
        yaml,
        "      # range: [{}, {}]        # as observed: uncomment to refuse values outside it",
        short(s.min),
        short(s.max)
    );
    if nullable {
        yaml.push_str("      nullable: true\n      missing: median          # filled with the training median\n");
    }
    if s.min >= 0.0 && s.skewness > LONG_TAIL_SKEWNESS {
        let _ = writeln!(
            yaml,
            "      normalization: log1p     # a long right tail (skewness {:.1})",
            s.skewness
        );
    } else {
        yaml.push_str("      normalization: z_score\n");
    }
}

/// Writes a text column as a boolean or category feature, or says why it
/// is left out.
fn text_feature(
    yaml: &mut String,
    name: &str,
    counts: &[(String, usize)],
    missing: usize,
    empty_note: &str,
) -> Option<String> {
    let distinct = counts.len();
    let is_bool = distinct == 2
        && counts.iter().all(|(t, _)| {
            matches!(
                t.to_ascii_lowercase().as_str(),
                "true" | "false" | "yes" | "no"
            )
        });
    if is_bool {
        let _ = writeln!(
            yaml,
            "    - name: {name}       # {}{empty_note}",
            preview(counts)
        );
        yaml.push_str("      type: boolean\n      role: feature\n");
        if missing > 0 {
            yaml.push_str("      nullable: true\n      missing: mode\n");
        }
        return None;
    }
    if distinct > VOCABULARY_LIMIT {
        return Some(format!(
            "{distinct} distinct texts (free text, or an identifier; at most {VOCABULARY_LIMIT} become a category)"
        ));
    }
    let mut values: Vec<&str> = counts.iter().map(|(t, _)| t.as_str()).collect();
    values.sort_unstable();
    let listed = values
        .iter()
        .map(|v| yaml_text(v))
        .collect::<Vec<_>>()
        .join(", ");
    if distinct > ONE_HOT_LIMIT {
        if missing > 0 {
            return Some(format!(
                "{distinct} distinct texts with {missing} empty cells: an embedded category cannot be nullable; fill the cells with a value such as `unknown` and declare it"
            ));
        }
        let dim = ((distinct as f64).sqrt() / 2.0).ceil().clamp(4.0, 16.0) as usize;
        let _ = writeln!(
            yaml,
            "    - name: {name}       # {distinct} distinct texts: a learned vector each"
        );
        let _ = writeln!(
            yaml,
            "      type: category\n      role: feature\n      encoding: embedding\n      embedding_dim: {dim}\n      unknown_values: bucket   # a value never seen in training shares one vector\n      values: [{listed}]"
        );
        return None;
    }
    let _ = writeln!(
        yaml,
        "    - name: {name}       # {distinct} values{empty_note}"
    );
    let _ = writeln!(
        yaml,
        "      type: category\n      role: feature\n      values: [{listed}]\n      unknown_values: bucket   # a value never seen in training gets an answer, not an error"
    );
    if missing > 0 {
        yaml.push_str("      nullable: true\n      missing: mode            # filled with the most frequent value\n");
    }
    None
}

fn target_column(column: &ColumnProfile, head: &HeadDraft) -> String {
    let name = yaml_text(&column.name);
    if head.task == TaskChoice::Regression {
        return format!(
            "    - name: {name}       # what the model predicts\n      type: number\n      role: target\n"
        );
    }
    format!(
        "    - name: {name}       # what the model predicts\n      type: category\n      role: target\n      values: [{}]\n",
        head.classes
            .iter()
            .map(|c| yaml_text(c))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn plugin_yaml(
    p: &Proposal,
    profile: &TableProfile,
    data_file_name: &str,
    sha256: &str,
    markers: &[String],
    columns: &str,
    head: &HeadDraft,
) -> String {
    let file_label = p.file.display().to_string();
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# yaml-language-server: $schema=../../docs/schema/plugin.schema.json\n\
         # Proposed by `indus new plugin --from` from {} ({} rows, {} columns).\n\
         # Each column's type, role and scaling was read off its cells; the\n\
         # comments say what was seen. Review them, then `indus run` the scenario.\n\
         # Every key is described in docs/yaml-reference.md.",
        comment_safe(&file_label),
        profile.rows,
        profile.columns.len()
    );
    let _ = writeln!(y, "name: {}", p.name);
    let _ = writeln!(y, "industry: {}", serde_json_string(p.industry));
    let _ = writeln!(
        y,
        "description: {}",
        serde_json_string(&format!("Predicts `{}` from {}.", p.target, data_file_name))
    );
    match profile.layout {
        None => y.push_str("data:\n  source:\n    format: parquet\n"),
        Some(layout) => {
            y.push_str("data:\n  source:\n    format: csv\n");
            if layout.delimiter != b',' {
                let _ = writeln!(
                    y,
                    "    delimiter: {}",
                    serde_json_string(&char::from(layout.delimiter).to_string())
                );
            }
            if layout.decimal_comma {
                y.push_str("    decimal_comma: true        # numbers are written 61,7\n");
            }
            if layout.latin1 {
                y.push_str("    encoding: latin1           # the file is not UTF-8\n");
            }
        }
    }
    if !markers.is_empty() {
        let _ = writeln!(
            y,
            "    missing_markers: [{}]   # read as empty cells",
            markers
                .iter()
                .map(|m| serde_json_string(m))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(
        y,
        "    # Data files live in data/ beside this file (or in --data-dir/<dataset>/).\n    dataset: {}\n    files:\n      train:\n        name: {}\n        # SHA-256 of the file: a changed file is refused. Update it\n        # (sha256sum data/{}) when you replace the data.\n        sha256: {sha256}",
        p.name,
        yaml_text(data_file_name),
        comment_safe(data_file_name)
    );
    y.push_str("  columns:\n");
    y.push_str(columns);
    let head_name = head_name(p.target);
    let _ = writeln!(
        y,
        "heads:\n  - name: {head_name}\n    task: {}\n    target: {}",
        match head.task {
            TaskChoice::Binary => "binary",
            TaskChoice::Multiclass => "multiclass",
            TaskChoice::Regression => "regression",
        },
        yaml_text(p.target)
    );
    if head.task != TaskChoice::Regression {
        let classes = head
            .classes
            .iter()
            .map(|c| yaml_text(c))
            .collect::<Vec<_>>()
            .join(", ");
        match head.task {
            TaskChoice::Binary => {
                let _ = writeln!(
                    y,
                    "    classes: [{classes}]   # [negative, positive]: the model scores {} ({}); swap the two to score {}",
                    comment_safe(&head.classes[1]),
                    head.positive_reason,
                    comment_safe(&head.classes[0])
                );
            }
            _ => {
                let _ = writeln!(y, "    classes: [{classes}]");
            }
        }
        if head.task == TaskChoice::Binary && head.rarest_share < 0.35 {
            let _ = writeln!(
                y,
                "    class_weighting: balanced   # the rarest class is {:.0} % of rows",
                100.0 * head.rarest_share
            );
        }
        if head.task == TaskChoice::Binary && profile.rows >= CROSS_VALIDATE_BELOW {
            y.push_str("    decision:\n      rule: best_f1              # threshold chosen on validation rows\n");
        }
    }
    y.push_str("baselines:\n  # What a model that learned nothing scores on this file; add your current\n  # model's or a published number: the dashboard shows yours beside them.\n");
    if head.task == TaskChoice::Binary {
        y.push_str("  - metric: roc_auc\n    value: 0.5\n    source: Chance (a ranking that knows nothing)\n");
    }
    match &head.reference {
        Reference::Majority(label, share) => {
            let _ = writeln!(
                y,
                "  - metric: accuracy\n    value: {share:.4}\n    source: {}",
                serde_json_string(&format!(
                    "Always answering `{label}`, the most frequent class in {data_file_name}"
                ))
            );
        }
        Reference::Spread(std) => {
            let _ = writeln!(
                y,
                "  - metric: rmse\n    value: {}\n    source: {}",
                short(*std),
                serde_json_string(&format!(
                    "Always answering the mean of {data_file_name} (its standard deviation)"
                ))
            );
        }
    }
    y
}

fn scenario_yaml(p: &Proposal, profile: &TableProfile, head: &HeadDraft) -> String {
    let small = profile.rows < CROSS_VALIDATE_BELOW;
    let mut y = format!(
        "# yaml-language-server: $schema=../docs/schema/scenario.schema.json\n\
         # Proposed by `indus new plugin --from` for {} rows. Run it with:\n\
         #   indus run scenarios/{name}.yaml\n\
         name: {name}\nplugin: {name}\n",
        profile.rows,
        name = p.name
    );
    let _ = writeln!(
        y,
        "description: {}",
        serde_json_string(&format!(
            "A first MLP on {}.",
            p.file.file_name().map_or_else(
                || p.file.display().to_string(),
                |f| f.to_string_lossy().into_owned()
            )
        ))
    );
    if small {
        y.push_str(
            "data:\n  # Under 5,000 rows one test split is too small to trust: five folds,\n  # metrics as mean ± std, then the served model trains on every row.\n  folds: 5\n",
        );
        // One hidden layer for about a thousand rows (the German credit
        // recipe); two for a few thousand (steel plates gained from them).
        let (hidden, epochs, batch, rate) = if profile.rows < 1500 {
            ("[32]", 40, 16, "0.0005")
        } else {
            ("[64, 32]", 60, 32, "0.001")
        };
        let _ = write!(
            y,
            "model:\n  hidden: {hidden}\n  activation: relu\n  dropout: 0.3\n  init: he_uniform\n  # ensemble: 5                # average five networks: steadier on small data\ntraining:\n  epochs: {epochs}\n  batch_size: {batch}\n  optimizer:\n    kind: adamw\n    learning_rate: {rate}\n    weight_decay: 0.01\n"
        );
    } else {
        y.push_str(
            "data:\n  test_fraction: 0.2           # held-out rows for the reported metrics\n  validation_fraction: 0.1     # of the rest: early stopping and the threshold\n",
        );
        let batch = if profile.rows >= 100_000 { 256 } else { 64 };
        let _ = write!(
            y,
            "model:\n  hidden: [64, 32]\n  activation: relu\n  dropout: 0.2\n  init: he_uniform\ntraining:\n  epochs: 60\n  batch_size: {batch}\n  optimizer:\n    kind: adam\n    learning_rate: 0.001\n  early_stopping:\n    monitor: val_loss\n    patience: 10\n"
        );
    }
    y.push_str("seed: 1\n");
    if head.task == TaskChoice::Regression {
        y.push_str("# target: {metric: rmse, at_most: 1.0}   # the bar `indus eval-all` checks\n");
    } else {
        y.push_str(
            "# target: {metric: roc_auc, at_least: 0.8}   # the bar `indus eval-all` checks\n",
        );
    }
    y
}

/// Column names of a file for an error message (the first 20).
fn names_list(profile: &TableProfile) -> String {
    let names: Vec<String> = profile
        .columns
        .iter()
        .take(20)
        .map(|c| format!("`{}`", c.name))
        .collect();
    let more = profile.columns.len().saturating_sub(20);
    if more > 0 {
        format!("{} and {more} more", names.join(", "))
    } else {
        names.join(", ")
    }
}

/// Up to five values with their counts, for comments and messages.
/// Few distinct numbers are shown as the file writes them (`values 0,
/// 0.5, 1`), so that a user who turns the column into a category lists the
/// right ones; more as their range (`1 to 90, 57 distinct`).
fn number_summary(s: &NumberStats) -> String {
    const LISTED: usize = 6;
    if s.counts.len() > LISTED {
        return format!(
            "{} to {}, {} distinct",
            short(s.min),
            short(s.max),
            s.counts.len()
        );
    }
    let mut values: Vec<(f64, &str)> = s
        .counts
        .iter()
        .zip(&s.written)
        .map(|((v, _), w)| (*v, w.as_str()))
        .collect();
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let listed: Vec<&str> = values.into_iter().map(|(_, w)| w).collect();
    format!("values {} ({} distinct)", listed.join(", "), listed.len())
}

fn preview(counts: &[(String, usize)]) -> String {
    let mut shown: Vec<String> = counts
        .iter()
        .take(5)
        .map(|(t, n)| format!("{} ×{n}", comment_safe(t)))
        .collect();
    if counts.len() > 5 {
        shown.push(format!("{} more", counts.len() - 5));
    }
    shown.join(", ")
}

fn first_text(content: &Content) -> String {
    match content {
        Content::Text(counts) => counts.first().map(|(t, _)| t.clone()).unwrap_or_default(),
        _ => String::new(),
    }
}

/// Whether a cell is a calendar date, with or without a time: `2024-01-15`,
/// `2024/01/15 08:30`, `15.01.2024`, `01/15/2024`.
fn looks_like_date(text: &str) -> bool {
    let date = text.split([' ', 'T']).next().unwrap_or_default();
    let parts: Vec<&str> = date.split(['-', '/', '.']).collect();
    let digits = |p: &str, lo: usize, hi: usize| {
        (lo..=hi).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    parts.len() == 3
        && ((digits(parts[0], 4, 4) && digits(parts[1], 1, 2) && digits(parts[2], 1, 2))
            || (digits(parts[0], 1, 2) && digits(parts[1], 1, 2) && digits(parts[2], 2, 4)))
}

/// Whether a column's name says it identifies rows (`id`, `customer_id`,
/// `CustomerID`).
fn looks_like_id(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "id"
        || lower.ends_with("_id")
        || lower.ends_with(" id")
        || lower.starts_with("id_")
        || (name.len() > 2 && (name.ends_with("Id") || name.ends_with("ID")))
}

/// A head name (lowercase letters, digits, `-`, `_`) made from the target
/// column's name.
fn head_name(target: &str) -> String {
    let mut name: String = target
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    name = name.trim_matches('_').to_string();
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name = format!("target_{name}").trim_end_matches('_').to_string();
    }
    name
}

/// A YAML scalar for a name or label: as it is when that reads back as the
/// same text, double-quoted otherwise (numbers, `yes`, spaces, `:`).
fn yaml_text(text: &str) -> String {
    let plain = text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null"
        );
    if plain {
        text.to_string()
    } else {
        serde_json_string(text)
    }
}

/// A double-quoted string, which YAML reads as JSON does.
fn serde_json_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// Text placed inside a `#` comment: one line.
fn comment_safe(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// A number for a comment: whole numbers as they are, others to 4 decimals.
fn short(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let rounded = (v * 1e4).round() / 1e4;
        format!("{rounded}")
    }
}

/// Copies the user's file into the plugin's data folder and writes the
/// proposal, checked by the same loader `indus run` uses; on any failure
/// nothing is left behind.
pub fn write_proposal(
    p: &Proposal,
    plugin_dir: &Path,
    scenario_file: &Path,
) -> Result<(Written, String)> {
    let bytes =
        std::fs::read(p.file).with_context(|| format!("{}: cannot read", p.file.display()))?;
    let data_file_name = p
        .file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .with_context(|| format!("{}: not a file", p.file.display()))?;
    let written = propose(p, &data_file_name, bytes)?;
    let result = (|| -> Result<()> {
        let data_dir = plugin_dir.join("data");
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create {}", data_dir.display()))?;
        std::fs::copy(p.file, data_dir.join(&data_file_name)).with_context(|| {
            format!(
                "cannot copy {} into {}",
                p.file.display(),
                data_dir.display()
            )
        })?;
        std::fs::write(plugin_dir.join("plugin.yaml"), &written.plugin)
            .with_context(|| format!("cannot write {}/plugin.yaml", plugin_dir.display()))?;
        if let Some(dir) = scenario_file.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(scenario_file, &written.scenario)
            .with_context(|| format!("cannot write {}", scenario_file.display()))?;
        let plugins_root = plugin_dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        indus_runtime::resolve_scenario(scenario_file, &[plugins_root])
            .context("the proposed plugin does not load (a bug in `indus new plugin --from`; please report it with the file's header)")?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(plugin_dir);
        let _ = std::fs::remove_file(scenario_file);
        return Err(e);
    }
    Ok((written, data_file_name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use indus_spec::{ColumnRole, ColumnType, Missing, Normalization, Task};

    fn proposal<'a>(name: &'a indus_spec::Name, target: &'a str) -> Proposal<'a> {
        Proposal {
            name,
            industry: "finance",
            file: Path::new("loans.csv"),
            target,
            task: None,
            delimiter: None,
        }
    }

    /// The proposal's plugin.yaml as `indus run` reads it (parsed and
    /// checked), from CSV text.
    fn proposed_manifest(csv: &str, target: &str) -> (indus_spec::PluginManifest, Written) {
        let name = indus_spec::Name::parse("loans").expect("name");
        let written = propose(
            &proposal(&name, target),
            "loans.csv",
            csv.as_bytes().to_vec(),
        )
        .expect("propose");
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("plugin.yaml");
        std::fs::write(&file, &written.plugin).expect("write");
        let manifest =
            indus_spec::load_plugin(&file).unwrap_or_else(|e| panic!("{e}\n{}", written.plugin));
        (manifest, written)
    }

    /// 40 loans: an id, an age, a long-tailed amount, a purpose with gaps,
    /// a yes/no and a 0/1 flag, a constant, an empty column, a column that
    /// copies the label, and the label (bad is the rarer class).
    fn loans_csv() -> String {
        let mut csv = String::from(
            "loan_id,age,amount,purpose,owner,guarantor,branch,remark,written_off,opened,status\n",
        );
        for i in 0..40 {
            let bad = i % 4 == 0;
            let amount = if i == 7 { 250_000 } else { 1000 + 37 * i };
            let purpose = ["car", "", "house", "tv", "car"][i % 5];
            csv.push_str(&format!(
                "L{i:03},{},{amount},{purpose},{},{},Oslo,,{},2024-{:02}-{:02},{}\n",
                20 + i,
                if i % 3 == 0 { "yes" } else { "no" },
                i % 2,
                u8::from(bad),
                1 + i % 12,
                1 + i % 28,
                if bad { "bad" } else { "good" }
            ));
        }
        csv
    }

    #[test]
    fn each_column_gets_the_type_role_and_scaling_its_cells_call_for() {
        let (m, written) = proposed_manifest(&loans_csv(), "status");
        let column = |name: &str| {
            m.data
                .columns
                .iter()
                .find(|c| c.name == name)
                .unwrap_or_else(|| panic!("no column {name}"))
        };
        assert_eq!(column("loan_id").role, ColumnRole::Id);
        assert_eq!(column("age").kind, ColumnType::Integer);
        assert_eq!(column("age").normalization, Normalization::ZScore);
        assert_eq!(column("amount").normalization, Normalization::Log1p);
        let purpose = column("purpose");
        assert_eq!(purpose.kind, ColumnType::Category);
        assert_eq!(
            purpose.values.as_deref(),
            Some(&["car".to_string(), "house".into(), "tv".into()][..])
        );
        assert!(purpose.nullable);
        assert_eq!(purpose.missing, Missing::Mode);
        assert_eq!(column("owner").kind, ColumnType::Boolean);
        assert_eq!(column("guarantor").kind, ColumnType::Boolean);
        for left_out in ["branch", "remark", "written_off", "opened"] {
            assert_eq!(column(left_out).role, ColumnRole::Ignore, "{left_out}");
        }
        assert!(
            written
                .plugin
                .contains("name: opened       # left out: dates or times (e.g. `2024-"),
            "{}",
            written.plugin
        );
        let head = &m.heads[0];
        assert_eq!(head.task, Task::Binary);
        assert_eq!(
            head.classes.as_deref(),
            Some(&["good".to_string(), "bad".into()][..])
        );
        assert_eq!(head.class_weighting, indus_spec::ClassWeighting::Balanced);
        let notes = written.notes.join("\n");
        assert!(
            notes.contains("`written_off` left out: `1` marks exactly the rows labelled `bad`"),
            "{notes}"
        );
        assert!(
            notes.contains("`branch` left out: the same value in every row"),
            "{notes}"
        );
        assert!(
            written.scenario.contains("folds: 5"),
            "{}",
            written.scenario
        );
        // 30 of the 40 loans are good: always answering `good` is right 75 % of the time.
        let reference: Vec<(&str, f64)> = m
            .baselines
            .iter()
            .map(|b| (b.metric.as_str(), b.value))
            .collect();
        assert_eq!(reference, [("roc_auc", 0.5), ("accuracy", 0.75)]);
    }

    #[test]
    fn the_task_and_the_scored_class_follow_the_labels() {
        let name = indus_spec::Name::parse("t").expect("name");
        let head = |labels: &[&str], task: Option<TaskChoice>| {
            let mut csv = String::from("x,y\n");
            for (i, l) in labels.iter().enumerate() {
                csv.push_str(&format!("{i},{l}\n"));
            }
            let profile =
                indus_data::profile_csv("t.csv", csv.into_bytes(), None, None).expect("profile");
            let mut p = proposal(&name, "y");
            p.task = task;
            head_for(&p, &profile.columns[1]).map(|h| (h.task, h.classes))
        };
        let classes = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            head(&["1", "0", "0"], None).unwrap(),
            (TaskChoice::Binary, classes(&["0", "1"]))
        );
        assert_eq!(
            head(&["yes", "no", "yes"], None).unwrap(),
            (TaskChoice::Binary, classes(&["no", "yes"]))
        );
        // Neither label names an event: the rarer class is scored.
        assert_eq!(
            head(&["A", "B", "B"], None).unwrap(),
            (TaskChoice::Binary, classes(&["B", "A"]))
        );
        assert_eq!(
            head(&["9", "10", "2", "10"], None).unwrap(),
            (TaskChoice::Multiclass, classes(&["2", "9", "10"])),
            "whole-number classes in numeric order"
        );
        assert_eq!(
            head(&["1.5", "2.25", "3"], None).unwrap().0,
            TaskChoice::Regression
        );
        let wrong = head(&["a", "b", "c"], Some(TaskChoice::Binary))
            .unwrap_err()
            .to_string();
        assert!(wrong.contains("exactly two values, found 3"), "{wrong}");
        let text = head(&["a", "b"], Some(TaskChoice::Regression))
            .unwrap_err()
            .to_string();
        assert!(text.contains("is not a number"), "{text}");
    }

    #[test]
    fn the_proposal_shows_few_values_as_written_and_says_which_class_is_scored() {
        let mut csv = String::from("grade,size,diagnosis\n");
        for i in 0..30 {
            let grade = ["0", "0.5", "1"][i % 3];
            let diagnosis = if i % 4 == 0 { "M" } else { "B" };
            csv.push_str(&format!("{grade},{},{diagnosis}\n", 10 + i));
        }
        let name = indus_spec::Name::parse("scans").expect("name");
        let mut p = proposal(&name, "diagnosis");
        p.industry = UNSPECIFIED_INDUSTRY;
        let written = propose(&p, "scans.csv", csv.into_bytes()).expect("propose");
        // Three distinct numbers: listed as the file writes them.
        assert!(
            written.plugin.contains("# values 0, 0.5, 1 (3 distinct)"),
            "{}",
            written.plugin
        );
        assert!(
            written.plugin.contains("# 10 to 39, 30 distinct"),
            "{}",
            written.plugin
        );
        // The scored class and how to flip it, in the file and the notes.
        assert!(
            written
                .plugin
                .contains("the model scores M (the rarer class); swap the two to score B"),
            "{}",
            written.plugin
        );
        let notes = written.notes.join("\n");
        assert!(
            notes.contains("positive class of `diagnosis`") && notes.contains("`M`"),
            "{notes}"
        );
        // No industry guessed from a file that could be from any trade.
        assert!(
            written.plugin.contains("industry: \"unspecified\""),
            "{}",
            written.plugin
        );
        assert!(notes.contains("--industry"), "{notes}");
    }

    #[test]
    fn a_parquet_export_is_proposed_as_a_parquet_source() {
        use polars::prelude::*;
        let mut df = df!(
            "age" => (0..40).map(|i| 20 + i).collect::<Vec<i64>>(),
            "score" => (0..40).map(|i| f64::from(i) * 1.5).collect::<Vec<f64>>(),
            "status" => (0..40).map(|i| if i % 4 == 0 { "bad" } else { "good" }).collect::<Vec<_>>(),
        )
        .expect("frame");
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes)
            .finish(&mut df)
            .expect("parquet");
        let name = indus_spec::Name::parse("loans").expect("name");
        let mut p = proposal(&name, "status");
        p.file = Path::new("loans.parquet");
        let written = propose(&p, "loans.parquet", bytes.clone()).expect("propose");
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("plugin.yaml");
        std::fs::write(&file, &written.plugin).expect("write");
        let m =
            indus_spec::load_plugin(&file).unwrap_or_else(|e| panic!("{e}\n{}", written.plugin));
        assert_eq!(m.data.source.format, indus_spec::SourceFormat::Parquet);
        assert_eq!(m.data.columns[1].kind, ColumnType::Number);
        assert_eq!(
            m.heads[0].classes.as_deref(),
            Some(&["good".to_string(), "bad".into()][..])
        );
        p.delimiter = Some(';');
        let e = propose(&p, "loans.parquet", bytes)
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains("--delimiter applies to CSV files"), "{e}");
    }

    #[test]
    fn a_file_with_nothing_to_learn_from_is_refused_with_the_reasons() {
        let name = indus_spec::Name::parse("t").expect("name");
        let refused = |csv: &str| {
            propose(&proposal(&name, "y"), "t.csv", csv.as_bytes().to_vec())
                .err()
                .expect("refused")
                .to_string()
        };
        let e = refused("y\nx\nz\n");
        assert!(
            e.contains("no column is left to learn `y` from: the file has no other column"),
            "{e}"
        );
        let e = refused("branch,y\nOslo,x\nOslo,z\n");
        assert!(
            e.contains("`branch` left out: the same value in every row"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_marker_found_among_numbers_is_missing_in_text_columns_too() {
        let mut csv = String::from("age,job,y\n");
        for i in 0..30 {
            let age = if i == 3 {
                "?".to_string()
            } else {
                (20 + i).to_string()
            };
            let job = ["clerk", "?", "nurse"][i % 3];
            csv.push_str(&format!(
                "{age},{job},{}\n",
                if i % 2 == 0 { "a" } else { "b" }
            ));
        }
        let (m, _) = proposed_manifest(&csv, "y");
        assert_eq!(m.data.source.missing_markers, ["?"]);
        let job = &m.data.columns[1];
        assert_eq!(
            job.values.as_deref(),
            Some(&["clerk".to_string(), "nurse".into()][..])
        );
        assert!(
            job.nullable,
            "`?` jobs are missing, filled by the most frequent"
        );
    }

    #[test]
    fn a_named_delimiter_is_used_and_a_quote_is_refused() {
        let name = indus_spec::Name::parse("t").expect("name");
        let mut p = proposal(&name, "y");
        p.delimiter = Some('|');
        let csv = b"a|y\n1|x\n2|z\n3|x\n".to_vec();
        let written = propose(&p, "t.csv", csv.clone()).expect("propose");
        assert!(
            written.plugin.contains("delimiter: \"|\""),
            "{}",
            written.plugin
        );
        p.delimiter = Some('"');
        let e = propose(&p, "t.csv", csv)
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains("--delimiter '\"'"), "{e}");
    }

    #[test]
    fn names_and_labels_read_back_as_the_same_text() {
        for text in [
            "plain",
            "yes",
            "No",
            "1",
            "a b",
            "x: y",
            "#tag",
            "Süd",
            "say \"hi\"",
            "[k]",
            "-",
        ] {
            let yaml = format!("v: {}\n", yaml_text(text));
            let back: std::collections::BTreeMap<String, String> =
                serde_norway::from_str(&yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
            assert_eq!(back["v"], text, "{yaml}");
        }
        assert_eq!(yaml_text("credit_amount"), "credit_amount");
        for date in [
            "2024-01-15",
            "2024/1/5 08:30",
            "15.01.2024",
            "01/15/24",
            "2024-01-15T08:30:00Z",
        ] {
            assert!(looks_like_date(date), "{date}");
        }
        for not_date in ["1.5", "12-2", "A-12-B", "2024", "1.2.3.4"] {
            assert!(!looks_like_date(not_date), "{not_date}");
        }
        assert_eq!(head_name("Machine failure"), "machine_failure");
        assert_eq!(head_name("1st"), "target_1st");
    }
}
