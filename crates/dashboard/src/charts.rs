//! Every chart of the dashboard, drawn as SVG by plotters on the server, so
//! the live page and the static report show the same pictures and neither
//! needs a script or a network to draw them.

use indus_engine::EpochRecord;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
/// Light grey for guides and legend borders.
const GREY_400: RGBColor = RGBColor(189, 189, 189);
/// The legend's train/validation key, in no scenario's colour.
const KEY_GREY: RGBColor = RGBColor(90, 98, 117);

const SIZE: (u32, u32) = (640, 360);

/// Width of the legend column right of a learning-curve plot: the legend
/// never covers a curve, however many scenarios are overlaid.
const LEGEND_WIDTH: u32 = 230;

/// Legend entries that fit beside the plot; further ones are counted.
const LEGEND_ROWS: usize = 14;

/// Line colours that stay readable on white (the Tableau 20 set, dark
/// shades first), so a dozen scenarios still get a colour each.
const PALETTE: [RGBColor; 20] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(174, 199, 232),
    RGBColor(255, 187, 120),
    RGBColor(152, 223, 138),
    RGBColor(255, 152, 150),
    RGBColor(197, 176, 213),
    RGBColor(196, 156, 148),
    RGBColor(247, 182, 210),
    RGBColor(199, 199, 199),
    RGBColor(219, 219, 141),
    RGBColor(158, 218, 229),
];
const FONT: &str = "sans-serif";

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Runs a drawing into an SVG string; a drawing error becomes a small SVG
/// saying so (charts never take the page down).
fn svg(
    size: (u32, u32),
    draw: impl FnOnce(DrawingArea<SVGBackend, plotters::coord::Shift>) -> DrawResult,
) -> String {
    let mut out = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        draw(root)
    };
    match result {
        Ok(()) => out,
        Err(e) => note_svg(&format!("chart could not be drawn: {e}")),
    }
}

/// A placeholder SVG with one line of text (e.g. "no validation rows").
pub fn note_svg(text: &str) -> String {
    let text = text.replace('&', "&amp;").replace('<', "&lt;");
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="640" height="60" role="img"><text x="10" y="35" font-family="sans-serif" font-size="15">{text}</text></svg>"#
    )
}

/// Which per-epoch value a learning-curve chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurveMetric {
    /// Training and validation loss.
    Loss,
    /// Training and validation accuracy.
    Accuracy,
}

impl CurveMetric {
    /// Parses `loss` or `accuracy`.
    pub fn parse(s: &str) -> Option<CurveMetric> {
        match s {
            "loss" => Some(CurveMetric::Loss),
            "accuracy" => Some(CurveMetric::Accuracy),
            _ => None,
        }
    }
}

/// One drawn line: points, dashed (validation), colour index.
type Line = (Vec<(f64, f64)>, bool, usize);

/// One scenario's curve: its name, its epochs and its colour (an index
/// into the palette that stays the scenario's whichever others are drawn).
pub type CurveSeries<'a> = (&'a str, &'a [EpochRecord], usize);

/// Overlaid learning curves of several scenarios: a solid line for the
/// training value and a dashed one for validation, one colour per scenario,
/// named in a legend beside the plot.
pub fn learning_curves(series: &[CurveSeries<'_>], metric: CurveMetric) -> String {
    let pick = |r: &EpochRecord| match metric {
        CurveMetric::Loss => (Some(r.train_loss), r.val_loss),
        CurveMetric::Accuracy => (r.train_accuracy, r.val_accuracy),
    };
    let mut lines: Vec<Line> = Vec::new();
    let mut legend: Vec<(&str, usize)> = Vec::new();
    for &(name, history, colour) in series {
        let train: Vec<(f64, f64)> = history
            .iter()
            .enumerate()
            .filter_map(|(e, r)| pick(r).0.map(|v| ((e + 1) as f64, v)))
            .collect();
        let val: Vec<(f64, f64)> = history
            .iter()
            .enumerate()
            .filter_map(|(e, r)| pick(r).1.map(|v| ((e + 1) as f64, v)))
            .collect();
        if train.is_empty() && val.is_empty() {
            continue;
        }
        legend.push((name, colour));
        if !train.is_empty() {
            lines.push((train, false, colour));
        }
        if !val.is_empty() {
            lines.push((val, true, colour));
        }
    }
    let values = lines.iter().flat_map(|l| l.0.iter());
    let (mut lo, mut hi, mut last) = (f64::INFINITY, f64::NEG_INFINITY, 1.0f64);
    for &(x, y) in values {
        lo = lo.min(y);
        hi = hi.max(y);
        last = last.max(x);
    }
    if lines.is_empty() || !lo.is_finite() {
        return note_svg("no learning curve recorded");
    }
    let pad = ((hi - lo) * 0.05).max(1e-3);
    let (label, title) = match metric {
        CurveMetric::Loss => ("loss", "Loss per epoch"),
        CurveMetric::Accuracy => ("accuracy", "Accuracy per epoch"),
    };
    svg((SIZE.0 + LEGEND_WIDTH, SIZE.1), |root| {
        root.fill(&WHITE)?;
        let (plot, key) = root.split_horizontally(SIZE.0);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, (FONT, 22))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(1f64..last.max(2.0), (lo - pad)..(hi + pad))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(label)
            .light_line_style(WHITE)
            .draw()?;
        for (points, dashed, colour) in lines {
            let style = PALETTE[colour % PALETTE.len()].stroke_width(2);
            if dashed {
                chart.draw_series(DashedLineSeries::new(points, 6, 4, style))?;
            } else {
                chart.draw_series(LineSeries::new(points, style))?;
            }
        }
        draw_legend(&key, &legend)?;
        root.present()?;
        Ok(())
    })
}

/// The legend column: how train and validation are drawn, then one entry
/// per scenario in its colour (the rest counted when they do not fit).
fn draw_legend(
    key: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    entries: &[(&str, usize)],
) -> DrawResult {
    let text = |s: &str, x: i32, y: i32, key: &DrawingArea<_, _>| -> DrawResult {
        key.draw(&Text::new(
            s.to_string(),
            (x, y),
            (FONT, 14)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        Ok(())
    };
    let swatch = |y: i32, colour: RGBColor, dashed: bool| {
        let style = colour.stroke_width(2);
        if dashed {
            key.draw(&PathElement::new(vec![(8, y), (14, y)], style))
                .and_then(|_| key.draw(&PathElement::new(vec![(20, y), (26, y)], style)))
        } else {
            key.draw(&PathElement::new(vec![(8, y), (26, y)], style))
        }
    };
    swatch(44, KEY_GREY, false)?;
    text("train", 32, 44, key)?;
    swatch(62, KEY_GREY, true)?;
    text("validation", 32, 62, key)?;
    let shown = if entries.len() > LEGEND_ROWS {
        LEGEND_ROWS - 1
    } else {
        entries.len()
    };
    for (row, (name, colour)) in entries.iter().take(shown).enumerate() {
        let y = 92 + 18 * row as i32;
        swatch(y, PALETTE[colour % PALETTE.len()], false)?;
        text(&shorten(name, 24), 32, y, key)?;
    }
    if entries.len() > shown {
        let y = 92 + 18 * shown as i32;
        text(&format!("and {} more", entries.len() - shown), 32, y, key)?;
    }
    Ok(())
}

/// `name` cut to `max` characters with an ellipsis.
fn shorten(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_string()
    } else {
        let cut: String = name.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// A curve through `points` on the unit square (ROC or precision–recall),
/// with the chance diagonal for ROC.
pub fn unit_curve(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    points: &[[f64; 2]],
    diagonal: bool,
) -> String {
    if points.is_empty() {
        return note_svg(&format!("{title}: only for binary heads"));
    }
    let points: Vec<(f64, f64)> = points.iter().map(|p| (p[0], p[1])).collect();
    svg((360, 340), |root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 20))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(45)
            .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .light_line_style(WHITE)
            .draw()?;
        if diagonal {
            chart.draw_series(DashedLineSeries::new(
                vec![(0.0, 0.0), (1.0, 1.0)],
                5,
                5,
                GREY_400.stroke_width(1),
            ))?;
        }
        chart.draw_series(LineSeries::new(points, BLUE.stroke_width(2)))?;
        root.present()?;
        Ok(())
    })
}

/// The class name at a segmented axis position (`reversed` counts from the
/// top, so the first class is the top row).
fn segment_label(names: &[String], v: &SegmentValue<usize>, reversed: bool) -> String {
    match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
            let i = if reversed {
                names.len().checked_sub(1 + i)
            } else {
                Some(*i)
            };
            i.and_then(|i| names.get(i)).cloned().unwrap_or_default()
        }
        SegmentValue::Last => String::new(),
    }
}

/// The confusion matrix as a heat map (rows: true class, columns:
/// predicted), shaded by each row's share so rare classes stay readable.
pub fn confusion(classes: &[String], counts: &[Vec<u64>]) -> String {
    let k = classes.len();
    if k == 0 || counts.len() != k {
        return note_svg("no confusion matrix recorded");
    }
    let side = (80 + 40 * k as u32).clamp(280, 560);
    svg((side + 80, side + 40), |root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Confusion matrix (rows: true, columns: predicted)",
                (FONT, 17),
            )
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(90)
            .build_cartesian_2d((0..k).into_segmented(), (0..k).into_segmented())?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(k)
            .y_labels(k)
            .x_label_formatter(&|v| segment_label(classes, v, false))
            .y_label_formatter(&|v| segment_label(classes, v, true))
            .label_style((FONT, 15))
            .draw()?;
        let centred = Pos::new(HPos::Center, VPos::Center);
        for (t, row) in counts.iter().enumerate() {
            let total: u64 = row.iter().sum::<u64>().max(1);
            for (p, &n) in row.iter().enumerate() {
                let share = n as f64 / total as f64;
                let y = k - 1 - t;
                let fill = RGBColor(
                    (255.0 - 200.0 * share) as u8,
                    (255.0 - 150.0 * share) as u8,
                    255,
                );
                chart.draw_series(std::iter::once(Rectangle::new(
                    [
                        (SegmentValue::Exact(p), SegmentValue::Exact(y)),
                        (SegmentValue::Exact(p + 1), SegmentValue::Exact(y + 1)),
                    ],
                    fill.filled(),
                )))?;
                let ink = if share > 0.55 { WHITE } else { BLACK };
                chart.draw_series(std::iter::once(Text::new(
                    n.to_string(),
                    (SegmentValue::CenterOf(p), SegmentValue::CenterOf(y)),
                    (FONT, 16).into_font().color(&ink).pos(centred),
                )))?;
            }
        }
        root.present()?;
        Ok(())
    })
}

/// Horizontal bars of the largest attributions (by magnitude): which
/// columns pushed the predicted probability up (blue) or down (red).
pub fn attributions(title: &str, values: &[(String, f32)], top: usize) -> String {
    signed_bars(
        title,
        "change in the predicted probability",
        values,
        top,
        Scale::Symmetric,
    )
}

/// How the bars' axis is laid out.
#[derive(Clone, Copy, PartialEq)]
enum Scale {
    /// Around zero, the largest magnitudes first: pushes either way.
    Symmetric,
    /// From the smallest value (or zero) to the largest, largest first:
    /// losses, where below zero is only noise.
    Ranked,
}

/// How much a run's headline metric drops when each input column is
/// shuffled (permutation importance), the largest first: the columns the
/// model leans on, in the metric's own unit.
pub fn importance(title: &str, metric: &str, values: &[(String, f32)], top: usize) -> String {
    signed_bars(
        title,
        &format!("{metric} lost when the column is shuffled"),
        values,
        top,
        Scale::Ranked,
    )
}

/// Horizontal bars from zero, the `top` largest magnitudes, blue for
/// positive and red for negative values.
fn signed_bars(
    title: &str,
    x_desc: &str,
    values: &[(String, f32)],
    top: usize,
    scale: Scale,
) -> String {
    let mut shown: Vec<&(String, f32)> = values.iter().collect();
    match scale {
        Scale::Symmetric => shown.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs())),
        Scale::Ranked => shown.sort_by(|a, b| b.1.total_cmp(&a.1)),
    }
    shown.truncate(top.max(1));
    if shown.is_empty() {
        return note_svg("nothing to explain");
    }
    let n = shown.len();
    // Long column names are cut to fit the label area.
    let names: Vec<String> = shown
        .iter()
        .map(|v| {
            if v.0.chars().count() > 30 {
                format!("{}…", v.0.chars().take(29).collect::<String>())
            } else {
                v.0.clone()
            }
        })
        .collect();
    let largest = shown.iter().map(|v| v.1.abs()).fold(1e-6f32, f32::max) as f64 * 1.1;
    let (lo, hi) = match scale {
        Scale::Symmetric => (-largest, largest),
        Scale::Ranked => {
            let smallest = shown.iter().map(|v| v.1).fold(0.0f32, f32::min) as f64 * 1.1;
            let biggest = shown.iter().map(|v| v.1).fold(1e-6f32, f32::max) as f64 * 1.1;
            (smallest, biggest)
        }
    };
    svg((640, 70 + 28 * n as u32), |root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 18))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(240)
            .build_cartesian_2d(lo..hi, (0..n).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|v| segment_label(&names, v, true))
            .x_desc(x_desc)
            .label_style((FONT, 15))
            .light_line_style(WHITE)
            .draw()?;
        for (i, (_, v)) in shown.iter().enumerate() {
            let y = n - 1 - i;
            let colour = if *v >= 0.0 {
                RGBColor(40, 100, 200)
            } else {
                RGBColor(200, 60, 50)
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(y)),
                    (*v as f64, SegmentValue::Exact(y + 1)),
                ],
                colour.filled(),
            )))?;
        }
        root.present()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(e: usize, loss: f64) -> EpochRecord {
        EpochRecord {
            epoch: e,
            seconds: 0.1,
            learning_rate: 1e-3,
            train_loss: loss,
            train_accuracy: Some(1.0 - loss / 2.0),
            val_loss: Some(loss * 1.1),
            val_accuracy: Some(0.9),
        }
    }

    #[test]
    fn learning_curves_draw_one_path_per_series_with_a_legend() {
        let a = [epoch(1, 0.9), epoch(2, 0.5), epoch(3, 0.3)];
        let b = [epoch(1, 0.7), epoch(2, 0.6)];
        let s = learning_curves(&[("mnist", &a, 0), ("credit", &b, 1)], CurveMetric::Loss);
        assert!(s.starts_with("<svg"), "{s}");
        let labels = texts(&s);
        for expected in ["mnist", "credit", "train", "validation"] {
            assert!(labels.iter().any(|t| t == expected), "{labels:?}");
        }
        assert!(
            s.matches("<polyline").count() + s.matches("<path").count() >= 4,
            "{s}"
        );
    }

    #[test]
    fn a_dozen_overlaid_curves_are_named_beside_the_plot_not_over_it() {
        let h = [epoch(1, 0.9), epoch(2, 0.5)];
        let names: Vec<String> = (1..=13).map(|i| format!("scenario-{i:02}")).collect();
        let series: Vec<CurveSeries<'_>> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), &h[..], i))
            .collect();
        let s = learning_curves(&series, CurveMetric::Loss);
        // Every `<text>` element's x and body.
        let placed: Vec<(f64, String)> = s
            .split("<text")
            .skip(1)
            .filter_map(|t| {
                let x = t.split("x=\"").nth(1)?.split('"').next()?.parse().ok()?;
                let body = t
                    .split_once('>')?
                    .1
                    .split_once("</text>")?
                    .0
                    .trim()
                    .to_string();
                Some((x, body))
            })
            .collect();
        for name in &names {
            let (x, _) = placed
                .iter()
                .find(|(_, b)| b == name)
                .unwrap_or_else(|| panic!("{name} not in the legend: {placed:?}"));
            assert!(*x > SIZE.0 as f64, "{name} drawn at x {x}, inside the plot");
        }
        // Thirteen scenarios, thirteen colours.
        let colours: std::collections::HashSet<_> = (0..13).map(|i| PALETTE[i]).collect();
        assert_eq!(colours.len(), 13);
        assert_eq!(
            shorten("a-very-long-scenario-name-indeed", 10),
            "a-very-lo…"
        );
    }

    #[test]
    fn charts_without_data_say_so() {
        assert!(learning_curves(&[], CurveMetric::Loss).contains("no learning curve"));
        assert!(unit_curve("ROC", "x", "y", &[], true).contains("only for binary heads"));
    }

    /// The text of every `<text>` element, trimmed.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                t.split_once('>')
                    .and_then(|(_, rest)| rest.split_once("</text>"))
            })
            .map(|(body, _)| body.trim().to_string())
            .collect()
    }

    #[test]
    fn confusion_cells_show_their_counts() {
        let s = confusion(
            &["good".into(), "bad".into()],
            &[vec![640, 60], vec![120, 180]],
        );
        let t = texts(&s);
        for n in ["640", "60", "120", "180"] {
            assert_eq!(t.iter().filter(|x| *x == n).count(), 1, "{n}: {t:?}");
        }
        // Each class labels one row and one column.
        assert_eq!(t.iter().filter(|x| *x == "good").count(), 2, "{t:?}");
        assert_eq!(t.iter().filter(|x| *x == "bad").count(), 2, "{t:?}");
    }

    #[test]
    fn importance_bars_name_the_metric_and_the_columns() {
        let values = vec![("age".to_string(), 0.05f32), ("city".to_string(), -0.001)];
        let svg = importance("Permutation importance", "roc_auc", &values, 10);
        let t = texts(&svg);
        assert!(
            t.iter()
                .any(|s| s == "roc_auc lost when the column is shuffled"),
            "{t:?}"
        );
        assert!(
            t.iter().any(|s| s == "age") && t.iter().any(|s| s == "city"),
            "{t:?}"
        );
    }

    #[test]
    fn attribution_bars_keep_the_largest() {
        let values = vec![
            ("a".to_string(), 0.3),
            ("b".to_string(), -0.5),
            ("c".to_string(), 0.01),
        ];
        let t = texts(&attributions("why", &values, 2));
        assert!(
            t.contains(&"a".to_string()) && t.contains(&"b".to_string()),
            "{t:?}"
        );
        assert!(!t.contains(&"c".to_string()), "{t:?}");
    }
}
