//! The dashboard's HTML: the scenario table, the learning curves, one panel
//! per scenario and, when served live, the training and "try it" controls.

use crate::charts::{self, CurveMetric};
use crate::perf::Perf;
use indus_engine::EpochRecord;
use indus_engine::metrics::ClassificationMetrics;
use indus_runtime::{LoadedRun, TargetStatus};
use std::fmt::Write;

/// One scenario on the page.
pub struct ScenarioView<'a> {
    /// Scenario name.
    pub name: &'a str,
    /// Its loaded run.
    pub run: &'a LoadedRun,
    /// Its learning curve.
    pub history: &'a [EpochRecord],
    /// Measured speed, when measured.
    pub perf: Option<Perf>,
    /// Why this run is the one shown (`alias `production``, the newest
    /// verified run), when a server says so.
    pub served_via: Option<String>,
}

/// Where the page will be read.
pub enum Mode {
    /// Served by `indus serve`: adds training and "try it" controls that
    /// call the API.
    Live {
        /// Whether training needs a bearer token (the page asks for it).
        token_required: bool,
    },
    /// Written by `indus report`: a file that opens anywhere, offline.
    Report {
        /// When it was generated (shown in the header).
        generated_at: String,
    },
}

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.filter(|x| x.is_finite())
        .map_or_else(|| "–".to_string(), |x| format!("{x:.digits$}"))
}

/// "roc_auc ≥ 0.8: met (0.8123)", with "not met" in bold; "–" without a target.
fn target_cell(status: Option<TargetStatus>) -> String {
    let Some(s) = status else {
        return "–".into();
    };
    let verdict = match s.met {
        Some(true) => "met",
        Some(false) => "<b>not met</b>",
        None => "not reported",
    };
    format!("{}: {verdict} ({})", esc(&s.bar), num(s.value, 4))
}

/// The network's layers in a few words, so two scenarios of one plugin can
/// be told apart at a glance (e.g. "convolutions 16, 32 (3×3) → hidden 64").
fn layers(model: &indus_spec::ModelSpec) -> String {
    let widths = |v: Vec<usize>| {
        v.iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let hidden = match widths(model.hidden.iter().map(|c| c.get()).collect()) {
        h if h.is_empty() => "no hidden layer".to_string(),
        h => format!("hidden {h}"),
    };
    if model.conv.is_empty() {
        return hidden;
    }
    let kernels: Vec<usize> = model.conv.iter().map(|c| c.kernel.get()).collect();
    let kernel = if kernels.iter().all(|&k| k == kernels[0]) {
        format!("{0}×{0}", kernels[0])
    } else {
        kernels
            .iter()
            .map(|k| format!("{k}×{k}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "convolutions {} ({kernel}) → {hidden}",
        widths(model.conv.iter().map(|c| c.filters.get()).collect())
    )
}

fn task(run: &LoadedRun) -> &'static str {
    indus_data::primary_head(&run.plugin).task.as_str()
}

/// Scenarios whose learning curves the overview chart overlays at first.
const OVERLAID: usize = 6;

/// The whole page.
pub fn page(views: &[ScenarioView<'_>], mode: Mode) -> String {
    let live = matches!(mode, Mode::Live { .. });
    let mut html = String::with_capacity(256 * 1024);
    let subtitle = match &mode {
        Mode::Live { .. } => {
            "Live from <code>indus serve</code>: the runs being served right now.".to_string()
        }
        Mode::Report { generated_at } => format!(
            "Static report written by <code>indus report</code> at {}.",
            esc(generated_at)
        ),
    };
    let _ = write!(
        html,
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>indus — scenario dashboard</title>
<style>{CSS}</style>
</head>
<body>
<header><h1>indus — scenario dashboard</h1><p>{subtitle} {n} scenarios.</p></header>
<main>
<section aria-labelledby="h-table">
<h2 id="h-table">Scenarios</h2>
<p><label for="filter">Filter rows</label> <input id="filter" type="search" placeholder="industry, scenario, task…"></p>
<div class="scroll" tabindex="0" role="region" aria-label="Scenario table (scrolls sideways)">
<table id="scenarios">
<thead><tr>"#,
        n = views.len()
    );
    // The scenario first (it stays in view when the table scrolls), the
    // headline and the target next, so that neither is ever cut off.
    let headers = [
        ("Scenario", "text"),
        ("Industry", "text"),
        ("Task", "text"),
        ("Headline", "text"),
        ("Value", "num"),
        ("Baseline", "num"),
        ("Target", "text"),
        ("Accuracy", "num"),
        ("Balanced acc.", "num"),
        ("Macro F1", "num"),
        ("ROC-AUC", "num"),
        ("PR-AUC", "num"),
        ("Log loss", "num"),
        ("Train rows", "num"),
        ("Test rows", "num"),
        ("Parameters", "num"),
        ("Train s", "num"),
        ("p50 µs", "num"),
        ("Rows/s", "num"),
    ];
    for (i, (h, kind)) in headers.iter().enumerate() {
        let _ = write!(
            html,
            r#"<th scope="col" aria-sort="none"><button type="button" data-col="{i}" data-kind="{kind}">{h}</button></th>"#
        );
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for v in views {
        let r = v.run;
        let m = &r.metrics;
        let baseline = r.plugin.baselines.first();
        let (headline, value) = r.headline();
        let t = m.test.as_ref();
        let test_rows = if m.out_of_fold() {
            // Every row, each tested once by a fold model that had not seen it.
            format!(
                r#"<span title="every row, out of fold">{} (folds)</span>"#,
                m.rows.test
            )
        } else {
            m.rows.test.to_string()
        };
        let cells = [
            format!(
                r##"<a href="#s-{0}" title="data set {1}">{0}</a>"##,
                esc(v.name),
                esc(r.plugin.data.source.dataset.as_str())
            ),
            esc(&r.plugin.industry),
            task(r).to_string(),
            esc(&headline),
            num(value, 4),
            baseline.map_or("–".into(), |b| format!("{:.3}", b.value)),
            target_cell(r.target_status()),
            num(t.map(|t| t.accuracy), 4),
            num(t.map(|t| t.balanced_accuracy), 4),
            num(t.map(|t| t.macro_f1), 4),
            num(t.and_then(|t| t.ranking.as_ref()).map(|x| x.roc_auc), 4),
            num(t.and_then(|t| t.ranking.as_ref()).map(|x| x.pr_auc), 4),
            num(t.and_then(|t| t.log_loss), 4),
            m.rows.train.to_string(),
            test_rows,
            m.parameters.to_string(),
            format!("{:.1}", m.train_seconds),
            num(v.perf.map(|p| p.latency_p50_us), 1),
            num(v.perf.map(|p| p.throughput_rows_per_s), 0),
        ];
        html.push_str("<tr>");
        for (i, c) in cells.iter().enumerate() {
            match i {
                0 => {
                    let _ = write!(html, r#"<th scope="row">{c}</th>"#);
                }
                6 => {
                    let _ = write!(html, r#"<td class="target">{c}</td>"#);
                }
                _ => {
                    let _ = write!(html, "<td>{c}</td>");
                }
            }
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table></div>\n");
    html.push_str(r#"<p class="note">Headline: the metric of the plugin's first published baseline for the head the scenario trains, on held-out rows; for cross-validated scenarios the mean over the folds, as <code>indus run</code> prints it. Target: the scenario's own bar (<code>target:</code> in its YAML), judged on the headline's number. The other metric columns are of the held-out rows (pooled out-of-fold rows for cross-validated scenarios). Speed: this machine, one CPU thread per call, on the scenario's example rows.</p>
</section>
"#);

    // Learning curves: a few scenarios overlaid (more are unreadable on
    // one chart; each panel below has its own), a colour per scenario.
    let series: Vec<charts::CurveSeries<'_>> = views
        .iter()
        .enumerate()
        .take(OVERLAID)
        .map(|(i, v)| (v.name, v.history, i))
        .collect();
    html.push_str(r#"<section aria-labelledby="h-curves"><h2 id="h-curves">Learning curves</h2>"#);
    if views.len() > OVERLAID {
        let _ = write!(
            html,
            r#"<p class="note">The first {OVERLAID} of {} scenarios are overlaid{}; each scenario's own curve is in its panel below.</p>"#,
            views.len(),
            if live { " (tick others below)" } else { "" }
        );
    }
    if live {
        html.push_str(r#"<fieldset id="curve-pick"><legend>Scenarios to overlay</legend>"#);
        for (i, v) in views.iter().enumerate() {
            let _ = write!(
                html,
                r#"<label><input type="checkbox" name="curve" value="{0}"{1}> {0}</label> "#,
                esc(v.name),
                if i < OVERLAID { " checked" } else { "" }
            );
        }
        html.push_str("</fieldset>");
    }
    let _ = writeln!(
        html,
        r#"<div class="charts"><figure id="curve-loss">{}</figure><figure id="curve-accuracy">{}</figure></div></section>"#,
        charts::learning_curves(&series, CurveMetric::Loss),
        charts::learning_curves(&series, CurveMetric::Accuracy)
    );

    if let Mode::Live { token_required } = mode {
        let options: String = views
            .iter()
            .map(|v| format!(r#"<option value="{0}">{0}</option>"#, esc(v.name)))
            .collect();
        let token = if token_required {
            r#"<label>Token <input id="train-token" type="password" autocomplete="off"></label>"#
        } else {
            ""
        };
        let _ = write!(
            html,
            r#"<section aria-labelledby="h-train"><h2 id="h-train">Train</h2>
<form id="train-form" class="row">
<label>Scenario <select id="train-scenario">{options}</select></label>
<label>Epochs <input id="train-epochs" type="number" min="1" max="1000" placeholder="as in the YAML"></label>
{token}
<button type="submit">Start training</button>
</form>
<p id="train-status" role="status" aria-live="polite"></p>
<progress id="train-progress" max="1" value="0" hidden></progress>
<figure id="train-curve"></figure>
<p><button type="button" id="train-promote" hidden>Serve this run</button></p>
</section>
"#
        );
    }

    // One panel per scenario.
    html.push_str(r#"<section aria-labelledby="h-details"><h2 id="h-details">Per scenario</h2>"#);
    for (colour, v) in views.iter().enumerate() {
        let r = v.run;
        let m = &r.metrics;
        let _ = write!(
            html,
            r#"<details id="s-{name}" class="scenario" data-name="{name}"><summary><b>{name}</b> — {industry}, {task}; {eval}</summary>
<p>{desc}</p>
<p>Run <code>{run_id}</code>{via}: {layers}; {params} parameters ({kib:.1} KiB of weights){networks}, {epochs} epochs in {secs:.1} s on {backend}{threshold}.{perf}{custom}</p>{head_notes}"#,
            name = esc(v.name),
            industry = esc(&r.plugin.industry),
            task = task(r),
            eval = esc(&m.evaluation),
            desc = esc(&r.plugin.description),
            run_id = esc(&r.folder.record.run_id),
            via = v
                .served_via
                .as_deref()
                .map_or(String::new(), |w| format!(" (served: {})", esc(w))),
            layers = esc(&layers(&r.scenario.model)),
            params = m.parameters,
            kib = m.parameters as f64 * 4.0 / 1024.0,
            networks = match r.scenario.model.ensemble.get() {
                1 => String::new(),
                n => format!(" in {n} networks whose outputs are averaged"),
            },
            epochs = m.epochs_run,
            secs = m.train_seconds,
            backend = esc(&m.backend),
            threshold = m
                .threshold
                .map_or(String::new(), |t| format!(", decision threshold {t:.3}")),
            perf = v.perf.map_or(String::new(), |p| format!(
                " Single-row latency p50 {:.1} µs; {:.0} rows/s in batches of 1,024.",
                p.latency_p50_us, p.throughput_rows_per_s
            )),
            custom = match m.test.as_ref().map(|t| &t.custom) {
                Some(custom) if !custom.is_empty() => format!(
                    " Plugin metrics: {}.",
                    custom
                        .iter()
                        .map(|(k, v)| format!("{} {v:.4}", esc(k)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => String::new(),
            },
            head_notes = head_notes(m),
        );
        let _ = write!(
            html,
            r#"<div class="charts"><figure class="own-curve">{}</figure></div>"#,
            charts::learning_curves(&[(v.name, v.history, colour)], CurveMetric::Loss)
        );
        if let Some(test) = &m.test {
            classification_panel(&mut html, v.name, &r.model.classes, test);
        }
        if let Some(p) = &m.permutation_importance {
            importance_panel(&mut html, p);
        }
        if let Some(f) = &m.fairness {
            fairness_panel(&mut html, v.name, f);
        }
        if let Some(q) = &m.data_quality {
            quality_panel(&mut html, q);
        }
        if live {
            let _ = write!(
                html,
                r#"<p class="note">Model card: <a href="/v1/scenarios/{0}/card.md">Markdown</a> · <a href="/v1/scenarios/{0}/card">JSON</a></p>"#,
                esc(v.name)
            );
        }
        if live {
            let _ = write!(
                html,
                r#"<h3>Try it</h3><form class="try" data-name="{0}"><p class="try-fields">Loading the input schema…</p><button type="submit">Predict and explain</button></form><div class="try-result" role="status" aria-live="polite"></div>"#,
                esc(v.name)
            );
        }
        html.push_str("</details>\n");
    }
    html.push_str("</section>\n</main>\n");
    if !live {
        html.push_str("<footer><p>Run <code>indus serve</code> for live training progress and the “try it” forms.</p></footer>\n");
    }
    let _ = writeln!(html, "<script>{TABLE_JS}</script>");
    if live {
        let _ = writeln!(html, "<script>{LIVE_JS}</script>");
    }
    html.push_str("</body>\n</html>\n");
    html
}

const CSS: &str = r#"
:root { --ink: #1d2330; --muted: #5a6275; --line: #d8dbe3; --accent: #1f5fbf; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, sans-serif; color: var(--ink); margin: 0; }
header, main, footer { max-width: 2400px; margin: 0 auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin: 1rem 0 .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid var(--line); }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .45rem; text-align: right; white-space: nowrap; }
th:nth-child(-n+4), td:nth-child(-n+4) { text-align: left; }
#scenarios tbody th { font-weight: normal; text-align: left; }
#scenarios th:first-child { position: sticky; left: 0; background: #fff; z-index: 1; box-shadow: 1px 0 0 var(--line); }
#scenarios thead th:nth-child(7) { text-align: left; }
#scenarios td.target { white-space: normal; min-width: 11rem; max-width: 15rem; text-align: left; }
th button { font: inherit; font-weight: 600; background: none; border: 0; color: var(--ink); cursor: pointer; padding: 0; }
th button:focus-visible, a:focus-visible, summary:focus-visible, input:focus-visible, select:focus-visible, button:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
th[aria-sort="ascending"] button::after { content: " ▲"; } th[aria-sort="descending"] button::after { content: " ▼"; }
.charts { display: flex; flex-wrap: wrap; gap: .5rem; }
figure { margin: 0; max-width: 100%; } figure svg { max-width: 100%; height: auto; }
details.scenario { border: 1px solid var(--line); border-radius: 6px; padding: .4rem .8rem; margin: .5rem 0; }
summary { cursor: pointer; }
.note { color: var(--muted); font-size: 13px; }
.row { display: flex; flex-wrap: wrap; gap: .8rem; align-items: end; }
label { display: inline-flex; flex-direction: column; font-size: 13px; gap: .15rem; }
#curve-pick label { flex-direction: row; align-items: center; margin-right: .8rem; }
.try-fields { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: .5rem; }
.try-fields textarea { width: 100%; min-height: 4rem; font: 12px ui-monospace, monospace; }
input, select, textarea, button { font: inherit; }
button { padding: .3rem .8rem; }
@media (max-width: 600px) { body { font-size: 14px; } h1 { font-size: 1.2rem; } }
"#;

/// Sorting and filtering of the scenario table (works in the static report too).
const TABLE_JS: &str = r#"
(() => {
  const table = document.getElementById("scenarios");
  const body = table.tBodies[0];
  const value = (row, i, kind) => {
    const t = row.cells[i].textContent.trim();
    if (kind !== "num") return t.toLowerCase();
    const n = parseFloat(t.replace(/,/g, ""));
    return Number.isFinite(n) ? n : -Infinity;
  };
  table.querySelectorAll("th button").forEach(btn => btn.addEventListener("click", () => {
    const th = btn.parentElement, i = +btn.dataset.col, kind = btn.dataset.kind;
    const dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    table.querySelectorAll("th").forEach(h => h.setAttribute("aria-sort", "none"));
    th.setAttribute("aria-sort", dir);
    const rows = [...body.rows].sort((a, b) => {
      const x = value(a, i, kind), y = value(b, i, kind);
      return (x < y ? -1 : x > y ? 1 : 0) * (dir === "ascending" ? 1 : -1);
    });
    rows.forEach(r => body.appendChild(r));
  }));
  document.getElementById("filter").addEventListener("input", e => {
    const q = e.target.value.trim().toLowerCase();
    [...body.rows].forEach(r => { r.hidden = q !== "" && !r.textContent.toLowerCase().includes(q); });
  });
})();
"#;

/// Live controls: curve overlay choice, training with its event stream, and
/// the "try it" forms (generated from each scenario's row schema).
const LIVE_JS: &str = r#"
(() => {
  const $ = id => document.getElementById(id);
  const json = async (url, opts) => {
    const r = await fetch(url, opts);
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error((body.error || r.statusText) + (body.details || []).map(d => `\n• ${d.row ? "row " + d.row + ", " : ""}${d.field || ""}: ${d.message}`).join(""));
    return body;
  };
  const post = (body, headers = {}) => ({ method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

  // Overlay choice: redraw both curve charts for the ticked scenarios.
  const redraw = async () => {
    const names = [...document.querySelectorAll('input[name="curve"]:checked')].map(c => c.value).join(",");
    for (const m of ["loss", "accuracy"]) {
      const r = await fetch(`/dashboard/curves.svg?metric=${m}&scenarios=${encodeURIComponent(names)}`);
      $("curve-" + m).innerHTML = await r.text();
    }
  };
  document.querySelectorAll('input[name="curve"]').forEach(c => c.addEventListener("change", redraw));

  // Training: start a job, follow its events, offer promotion.
  let job = null;
  const auth = () => { const t = $("train-token"); return t && t.value ? { authorization: "Bearer " + t.value } : {}; };
  $("train-form").addEventListener("submit", async e => {
    e.preventDefault();
    const epochs = parseInt($("train-epochs").value, 10);
    const body = Number.isFinite(epochs) ? { epochs } : {};
    try {
      job = await json(`/v1/scenarios/${$("train-scenario").value}/train`, post(body, auth()));
    } catch (err) { $("train-status").textContent = "Could not start: " + err.message; return; }
    $("train-promote").hidden = true;
    const bar = $("train-progress"); bar.hidden = false; bar.value = 0;
    $("train-status").textContent = `Job ${job.id}: queued`;
    const events = new EventSource(`/v1/jobs/${job.id}/events`);
    let seen = 0;
    events.addEventListener("log", ev => { $("train-status").textContent = `Job ${job.id}: ${JSON.parse(ev.data).message}`; });
    events.addEventListener("epoch", async ev => {
      const e = JSON.parse(ev.data); seen += 1;
      const planned = Number.isFinite(epochs) ? epochs : null;
      if (planned) { bar.max = planned; bar.value = e.epoch; } else { bar.removeAttribute("value"); }
      $("train-status").textContent = `Job ${job.id}: epoch ${e.epoch}, train loss ${e.train_loss.toFixed(4)}` + (e.val_loss != null ? `, validation loss ${e.val_loss.toFixed(4)}` : "");
      $("train-curve").innerHTML = await (await fetch(`/dashboard/jobs/${job.id}/curve.svg`)).text();
    });
    events.addEventListener("finished", ev => {
      const s = JSON.parse(ev.data); events.close(); bar.hidden = true;
      $("train-status").textContent = s.status === "succeeded" ? `Job ${s.id} finished: run ${s.run_id}.` : `Job ${s.id} failed: ${s.error}`;
      $("train-promote").hidden = s.status !== "succeeded";
    });
  });
  $("train-promote").addEventListener("click", async () => {
    try {
      const r = await json(`/v1/jobs/${job.id}/promote`, { method: "POST", headers: auth() });
      $("train-status").textContent = `Now serving run ${r.run_id} for ${r.scenario}. Reload the page to see its metrics.`;
      $("train-promote").hidden = true;
    } catch (err) { $("train-status").textContent = "Could not promote: " + err.message; }
  });

  // Try it: a form per scenario from its row schema, filled with a real example.
  const field = (name, spec, value) => {
    const id = `f-${Math.random().toString(36).slice(2)}`;
    const label = `<label for="${id}">${name}</label>`;
    if (spec.enum) {
      const opts = spec.enum.map(v => `<option${v === value ? " selected" : ""}>${v === null ? "" : v}</option>`).join("");
      return `<div>${label}<select id="${id}" name="${name}">${opts}</select></div>`;
    }
    if (spec.type === "array") {
      return `<div>${label}<textarea id="${id}" name="${name}" data-json="1">${JSON.stringify(value ?? [])}</textarea></div>`;
    }
    const t = [].concat(spec.type || "number");
    if (t.includes("boolean")) {
      return `<div>${label}<select id="${id}" name="${name}" data-bool="1"><option${value ? " selected" : ""}>true</option><option${value === false ? " selected" : ""}>false</option></select></div>`;
    }
    if (t.includes("string")) {
      const hints = (spec.examples || []).map(v => `<option value="${v}">`).join("");
      return `<div>${label}<input id="${id}" name="${name}" type="text" list="${id}-l" value="${value ?? ""}"><datalist id="${id}-l">${hints}</datalist></div>`;
    }
    const range = (spec.minimum != null ? ` min="${spec.minimum}"` : "") + (spec.maximum != null ? ` max="${spec.maximum}"` : "");
    return `<div>${label}<input id="${id}" name="${name}" type="number" step="any"${range} value="${value ?? ""}"></div>`;
  };
  document.querySelectorAll("details.scenario").forEach(d => d.addEventListener("toggle", async () => {
    const form = d.querySelector("form.try");
    if (!d.open || !form || form.dataset.ready) return;
    form.dataset.ready = "1";
    const name = d.dataset.name;
    try {
      const [schema, examples] = await Promise.all([json(`/v1/scenarios/${name}/schema`), json(`/v1/scenarios/${name}/examples`)]);
      const example = (examples.rows || [])[0] || {};
      const inputs = Object.entries(schema.properties).filter(([, s]) => (s.description || "").startsWith("feature"));
      form.querySelector(".try-fields").innerHTML = inputs.map(([n, s]) => field(n, s, example[n])).join("");
    } catch (err) { form.querySelector(".try-fields").textContent = "Could not load the schema: " + err.message; }
  }));
  document.querySelectorAll("form.try").forEach(form => form.addEventListener("submit", async e => {
    e.preventDefault();
    const name = form.dataset.name, out = form.nextElementSibling;
    const row = {};
    form.querySelectorAll("[name]").forEach(el => {
      if (el.dataset.json) { try { row[el.name] = JSON.parse(el.value); } catch { row[el.name] = el.value; } }
      else if (el.dataset.bool) row[el.name] = el.value === "true";
      else if (el.type === "number") row[el.name] = el.value === "" ? null : Number(el.value);
      else row[el.name] = el.value === "" ? null : el.value;
    });
    out.textContent = "Predicting…";
    try {
      const p = (await json(`/v1/scenarios/${name}/predict`, post({ rows: [row] }))).predictions[0];
      const probs = Object.entries(p.probabilities).map(([k, v]) => `${k}: ${v.toFixed(3)}`).join(", ");
      const heads = Object.entries(p.heads || {}).map(([h, a]) => a.value !== undefined ? `${h}: ${a.value.toFixed(3)}` : `${h}: <b>${a.label}</b> (${a.score.toFixed(3)})`).join("; ");
      const n = p.novelty;
      const guard = n ? `<p class="prediction">Novelty guard: error ${n.error.toFixed(4)} against ${n.threshold.toFixed(4)} — ${n.flagged ? "<b>flagged</b>: the label is the guard's, the score its error ÷ (error + threshold)" : "usual"}</p>` : "";
      out.innerHTML = `<p class="prediction"><b>${p.label}</b> (${n && n.flagged ? "guard score" : "probability"} ${p.score.toFixed(3)}) — ${probs}</p>${guard}${heads ? `<p class="prediction">${heads}</p>` : ""}<figure class="explanation">Explaining…</figure>`;
      const r = await fetch(`/dashboard/scenarios/${name}/explain.svg`, post({ rows: [row] }));
      out.querySelector(".explanation").innerHTML = await r.text();
    } catch (err) { out.textContent = "Error: " + err.message; }
  }));
})();
"#;

/// Confusion matrix, ROC and PR curves and per-class table of a classifier
/// (or of the classification view of a rating or anomaly head).
fn classification_panel(
    html: &mut String,
    name: &str,
    classes: &[String],
    test: &ClassificationMetrics,
) {
    let ranking = test.ranking.as_ref();
    let _ = write!(
        html,
        r#"
<div class="charts"><figure>{confusion}</figure><figure>{roc}</figure><figure>{pr}</figure></div>
<div class="scroll" tabindex="0" role="region" aria-label="Per-class metrics of {name}"><table class="per-class"><thead><tr><th scope="col">Class</th><th scope="col">Precision</th><th scope="col">Recall</th><th scope="col">F1</th><th scope="col">Support</th></tr></thead><tbody>"#,
        name = esc(name),
        confusion = charts::confusion(classes, &test.confusion),
        roc = charts::unit_curve(
            "ROC curve",
            "false-positive rate",
            "true-positive rate",
            ranking.map_or(&[][..], |x| &x.roc_curve),
            true
        ),
        pr = charts::unit_curve(
            "Precision–recall curve",
            "recall",
            "precision",
            ranking.map_or(&[][..], |x| &x.pr_curve),
            false
        ),
    );
    for c in &test.per_class {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>",
            esc(&c.label),
            c.precision,
            c.recall,
            c.f1,
            c.support
        );
    }
    html.push_str("</tbody></table></div>");
}

/// The columns the model leans on: each column's permutation importance
/// as a bar, with how it was measured.
/// Each protected column's groups side by side: held-out rows, base and
/// selection rates, error rates and ROC-AUC, then the gaps, with small
/// groups marked rather than hidden.
fn fairness_panel(html: &mut String, name: &str, f: &indus_runtime::FairnessReport) {
    let _ = write!(
        html,
        r#"<h3>Fairness across groups</h3><p class="note">On {rows} held-out rows; "selected" means predicted <code>{positive}</code>. Groups with fewer than {min} rows are marked: their rates are not stable.</p>"#,
        rows = f.rows,
        positive = esc(&f.positive_class),
        min = f.min_group_rows,
    );
    for c in &f.columns {
        let _ = write!(
            html,
            r#"<div class="scroll" tabindex="0" role="region" aria-label="Fairness of {name} by {column}"><table class="fairness"><thead><tr><th scope="col">{column}</th><th scope="col">Rows</th><th scope="col">Base rate</th><th scope="col">Selected</th><th scope="col">TPR</th><th scope="col">FPR</th><th scope="col">Precision</th><th scope="col">ROC-AUC</th></tr></thead><tbody>"#,
            name = esc(name),
            column = esc(&c.column),
        );
        for g in &c.groups {
            let _ = write!(
                html,
                "<tr><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&g.group),
                if g.too_few_rows && g.count > 0 {
                    " <em>(too few rows)</em>"
                } else {
                    ""
                },
                g.count,
                num(g.base_rate, 3),
                num(g.selection_rate, 3),
                num(g.true_positive_rate, 3),
                num(g.false_positive_rate, 3),
                num(g.precision, 3),
                num(g.roc_auc, 3),
            );
        }
        let _ = write!(
            html,
            "</tbody></table></div><p class=\"note\">Gaps: {}.{}</p>",
            esc(&c.gaps_sentence()),
            c.notes
                .iter()
                .map(|n| format!(" {}.", esc(n)))
                .collect::<String>(),
        );
    }
}

/// What the data-quality checks found in the run's rows, each finding
/// with its rule, or that they found nothing.
fn quality_panel(html: &mut String, q: &indus_data::DataQuality) {
    let findings = q.findings();
    html.push_str("<h3>Data quality</h3>");
    if findings.is_empty() {
        let _ = write!(
            html,
            r#"<p class="note">The checks on {} training rows (leakage, duplicates, constant columns, test rows seen in training) found nothing.</p>"#,
            q.rows
        );
        return;
    }
    html.push_str(r#"<ul class="quality">"#);
    for f in findings {
        let _ = write!(html, "<li>{}</li>", esc(&f));
    }
    html.push_str("</ul>");
}

fn importance_panel(html: &mut String, p: &indus_runtime::PermutationImportance) {
    const SHOWN: usize = 15;
    let values: Vec<(String, f32)> = p
        .columns
        .iter()
        .map(|c| (c.column.clone(), c.loss as f32))
        .collect();
    let _ = write!(
        html,
        r#"<h3>What the model leans on</h3><div class="charts"><figure>{chart}</figure></div><p class="note">Each input column shuffled across {rows} held-out rows, {repeats} times; the bar is how much {metric} ({baseline:.4} untouched) moves the wrong way on average. Near zero: the model does not use the column.{more}</p>"#,
        chart = charts::importance("Permutation importance", &p.metric, &values, SHOWN),
        rows = p.rows,
        repeats = p.repeats,
        metric = esc(&p.metric),
        baseline = p.baseline,
        more = match p.columns.len().saturating_sub(SHOWN) {
            0 => String::new(),
            n => format!(" {n} more columns in the run's metrics.json."),
        },
    );
}

/// What rating and anomaly heads report beyond the classification view
/// (rating error, top-k lists, the alarm threshold), and the heads trained
/// beside the primary one.
fn head_notes(m: &indus_runtime::RunMetrics) -> String {
    let mut out = String::new();
    if let Some(r) = &m.regression {
        let _ = write!(
            out,
            "<p>Predicted {} on {} test rows: RMSE {:.4}, MAE {:.4}, R² {:.4}.",
            if m.rating.is_some() {
                "rating"
            } else {
                "value"
            },
            r.rows,
            r.rmse,
            r.mae,
            r.r2
        );
        if let Some(d) = &m.rating {
            let _ = write!(
                out,
                " The charts below show the liked (rating ≥ {}) view.",
                d.liked_at
            );
        }
        out.push_str("</p>");
    }
    if let Some(k) = &m.top_k {
        let _ = write!(
            out,
            "<p>Top-{} lists for {} test users: hit rate {:.4}, NDCG {:.4}, recall {:.4}. <small>{}</small></p>",
            k.k,
            k.users,
            k.hit_rate,
            k.ndcg,
            k.recall,
            esc(&k.protocol)
        );
    }
    if let Some(a) = &m.anomaly {
        let _ = write!(
            out,
            "<p>Autoencoder trained on normal rows; alarm at reconstruction error {:.4} (the {}th percentile of normal validation rows){}.</p>",
            a.threshold,
            a.percentile,
            m.test
                .as_ref()
                .and_then(|t| t.ranking.as_ref())
                .map_or(String::new(), |r| format!(
                    "; detection rate at 1 % false alarms {:.4}",
                    r.tpr_at_1pct_fpr
                ))
        );
    }
    if let Some(g) = &m.novelty_guard {
        let _ = write!(
            out,
            "<p>Novelty guard: an autoencoder of the rows of class <b>{}</b> gives class <b>{}</b> to rows it cannot reproduce (error ≥ {:.4}, the {}th percentile of usual validation rows). On the test rows it flagged {} and changed {} decisions: accuracy {} with it, {:.4} from the classifier alone{}. ROC-AUC, PR-AUC and the curves are the classifier's probabilities.</p>",
            esc(&g.normal_class),
            esc(&g.flags),
            g.threshold,
            g.percentile,
            g.flagged,
            g.overruled,
            m.test
                .as_ref()
                .map_or("–".to_string(), |t| format!("{:.4}", t.accuracy)),
            g.classifier_alone.accuracy,
            g.error_ranking.as_ref().map_or(String::new(), |r| format!(
                "; the error alone ranks unusual rows with ROC-AUC {:.4}",
                r.roc_auc
            ))
        );
    }
    if let Some(ml) = &m.multilabel {
        let _ = write!(
            out,
            "<p>Each label decided on its own at 0.5, on {} test rows: subset accuracy {:.4}, Hamming loss {:.4}, micro F1 {:.4}, macro F1 {:.4}.</p><table class=\"heads\"><tr><th>label</th><th>precision</th><th>recall</th><th>F1</th><th>support</th><th>ROC-AUC</th></tr>",
            ml.rows, ml.subset_accuracy, ml.hamming_loss, ml.micro_f1, ml.macro_f1
        );
        for l in &ml.per_label {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td><td>{}</td></tr>",
                esc(&l.label),
                l.precision,
                l.recall,
                l.f1,
                l.support,
                l.roc_auc.map_or("—".into(), |v| format!("{v:.4}"))
            );
        }
        out.push_str("</table>");
    }
    if !m.secondary_heads.is_empty() {
        let _ = write!(
            out,
            "<table class=\"heads\"><caption>Heads trained with <b>{}</b> on the same trunk, same test rows</caption><tr><th>head</th><th>loss weight</th><th>accuracy</th><th>balanced accuracy</th><th>ROC-AUC</th><th>RMSE</th></tr>",
            esc(&m.head)
        );
        let cell = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.4}"));
        for a in &m.secondary_heads {
            let numbers: String = a
                .summary()
                .map(|v| format!("<td>{}</td>", cell(v)))
                .concat();
            let _ = write!(
                out,
                "<tr><td>{} <small>({})</small></td><td>{}</td>{numbers}</tr>",
                esc(&a.head),
                esc(&a.task),
                a.loss_weight,
            );
        }
        out.push_str("</table>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_cell_says_met_or_not_met_with_the_value() {
        let status = |value: Option<f64>, met: Option<bool>| TargetStatus {
            bar: "roc_auc ≥ 0.8".into(),
            value,
            met,
        };
        assert_eq!(
            target_cell(Some(status(Some(0.81234), Some(true)))),
            "roc_auc ≥ 0.8: met (0.8123)"
        );
        assert_eq!(
            target_cell(Some(status(Some(0.79), Some(false)))),
            "roc_auc ≥ 0.8: <b>not met</b> (0.7900)"
        );
        assert_eq!(
            target_cell(Some(status(None, None))),
            "roc_auc ≥ 0.8: not reported (–)"
        );
        assert_eq!(target_cell(None), "–");
    }
}
