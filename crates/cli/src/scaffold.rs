//! `indus new plugin NAME`: a plugin folder, a sample data file and a
//! scenario that train out of the box, for a user to edit into their own.

use anyhow::{Context, Result, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

/// Options of `indus new plugin`.
#[derive(clap::Args)]
pub struct NewPluginArgs {
    /// Plugin name (lowercase letters, digits and dashes), e.g. `pump-failure`.
    name: String,
    /// Project root holding plugins/ and scenarios/.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Industry shown on the dashboard (default: `manufacturing` for the
    /// sample and image plugins, whose data is a factory's; `unspecified`
    /// with `--from`, whose file could be from any trade).
    #[arg(long)]
    industry: Option<String>,
    /// Also scaffold a native hook crate (`plugins/NAME/native/`, a Rust
    /// cdylib against the SDK) computing one derived feature.
    #[arg(long, conflicts_with = "images")]
    native: bool,
    /// An image plugin instead: folders of PNG files, one sub-folder per
    /// class (synthetic photos of parts, `ok` and `scratched`), and a
    /// scenario with a small convolution stem.
    #[arg(long)]
    images: bool,
    /// Propose the plugin from your own CSV or Parquet file instead (by its
    /// extension; CSV otherwise): each column's
    /// type, role, scaling and missing-value rule is read off its cells
    /// (with the reasons as comments), the file is copied into the
    /// plugin's data folder, and the scenario cross-validates under 5,000
    /// rows or holds out 20 % above.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["images", "native"], requires = "target")]
    from: Option<PathBuf>,
    /// With `--from`: the column to predict.
    #[arg(long, value_name = "COLUMN", requires = "from")]
    target: Option<String>,
    /// With `--from`: the task, when the guess from the target's values
    /// (two values: binary; a few whole numbers or texts: multiclass;
    /// other numbers: regression) is not the one you want.
    #[arg(long, value_enum, requires = "from")]
    task: Option<crate::propose::TaskChoice>,
    /// With `--from`: the field delimiter, when the guess from the header
    /// line is wrong.
    #[arg(long, requires = "from")]
    delimiter: Option<char>,
    /// Path of the indus-plugin-sdk crate the native crate depends on
    /// (default: the one in the indus source tree this binary was built
    /// from, when it is still there).
    #[arg(long)]
    sdk: Option<PathBuf>,
}

/// Where the SDK crate was when this binary was built: the default of
/// `--sdk`, kept out of `--help` (it names the build machine's folders).
const BUILT_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugin-sdk");

/// Writes `plugins/NAME/{plugin.yaml, data/sample.csv}` and
/// `scenarios/NAME.yaml`, refusing to overwrite anything.
pub fn cmd_new_plugin(a: NewPluginArgs) -> Result<()> {
    let name = indus_spec::Name::parse(&a.name).map_err(|e| anyhow::anyhow!("plugin name: {e}"))?;
    let plugin_dir = a.root.join("plugins").join(name.as_str());
    let scenario = a.root.join("scenarios").join(format!("{name}.yaml"));
    for existing in [&plugin_dir, &scenario] {
        if existing.exists() {
            bail!(
                "{} already exists; pick another name or remove it",
                existing.display()
            );
        }
    }
    let industry = a.industry.as_deref().unwrap_or(if a.from.is_some() {
        crate::propose::UNSPECIFIED_INDUSTRY
    } else {
        "manufacturing"
    });
    if a.images {
        return new_image_plugin(&name, industry, &plugin_dir, &scenario);
    }
    if let (Some(file), Some(target)) = (&a.from, &a.target) {
        return new_plugin_from_file(
            &crate::propose::Proposal {
                name: &name,
                industry,
                file,
                target,
                task: a.task,
                delimiter: a.delimiter,
            },
            &plugin_dir,
            &scenario,
        );
    }
    let csv = sample_csv();
    let sha = indus_data::sha256_hex(csv.as_bytes());
    write(&plugin_dir.join("data/sample.csv"), &csv)?;
    write(
        &plugin_dir.join("plugin.yaml"),
        &PLUGIN_TEMPLATE
            .replace("{name}", name.as_str())
            .replace("{industry}", &industry.replace('"', "'"))
            .replace("{sha256}", &sha),
    )?;
    write(
        &scenario,
        &SCENARIO_TEMPLATE.replace("{name}", name.as_str()),
    )?;
    println!("created {}/plugin.yaml", plugin_dir.display());
    println!(
        "created {}/data/sample.csv (synthetic, 400 rows)",
        plugin_dir.display()
    );
    println!("created {}", scenario.display());
    if a.native {
        let (given, sdk) = match a.sdk {
            Some(path) => (true, path),
            None => (false, PathBuf::from(BUILT_SDK)),
        };
        let sdk = sdk.canonicalize().with_context(|| {
            if given {
                format!("--sdk {}: not found", sdk.display())
            } else {
                format!(
                    "the indus-plugin-sdk crate is not at {} (the source tree this binary was built from); pass --sdk PATH to a checkout's crates/plugin-sdk",
                    sdk.display()
                )
            }
        })?;
        let library = name.as_str().replace('-', "_") + "_native";
        let manifest = plugin_dir.join("plugin.yaml");
        let yaml = std::fs::read_to_string(&manifest)?
            .replace(NATIVE_ANCHOR, NATIVE_COLUMN)
            .replace(
                BASELINES_ANCHOR,
                &NATIVE_SECTION.replace("{library}", &library),
            );
        write(&manifest, &yaml)?;
        let crate_dir = plugin_dir.join("native");
        write(
            &crate_dir.join("Cargo.toml"),
            &NATIVE_CARGO
                .replace("{name}", name.as_str())
                .replace("{library}", &library)
                .replace("{sdk}", &sdk.display().to_string().replace('\\', "/")),
        )?;
        write(
            &crate_dir.join("src/lib.rs"),
            &NATIVE_LIB.replace("{name}", name.as_str()),
        )?;
        println!("created {}/ (native hooks)", crate_dir.display());
        println!(
            "next: cargo build --release --manifest-path {}/Cargo.toml",
            crate_dir.display()
        );
    }
    println!("next: indus run {}", scenario.display());
    Ok(())
}

/// Where the derived column goes in the plugin template.
const NATIVE_ANCHOR: &str = "    - name: failure\n      type: category\n      role: target";
/// The derived column the native skeleton computes.
const NATIVE_COLUMN: &str = "    - name: heat_x_vibration   # computed by native/src/lib.rs\n      type: number\n      role: feature\n      derived: true\n    - name: failure\n      type: category\n      role: target";
/// Where the `native:` section goes.
const BASELINES_ANCHOR: &str = "baselines:\n";
/// The `native:` section.
const NATIVE_SECTION: &str = "# Native hooks: a Rust library built from native/ (see docs/plugin-guide.md).\nnative:\n  library: {library}\nbaselines:\n";

const NATIVE_CARGO: &str = r#"[package]
name = "{name}-native"
version = "0.1.0"
edition = "2024"
publish = false

# A shared library the indus host loads at run time.
[lib]
name = "{library}"
crate-type = ["cdylib"]

[dependencies]
indus-plugin-sdk = { path = "{sdk}" }

# Not part of any enclosing cargo workspace.
[workspace]
"#;

const NATIVE_LIB: &str = r#"//! Native hooks of the `{name}` plugin. Everything here is safe Rust: the
//! SDK's `export_plugin!` generates the C entry point the host loads.

use indus_plugin_sdk::{Column, Columns, Plugin, Table, export_plugin};

struct Hooks;

impl Plugin for Hooks {
    /// Called once at load time with `native.config` from plugin.yaml.
    fn new(_config: &indus_plugin_sdk::serde_json::Value) -> Result<Self, String> {
        Ok(Hooks)
    }

    /// One value per row for every `derived: true` column of plugin.yaml.
    /// Runs before preprocessing, in training and in serving alike.
    fn derive_features(&self, rows: &Table) -> Result<Columns, String> {
        let heat = rows.f64("temperature_c")?;
        let vibration = rows.f64("vibration_mm_s")?;
        let product = heat
            .iter()
            .zip(&vibration)
            .map(|(t, v)| t * v / 100.0)
            .collect();
        Ok(vec![("heat_x_vibration".into(), Column::F64(product))])
    }

    /// Extra outputs next to each prediction (here: a maintenance priority).
    fn postprocess(&self, predictions: &Table, _rows: &Table) -> Result<Columns, String> {
        let p = predictions.f64("p:yes")?;
        let priority = p
            .iter()
            .map(|p| {
                if *p >= 0.7 {
                    "urgent"
                } else if *p >= 0.4 {
                    "soon"
                } else {
                    "routine"
                }
                .to_string()
            })
            .collect();
        Ok(vec![("maintenance".into(), Column::Text(priority))])
    }
}

export_plugin!("{name}", Hooks);
"#;

/// `indus new plugin NAME --from FILE --target COLUMN`: the proposal
/// written and checked, with what the user should review.
fn new_plugin_from_file(
    p: &crate::propose::Proposal,
    plugin_dir: &Path,
    scenario: &Path,
) -> Result<()> {
    let (written, data_file) = crate::propose::write_proposal(p, plugin_dir, scenario)?;
    println!("created {}/plugin.yaml", plugin_dir.display());
    println!(
        "created {}/data/{data_file} (a copy of {}, {} rows)",
        plugin_dir.display(),
        p.file.display(),
        written.rows
    );
    println!("created {}", scenario.display());
    for note in &written.notes {
        println!("note: {note}");
    }
    for finding in proposal_quality(plugin_dir)? {
        println!("data quality: {finding}");
    }
    println!(
        "review the column comments in plugin.yaml, then: indus run {}",
        scenario.display()
    );
    Ok(())
}

/// What the proposed plugin's rows say about trusting a model of them
/// (leakage, duplicates, constant columns), read as `indus run` will.
fn proposal_quality(plugin_dir: &Path) -> Result<Vec<String>> {
    let manifest = plugin_dir.join("plugin.yaml");
    let plugin = indus_spec::load_plugin(&manifest)?;
    let locations =
        indus_data::DataLocations::from_env(None).with_plugin_dir(Some(plugin_dir.to_path_buf()));
    let data = indus_data::load_dataset(&plugin, &locations, indus_data::Limits::default())
        .with_context(|| {
            format!(
                "{}: the proposed plugin's data does not read",
                manifest.display()
            )
        })?;
    Ok(indus_data::assess(&plugin, &data.train, data.test.as_ref()).findings())
}

/// `indus new plugin NAME --images`: an image-folder plugin whose sample
/// photos train as they are.
fn new_image_plugin(
    name: &indus_spec::Name,
    industry: &str,
    plugin_dir: &Path,
    scenario: &Path,
) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(2026);
    for (split, per_class) in [("train", 150), ("test", 50)] {
        for (class, scratched) in [("ok", false), ("scratched", true)] {
            let folder = plugin_dir.join("data").join(split).join(class);
            std::fs::create_dir_all(&folder)
                .with_context(|| format!("cannot create {}", folder.display()))?;
            for i in 0..per_class {
                let file = folder.join(format!("{i:03}.png"));
                sample_part(&mut rng, scratched)
                    .save(&file)
                    .with_context(|| format!("cannot write {}", file.display()))?;
            }
        }
    }
    write(
        &plugin_dir.join("plugin.yaml"),
        &IMAGE_PLUGIN_TEMPLATE
            .replace("{name}", name.as_str())
            .replace("{industry}", &industry.replace('"', "'")),
    )?;
    write(
        scenario,
        &IMAGE_SCENARIO_TEMPLATE.replace("{name}", name.as_str()),
    )?;
    println!("created {}/plugin.yaml", plugin_dir.display());
    println!(
        "created {}/data/{{train,test}}/{{ok,scratched}}/*.png (synthetic, 400 images)",
        plugin_dir.display()
    );
    println!("created {}", scenario.display());
    println!("next: indus run {}", scenario.display());
    Ok(())
}

/// A synthetic 28×28 photo of a part: a lit surface with grain; a scratched
/// one also carries a thin bright line at a random place and angle, so the
/// classes are learnable but not by one pixel.
fn sample_part(rng: &mut StdRng, scratched: bool) -> image::GrayImage {
    let light: f64 = rng.random_range(70.0..130.0);
    let tilt: f64 = rng.random_range(-1.5..1.5);
    let mut part = image::GrayImage::from_fn(28, 28, |x, y| {
        let level =
            light + tilt * (x as f64 - 14.0) + rng.random_range(-18.0..18.0) - 0.3 * y as f64;
        image::Luma([level.clamp(0.0, 255.0) as u8])
    });
    if scratched {
        let (x0, y0): (f64, f64) = (rng.random_range(4.0..24.0), rng.random_range(4.0..24.0));
        let angle: f64 = rng.random_range(0.0..std::f64::consts::PI);
        for step in -9..=9 {
            let (x, y) = (
                x0 + step as f64 * angle.cos(),
                y0 + step as f64 * angle.sin(),
            );
            if (0.0..28.0).contains(&x) && (0.0..28.0).contains(&y) {
                part.put_pixel(x as u32, y as u32, image::Luma([235]));
            }
        }
    }
    part
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// 400 synthetic machine readings whose failure risk rises with temperature,
/// vibration and the night shift: learnable, so the first run shows a model
/// doing better than chance.
fn sample_csv() -> String {
    let mut rng = StdRng::seed_from_u64(2026);
    let mut out = String::from("machine_id,temperature_c,vibration_mm_s,load_pct,shift,failure\n");
    for i in 0..400 {
        let temperature: f64 = rng.random_range(40.0..95.0);
        let vibration: f64 = rng.random_range(0.5..12.0);
        let load: u32 = rng.random_range(20..=100);
        let night = rng.random_bool(0.4);
        let z = 0.09 * (temperature - 68.0)
            + 0.45 * (vibration - 6.0)
            + 0.02 * (load as f64 - 60.0)
            + if night { 0.9 } else { -0.3 };
        let failed = rng.random::<f64>() < 1.0 / (1.0 + (-z).exp());
        out.push_str(&format!(
            "M{:04},{temperature:.1},{vibration:.2},{load},{},{}\n",
            i + 1,
            if night { "night" } else { "day" },
            if failed { "yes" } else { "no" }
        ));
    }
    out
}

const PLUGIN_TEMPLATE: &str = r#"# yaml-language-server: $schema=../../docs/schema/plugin.schema.json
# A new indus plugin, scaffolded by `indus new plugin`. It trains as it is on
# data/sample.csv (synthetic machine readings); replace the file and the
# columns below with your own. Every key is described in docs/yaml-reference.md.
name: {name}
industry: "{industry}"
description: Probability that a machine fails within the next shift, from its sensor readings (sample data).
data:
  source:
    format: csv
    # A spreadsheet export from much of Europe: `;` between fields, `61,7`
    # for numbers, often Latin-1 text. Files given to `indus predict` are
    # read the same way.
    # delimiter: ";"
    # decimal_comma: true
    # encoding: latin1
    # Data files live in data/ beside this file (or in --data-dir/<dataset>/).
    dataset: {name}
    files:
      train:
        name: sample.csv
        # SHA-256 of the file: a changed or damaged file is refused. Update it
        # (sha256sum data/sample.csv) when you replace the data.
        sha256: {sha256}
  # A training row with a cell that cannot be read stops the run, naming its
  # row and column; with `on_bad_rows: skip` it is left out and counted.
  # on_bad_rows: skip
  columns:
    # role: feature (model input), target (what to predict), id (echoed with
    # predictions), ignore. type: number, integer, boolean, category, id, image.
    - name: machine_id
      type: id
      role: id
    - name: temperature_c
      type: number
      role: feature
      range: [-50, 200]          # values outside are rejected, naming row and column
      normalization: z_score     # fitted on training rows only
    - name: vibration_mm_s
      type: number
      role: feature
      range: [0, 100]
      nullable: true             # empty cells allowed...
      missing: median            # ...and filled with the training median
    - name: load_pct
      type: integer
      role: feature
      range: [0, 100]
      normalization: min_max
    - name: shift
      type: category             # one-hot encoded; unknown values are rejected
      role: feature
      values: [day, night]
    - name: failure
      type: category
      role: target
      values: ["no", "yes"]
heads:
  - name: failure
    task: binary
    target: failure
    classes: ["no", "yes"]       # [negative, positive]: the model scores "yes"
    class_weighting: balanced    # weigh rare failures like common non-failures
    decision:
      rule: best_f1              # threshold chosen on validation rows
baselines:
  # Published or in-house reference numbers shown next to yours on the dashboard.
  - metric: roc_auc
    value: 0.5
    source: Chance level (replace with your current model's number)
"#;

const SCENARIO_TEMPLATE: &str = r#"# yaml-language-server: $schema=../docs/schema/scenario.schema.json
# Scaffolded by `indus new plugin`: trains the `{name}` plugin on its sample
# data with a 20 % stratified test holdout. Run it with:
#   indus run scenarios/{name}.yaml
name: {name}
plugin: {name}
description: A small MLP on the scaffolded sample data.
data:
  test_fraction: 0.2           # held-out rows for the reported metrics
  validation_fraction: 0.2     # of the rest: early stopping and the threshold
# Several heads of the plugin on one shared trunk, with loss weights:
# heads: [{name: failure}, {name: other_head, loss_weight: 0.5}]
model:
  hidden: [32, 16]
  activation: relu
  dropout: 0.1
  # ensemble: 5                # average five networks: steadier on small data
training:
  epochs: 60
  batch_size: 32
  optimizer:
    kind: adam
    learning_rate: 0.003
  early_stopping:
    monitor: val_loss
    patience: 10
seed: 1
# An autoencoder of the usual rows beside the classifier: rows unlike any it
# saw get the other class, whatever the classifier says (new kinds of fault).
# novelty_guard:
#   threshold_percentile: 99   # about 1 % false alarms on usual rows
#   model: {hidden: [16, 4, 16]}
#   training: {epochs: 30, batch_size: 32, optimizer: {kind: adam, learning_rate: 0.003}}
"#;

const IMAGE_PLUGIN_TEMPLATE: &str = r#"# yaml-language-server: $schema=../../docs/schema/plugin.schema.json
# A new indus image plugin, scaffolded by `indus new plugin --images`. It
# trains as it is on data/train/ and data/test/ (synthetic photos of parts,
# one sub-folder per class); put your own images there, one sub-folder per
# class named as in `classes` below. Every key is described in
# docs/yaml-reference.md.
name: {name}
industry: "{industry}"
description: Whether a part's surface is scratched, from a photo (sample images).
data:
  source:
    format: image_folder
    # Folders live in data/ beside this file (or in --data-dir/<dataset>/).
    dataset: {name}
    files:
      train: {name: train}
      test: {name: test}       # optional: without it the scenario holds out rows
      # val: {name: val}       # optional: picks the best epoch
  columns:
    # PNG, JPEG, BMP and TIFF files are read as grey levels and resized to
    # this shape (height, width).
    - name: photo
      type: image
      role: feature
      shape: [28, 28]
      max_value: 255
    - name: condition
      type: category
      role: target
heads:
  - name: condition
    task: binary
    target: condition
    classes: [ok, scratched]     # [negative, positive]: the sub-folder names
baselines:
  - metric: roc_auc
    value: 0.5
    source: Chance level (replace with your current model's number)
"#;

const IMAGE_SCENARIO_TEMPLATE: &str = r#"# yaml-language-server: $schema=../docs/schema/scenario.schema.json
# Scaffolded by `indus new plugin --images`: trains the `{name}` plugin on
# its sample photos and tests on its test folder. Run it with:
#   indus run scenarios/{name}.yaml
name: {name}
plugin: {name}
description: A small convolution stem and MLP on the scaffolded sample photos.
data:
  pixel_scaling: max_value     # pixels / 255: one scale for every position
model:
  # 3x3 filters, each layer followed by a 2x2 max pool (28 -> 14 -> 7).
  conv:
    - {filters: 8}
    - {filters: 16}
  hidden: [32]
  activation: relu
  dropout: 0.2
  init: he_uniform
training:
  epochs: 10
  batch_size: 32
  optimizer:
    kind: adam
    learning_rate: 0.003
seed: 1
"#;
