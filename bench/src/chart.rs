//! The chart of ratios (SVG), drawn with plotters: one bar per row, sockbox / native wall time,
//! and sockbox / wasi:sockets where there is one; 1.0 is parity.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;

use crate::RowResult;

/// Writes the chart to `path`.
pub(crate) fn write(path: &Path, results: &[RowResult]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let height = 80 + 40 * results.len() as u32;
    let root = SVGBackend::new(path, (900, height)).into_drawing_area();
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
            "sockbox / native (blue) and sockbox / wasi:sockets or loop (orange); 1.0 = parity",
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(220)
        .build_cartesian_2d(0f64..max * 1.05, 0f64..f64::from(n))?;
    let names: Vec<String> = results.iter().map(|r| r.name.clone()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(results.len())
        .y_label_formatter(&|y| {
            let i = n - 1 - y.floor() as i32;
            names.get(i as usize).cloned().unwrap_or_default()
        })
        .x_desc("ratio (lower is faster for sockbox)")
        .draw()?;
    for (i, r) in results.iter().enumerate() {
        let y = f64::from(n - 1 - i as i32);
        if let Some(w) = r.wall_ratio {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y + 0.5), (w.min(max), y + 0.9)],
                BLUE.mix(0.7).filled(),
            )))?;
        }
        if let Some(v) = r.vs_third {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y + 0.1), (v.min(max), y + 0.5)],
                RGBColor(230, 130, 0).mix(0.7).filled(),
            )))?;
        }
    }
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(1.0, 0.0), (1.0, f64::from(n))],
        BLACK.stroke_width(1),
    )))?;
    root.present()?;
    Ok(())
}
