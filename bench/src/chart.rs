//! The chart of ratios (SVG), drawn with plotters: per row, one bar for sockbox / native wall
//! time and one for sockbox / wasi:sockets (or the guest loop) where there is one, each with
//! its value; the row's name beside its bars; the row's target as a black tick on the bar it
//! is about; 1.0 (parity) as a line; a legend telling the two bars apart.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{RowResult, Target};

const NATIVE: RGBColor = RGBColor(60, 110, 200);
const THIRD: RGBColor = RGBColor(230, 130, 0);

/// Where a row's target sits as a wall-time ratio, and on which bar (`true`: vs native).
fn target_tick(t: Target) -> Vec<(bool, f64)> {
    match t {
        Target::WallAtMost(x) | Target::CpuAtMost(x) | Target::CpuAndThroughput(x, _) => {
            vec![(true, x)]
        }
        // Throughput and rate floors, as wall-time ceilings.
        Target::Sendfile(n, l) => vec![(true, 1.0 / n), (false, 1.0 / l)],
        Target::RateAtLeast(x) => vec![(true, 1.0 / x)],
        Target::StartupAtMost(x) => vec![(false, x)],
        Target::NotSlowerThanWasi => vec![(false, 1.0)],
    }
}

/// Writes the chart to `path`.
pub(crate) fn write(path: &Path, results: &[RowResult]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let height = 130 + 46 * results.len() as u32;
    let root = SVGBackend::new(path, (980, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = results
        .iter()
        .flat_map(|r| [r.wall_ratio, r.vs_third])
        .flatten()
        .fold(1.5f64, f64::max)
        .min(10.0);
    let n = results.len() as i32;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "sockbox's wall time as a ratio, per workload (1.0 = parity, lower is faster)",
            ("sans-serif", 17),
        )
        .margin(12)
        .margin_bottom(44)
        .x_label_area_size(34)
        .y_label_area_size(250)
        .build_cartesian_2d(0f64..max * 1.12, 0f64..f64::from(n))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc("ratio")
        .draw()?;
    let value_style = ("sans-serif", 12)
        .into_font()
        .into_text_style(&root)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let name_style = ("sans-serif", 13)
        .into_font()
        .into_text_style(&root)
        .pos(Pos::new(HPos::Right, VPos::Center));

    // The legend, in a row under the axis.
    let legend_style = ("sans-serif", 13).into_font().into_text_style(&root);
    let y = height as i32 - 30;
    let mut x = 262;
    for (color, label) in [
        (Some(NATIVE), "sockbox / native"),
        (
            Some(THIRD),
            "sockbox / wasi:sockets (sendfile: / guest loop)",
        ),
        (None, "the row's target"),
    ] {
        match color {
            Some(c) => root.draw(&Rectangle::new([(x, y), (x + 16, y + 12)], c.filled()))?,
            None => root.draw(&PathElement::new(
                vec![(x + 8, y - 2), (x + 8, y + 14)],
                BLACK.stroke_width(3),
            ))?,
        }
        root.draw(&Text::new(label, (x + 22, y), legend_style.clone()))?;
        x += 30 + 7 * label.len() as i32;
    }

    for (vs_native, color) in [(true, NATIVE), (false, THIRD)] {
        for (i, r) in results.iter().enumerate() {
            let top = f64::from(n - i as i32);
            let (hi, lo) = if vs_native {
                (top - 0.12, top - 0.47)
            } else {
                (top - 0.53, top - 0.88)
            };
            let ticks: Vec<f64> = target_tick(r.target)
                .into_iter()
                .filter(|(on, x)| *on == vs_native && *x <= max * 1.12)
                .map(|(_, x)| x)
                .collect();
            let value = if vs_native { r.wall_ratio } else { r.vs_third };
            if let Some(v) = value {
                let end = v.min(max);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(0.0, lo), (end, hi)],
                    color.mix(0.8).filled(),
                )))?;
                let shown = if v > max {
                    format!("{v:.2}× (cut)")
                } else {
                    format!("{v:.2}×")
                };
                // Right of the bar, and of the target's tick when it is just there.
                let after = ticks
                    .iter()
                    .copied()
                    .filter(|x| *x >= end && *x - end < max * 0.06)
                    .fold(end, f64::max);
                let (px, py) = chart.backend_coord(&(after, (hi + lo) / 2.0));
                root.draw(&Text::new(shown, (px + 5, py), value_style.clone()))?;
            }
            for x in ticks {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, lo - 0.04), (x, hi + 0.04)],
                    BLACK.stroke_width(3),
                )))?;
            }
        }
    }
    for (i, r) in results.iter().enumerate() {
        let middle = f64::from(n - i as i32) - 0.5;
        let (px, py) = chart.backend_coord(&(0.0, middle));
        root.draw(&Text::new(r.name.clone(), (px - 8, py), name_style.clone()))?;
    }
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(1.0, 0.0), (1.0, f64::from(n))],
        BLACK.mix(0.6).stroke_width(1),
    )))?;
    root.present()?;
    Ok(())
}
