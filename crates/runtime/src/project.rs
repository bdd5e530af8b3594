//! Finding things in a project: a scenario with its plugin, and the lists of
//! plugins, scenarios and runs that `indus list` shows.

use crate::RuntimeError;
use indus_spec::{Name, PluginManifest, Scenario, find_plugin, load_plugin, load_scenario};
use std::path::{Path, PathBuf};

/// A scenario file resolved together with its plugin.
#[derive(Debug, Clone)]
pub struct ResolvedScenario {
    /// The scenario file as given.
    pub scenario_file: PathBuf,
    /// Parsed scenario.
    pub scenario: Scenario,
    /// The plugin's manifest file.
    pub plugin_file: PathBuf,
    /// Parsed manifest.
    pub plugin: PluginManifest,
}

/// Loads a scenario and the plugin it names, checking both.
pub fn resolve_scenario(
    scenario_file: &Path,
    plugin_dirs: &[PathBuf],
) -> Result<ResolvedScenario, RuntimeError> {
    let scenario = load_scenario(scenario_file)?;
    let plugin_file = find_plugin(scenario_file, &scenario.plugin, plugin_dirs)?;
    let plugin = load_plugin(&plugin_file)?;
    if plugin.name != scenario.plugin {
        return Err(indus_spec::SpecError::field(
            &plugin_file,
            "name",
            format!(
                "the manifest in plugins/{}/ is named `{}`; folder and name must agree",
                scenario.plugin, plugin.name
            ),
        )
        .into());
    }
    let mut plugin = plugin;
    exclude_features(scenario_file, &scenario, &mut plugin)?;
    // The run's manifest records the scaling its model was fitted with.
    for c in &mut plugin.data.columns {
        let numeric = matches!(
            c.kind,
            indus_spec::ColumnType::Number | indus_spec::ColumnType::Integer
        );
        if numeric
            && c.role == indus_spec::ColumnRole::Feature
            && c.encoding != indus_spec::Encoding::Embedding
        {
            if let Some(n) = scenario.data.normalization {
                c.normalization = n;
            }
            if let Some(bins) = scenario.data.piecewise_linear_bins {
                c.piecewise_linear_bins = Some(bins);
            }
        }
    }
    if let Some(p) = scenario.data.pixel_scaling {
        for c in &mut plugin.data.columns {
            if c.is_image_feature() {
                c.pixel_scaling = p;
            }
        }
    }
    let find = |name: &Name, field: String| -> Result<usize, RuntimeError> {
        plugin
            .heads
            .iter()
            .position(|h| h.name == *name)
            .ok_or_else(|| {
                indus_spec::SpecError::field(
                    scenario_file,
                    &field,
                    format!(
                        "plugin `{}` has no head `{name}`; it has: {}",
                        plugin.name,
                        plugin
                            .heads
                            .iter()
                            .map(|h| h.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .into()
            })
    };
    let first_head = plugin.heads.first().map(|h| h.name.to_string());
    if let Some(head) = &scenario.head {
        // The run's manifest keeps the heads its model has: the chosen one.
        let at = find(head, "head".into())?;
        plugin.heads = vec![plugin.heads.remove(at)];
    } else if !scenario.heads.is_empty() {
        // Exactly the listed heads, in order: the run's manifest then
        // describes the outputs its model has.
        let mut chosen = Vec::with_capacity(scenario.heads.len());
        for (i, choice) in scenario.heads.iter().enumerate() {
            let at = find(&choice.name, format!("heads[{i}].name"))?;
            let mut head = plugin.heads[at].clone();
            if let Some(w) = choice.loss_weight {
                head.loss_weight = w;
            }
            chosen.push(head);
        }
        plugin.heads = chosen;
        check_joint_heads(scenario_file, &plugin)?;
    } else {
        plugin.heads.truncate(1);
    }
    // The run keeps only the published numbers measured for what it trains.
    if let (Some(first), Some(trained)) = (&first_head, plugin.heads.first()) {
        let trained = trained.name.to_string();
        plugin
            .baselines
            .retain(|b| b.applies_to(scenario.name.as_str(), &trained, first));
    }
    check_conv(scenario_file, &scenario, &plugin)?;
    if let (Some(guard), Some(head)) = (&scenario.novelty_guard, plugin.heads.first()) {
        crate::novelty_guard::guard_classes(guard, head).map_err(|(field, message)| {
            RuntimeError::from(indus_spec::SpecError::field(scenario_file, field, message))
        })?;
    }
    Ok(ResolvedScenario {
        scenario_file: scenario_file.to_path_buf(),
        scenario,
        plugin_file,
        plugin,
    })
}

/// `model.conv` reads the plugin's one image column, and its pools must
/// leave at least one pixel.
fn check_conv(
    scenario_file: &Path,
    scenario: &Scenario,
    plugin: &PluginManifest,
) -> Result<(), RuntimeError> {
    let layers = scenario.model.conv.len();
    if layers == 0 {
        return Ok(());
    }
    let refuse = |message: String| -> RuntimeError {
        indus_spec::SpecError::field(scenario_file, "model.conv", message).into()
    };
    let images: Vec<_> = plugin
        .data
        .columns
        .iter()
        .filter(|c| c.is_image_feature())
        .collect();
    let [image] = images.as_slice() else {
        return Err(refuse(format!(
            "convolutions read one image column; plugin `{}` has {} image features",
            plugin.name,
            images.len()
        )));
    };
    let (height, width) = match image.shape.as_deref() {
        Some([h, w]) => (h.get(), w.get()),
        _ => {
            return Err(refuse(format!(
                "image column `{}` has no `shape`",
                image.name
            )));
        }
    };
    if height >> layers == 0 || width >> layers == 0 {
        return Err(refuse(format!(
            "each of the {layers} layers halves the image with a 2×2 pool, and `{}` is {height}×{width}: at most {} layers fit",
            image.name,
            height.min(width).ilog2()
        )));
    }
    Ok(())
}

/// Leaves the scenario's `data.exclude_features` out of the run's manifest:
/// a declared column becomes `role: ignore` (files may still hold it), a
/// derived one is not asked of the hook. The run's manifest then lists exactly the model's inputs.
fn exclude_features(
    scenario_file: &Path,
    scenario: &Scenario,
    plugin: &mut PluginManifest,
) -> Result<(), RuntimeError> {
    use indus_spec::ColumnRole;
    let excluded = &scenario.data.exclude_features;
    for (i, name) in excluded.iter().enumerate() {
        let known = plugin
            .data
            .columns
            .iter()
            .any(|c| c.name == *name && c.role == ColumnRole::Feature);
        if !known {
            return Err(indus_spec::SpecError::field(
                scenario_file,
                format!("data.exclude_features[{i}]"),
                format!(
                    "plugin `{}` has no feature column `{name}`; its features are: {}",
                    plugin.name,
                    plugin
                        .data
                        .columns
                        .iter()
                        .filter(|c| c.role == ColumnRole::Feature)
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .into());
        }
    }
    let is_excluded = |c: &indus_spec::ColumnSpec| excluded.contains(&c.name);
    plugin
        .data
        .columns
        .retain(|c| !(c.derived && is_excluded(c)));
    for c in &mut plugin.data.columns {
        if is_excluded(c) {
            c.role = ColumnRole::Ignore;
        }
    }
    if !plugin
        .data
        .columns
        .iter()
        .any(|c| c.role == ColumnRole::Feature)
    {
        return Err(indus_spec::SpecError::field(
            scenario_file,
            "data.exclude_features",
            format!("leaves plugin `{}` without a feature column", plugin.name),
        )
        .into());
    }
    Ok(())
}

/// Heads that share a trunk each read one column of the same rows: class
/// labels or a number. Autoencoders and recommenders shape the whole
/// training set around themselves, so they train alone.
fn check_joint_heads(scenario_file: &Path, plugin: &PluginManifest) -> Result<(), RuntimeError> {
    use indus_spec::Task;
    for (i, h) in plugin.heads.iter().enumerate() {
        if !matches!(h.task, Task::Binary | Task::Multiclass | Task::Regression) {
            return Err(indus_spec::SpecError::field(
                scenario_file,
                format!("heads[{i}]"),
                format!(
                    "head `{}` is a `{}` head; heads trained together must be binary, multiclass or regression (train it alone with `head: {}`)",
                    h.name,
                    h.task.as_str(),
                    h.name
                ),
            )
            .into());
        }
    }
    Ok(())
}

/// One entry of `indus list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listing {
    /// Plugin, scenario or run name.
    pub name: String,
    /// Where it lives.
    pub path: PathBuf,
    /// A short description, or the error that makes it unusable.
    pub summary: String,
}

/// Every `plugins/*/plugin.yaml` under `root`, with a summary or its error.
pub fn list_plugins(root: &Path) -> Vec<Listing> {
    yaml_files(&root.join("plugins"), true)
        .into_iter()
        .map(|path| {
            let name = path
                .parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let summary = match load_plugin(&path) {
                Ok(p) => format!("{} — {}", p.industry, first_line(&p.description)),
                Err(e) => format!("INVALID: {e}"),
            };
            Listing {
                name,
                path,
                summary,
            }
        })
        .collect()
}

/// Every `scenarios/*.yaml` under `root`, with a summary or its error.
pub fn list_scenarios(root: &Path) -> Vec<Listing> {
    yaml_files(&root.join("scenarios"), false)
        .into_iter()
        .map(|path| {
            let name = path
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // Resolved with its plugin, as `indus run` would: a scenario
            // naming a missing plugin or head is not listed as valid.
            let summary = match resolve_scenario(&path, &[root.join("plugins")]) {
                Ok(r) => format!(
                    "plugin {}; {}",
                    r.scenario.plugin,
                    r.scenario
                        .description
                        .as_deref()
                        .map(first_line)
                        .unwrap_or_default()
                ),
                Err(e) => format!("INVALID: {e}"),
            };
            Listing {
                name,
                path,
                summary,
            }
        })
        .collect()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}

fn yaml_files(dir: &Path, manifests: bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter_map(|p| {
            if manifests {
                let m = p.join("plugin.yaml");
                m.is_file().then_some(m)
            } else {
                (p.extension().is_some_and(|e| e == "yaml" || e == "yml") && p.is_file())
                    .then_some(p)
            }
        })
        .collect();
    // Sort by the listed name (`mnist` before `mnist-tuned`), not the file path.
    out.sort_by_key(|p| {
        if manifests {
            p.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            p.with_extension("")
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use indus_spec::ColumnRole;

    const PLUGIN: &str = "name: pumps
industry: manufacturing
description: test
data:
  source: {format: csv, dataset: pumps, files: {train: {name: pumps.csv}}}
  columns:
    - {name: pressure, type: number, role: feature}
    - {name: flow, type: number, role: feature}
    - {name: pressure_per_flow, type: number, role: feature, derived: true}
    - {name: failed, type: category, role: target, values: [no, yes]}
native:
  library: pumps_native
heads:
  - {name: failure, task: binary, target: failed, classes: [no, yes]}
";

    /// Resolves a scenario of the `pumps` plugin whose `data:` section is `data`.
    fn resolve(data: &str) -> Result<ResolvedScenario, RuntimeError> {
        resolve_with(PLUGIN, data, "{hidden: [4]}")
    }

    /// Resolves a scenario of the plugin `manifest` (named `pumps`) with
    /// these `data:` and `model:` sections.
    fn resolve_with(
        manifest: &str,
        data: &str,
        model: &str,
    ) -> Result<ResolvedScenario, RuntimeError> {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("plugins/pumps")).unwrap();
        std::fs::create_dir_all(root.path().join("scenarios")).unwrap();
        std::fs::write(root.path().join("plugins/pumps/plugin.yaml"), manifest).unwrap();
        let scenario = root.path().join("scenarios/pumps.yaml");
        std::fs::write(
            &scenario,
            format!(
                "name: pumps\nplugin: pumps\ndata: {data}\nmodel: {model}\n\
                 training: {{epochs: 1, batch_size: 2, optimizer: {{kind: adam, learning_rate: 0.01}}}}\nseed: 1\n"
            ),
        )
        .unwrap();
        resolve_scenario(&scenario, &[])
    }

    #[test]
    fn convolutions_need_one_image_that_survives_their_pools() {
        let err = resolve_with(PLUGIN, "{}", "{conv: [{filters: 4}], hidden: [4]}")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("pumps.yaml")
                && err.contains("model.conv")
                && err.contains("has 0 image features"),
            "{err}"
        );
        let scans = PLUGIN.replace(
            "    - {name: flow, type: number, role: feature}",
            "    - {name: scan, type: image, role: feature, shape: [6, 9], max_value: 255, pixel_scaling: z_score}",
        );
        let two = "{conv: [{filters: 4}, {filters: 8}], hidden: [4]}";
        let r = resolve_with(&scans, "{pixel_scaling: max_value}", two).unwrap();
        let scan = r.plugin.data.columns.iter().find(|c| c.name == "scan");
        assert_eq!(
            scan.map(|c| c.pixel_scaling),
            Some(indus_spec::PixelScaling::MaxValue),
            "the scenario's pixel scaling is the run's"
        );
        let three = "{conv: [{filters: 4}, {filters: 8}, {filters: 8}], hidden: [4]}";
        let err = resolve_with(&scans, "{}", three).unwrap_err().to_string();
        assert!(
            err.contains("model.conv") && err.contains("6×9") && err.contains("at most 2 layers"),
            "{err}"
        );
    }

    /// Resolves a `pumps` scenario with a novelty guard whose class
    /// settings are `classes` (e.g. `flags: yes, `).
    fn resolve_guarded(classes: &str) -> Result<ResolvedScenario, RuntimeError> {
        resolve(&format!(
            "{{}}\nnovelty_guard: {{{classes}model: {{hidden: [2]}}, training: {{epochs: 1, batch_size: 2, optimizer: {{kind: adam, learning_rate: 0.01}}}}}}"
        ))
    }

    #[test]
    fn excluded_features_leave_the_runs_manifest() {
        let r = resolve("{exclude_features: [flow, pressure_per_flow]}").unwrap();
        let role = |name: &str| {
            r.plugin
                .data
                .columns
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.role)
        };
        assert_eq!(role("pressure"), Some(ColumnRole::Feature));
        // A file column stays declared, as `ignore`, so files holding it
        // still match; a derived one is not asked of the hook at all.
        assert_eq!(role("flow"), Some(ColumnRole::Ignore));
        assert_eq!(role("pressure_per_flow"), None);
    }

    #[test]
    fn excluding_an_unknown_column_or_every_feature_is_named() {
        let err = resolve("{exclude_features: [flow, temperature]}")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("data.exclude_features[1]")
                && err.contains("`temperature`")
                && err.contains("pressure, flow, pressure_per_flow"),
            "{err}"
        );
        let err = resolve("{exclude_features: [failed]}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no feature column `failed`"), "{err}");
        let err = resolve("{exclude_features: [pressure, flow, pressure_per_flow]}")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("data.exclude_features") && err.contains("without a feature column"),
            "{err}"
        );
    }

    #[test]
    fn a_novelty_guard_names_classes_of_the_head() {
        let r = resolve_guarded("").unwrap();
        assert!(r.scenario.novelty_guard.is_some());
        let err = resolve_guarded("flags: broken, ").unwrap_err().to_string();
        assert!(
            err.contains("pumps.yaml")
                && err.contains("novelty_guard.flags")
                && err.contains("no class `broken`")
                && err.contains("no, yes"),
            "{err}"
        );
    }
}
