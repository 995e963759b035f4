//! Line plots written as SVG and PNG (plotters), for the information-along-t plots of
//! `ibex ntk` and the information planes of the IB solvers.
//!
//! Text in the PNG is rendered with the DejaVu Sans font bundled in `data/fonts/`
//! (Bitstream Vera license, in `data/fonts/DejaVuSans-LICENSE.txt`), so no system font is
//! needed; the SVG names the font family and leaves rendering to the viewer.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::error::{Error, Result};

static FONT: &[u8] = include_bytes!("../data/fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// One named line: (x, y) points in order. Points with a non-finite coordinate (or
/// x ≤ 0 on a log axis) are left out, and the line is broken there.
#[derive(Clone, Debug, Default)]
pub struct Series {
    /// The legend entry.
    pub name: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed (for example the second regime, or an upper bound).
    pub dashed: bool,
    /// Markers only, no connecting line (scatter: bifurcation marks, decoder branches).
    pub markers_only: bool,
}

impl Series {
    /// A solid line.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
            dashed: false,
            markers_only: false,
        }
    }
}

fn plot_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::io(
        path.display().to_string(),
        std::io::Error::other(e.to_string()),
    )
}

/// The widest x range drawn on a logarithmic axis (x1/x0); wider ones are drawn as
/// log10 x on a linear axis.
const LOG_AXIS_MAX_RATIO: f64 = 1e300;

fn usable(p: &(f64, f64), log_x: bool) -> bool {
    p.0.is_finite() && p.1.is_finite() && (!log_x || p.0 > 0.0)
}

/// The colours, in order (Okabe-Ito first, readable by colour-blind readers, then four
/// more), repeated after twelve series.
const COLOURS: [RGBColor; 12] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(153, 0, 0),
    RGBColor(102, 51, 153),
    RGBColor(128, 128, 0),
    RGBColor(128, 128, 128),
    RGBColor(200, 180, 40),
];

/// Writes `<path_stem>.svg` and `<path_stem>.png` (1200 × 650 pixels): every series as a
/// line with point markers, against a linear or logarithmic x axis, with the legend in a
/// panel to the right of the chart.
/// Returns the two paths. Series without a usable point are left out of the plot; when
/// no series has one, the plot says so in its title.
///
/// # Errors
/// [`Error::Io`] naming the file when it cannot be written.
pub fn line_plot(
    path_stem: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    log_x: bool,
    series: &[Series],
) -> Result<[PathBuf; 2]> {
    let panel = Panel {
        title: title.to_string(),
        series: series.to_vec(),
    };
    panel_plot(path_stem, title, x_label, y_label, log_x, &[panel])
}

fn range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return None;
    }
    if hi - lo <= f64::EPSILON * lo.abs().max(hi.abs()).max(1e-300) {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.05 };
        return Some((lo - pad, hi + pad));
    }
    Some((lo, hi))
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// One chart of a [`panel_plot`]: its caption and its series (the same names, in the same
/// order, in every panel: the legend is shared).
#[derive(Clone, Debug, Default)]
pub struct Panel {
    /// The panel's caption.
    pub title: String,
    /// Its series.
    pub series: Vec<Series>,
}

/// Writes `<path_stem>.svg` and `<path_stem>.png`: the panels in a grid of at most three
/// columns (1200 pixels wide, 400 per row of panels, 650 for a single panel), each with its
/// own axes over the same x label and y label, the overall title above and the legend
/// (the first panel's series names) in a panel to the right. One panel is the layout of
/// [`line_plot`]. Returns the two paths.
///
/// # Errors
/// [`Error::Io`] naming the file when it cannot be written.
pub fn panel_plot(
    path_stem: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    log_x: bool,
    panels: &[Panel],
) -> Result<[PathBuf; 2]> {
    REGISTER.call_once(|| {
        // The font is compiled in; a failure here would be a corrupt build.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
    let svg = path_stem.with_extension("svg");
    let png = path_stem.with_extension("png");
    let rows = panels.len().div_ceil(3).max(1) as u32;
    let size = (
        1200,
        if panels.len() <= 1 {
            650
        } else {
            60 + 400 * rows
        },
    );
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        draw_panels(&root, title, x_label, y_label, log_x, panels)
            .map_err(|e| plot_error(&svg, e))?;
        root.present().map_err(|e| plot_error(&svg, e))?;
    }
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        draw_panels(&root, title, x_label, y_label, log_x, panels)
            .map_err(|e| plot_error(&png, e))?;
        root.present().map_err(|e| plot_error(&png, e))?;
    }
    Ok([svg, png])
}

/// The legend (the first panel's series) to the right; one panel fills the rest under
/// its title, several share it in a grid of at most three columns.
fn draw_panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    log_x: bool,
    panels: &[Panel],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let (width, _) = root.dim_in_pixel();
    let (plot_area, legend_area) = root.split_horizontally(width.saturating_sub(260));
    let first = panels.first().map(|p| p.series.as_slice()).unwrap_or(&[]);
    legend_panel(&legend_area, first)?;
    if panels.len() <= 1 {
        return chart(&plot_area, title, 24, 10, x_label, y_label, log_x, first);
    }
    let body = plot_area.titled(title, ("sans-serif", 20))?;
    let rows = panels.len().div_ceil(3);
    let cols = panels.len().min(3);
    for (area, panel) in body.split_evenly((rows, cols)).iter().zip(panels) {
        let series = &panel.series;
        chart(area, &panel.title, 18, 4, x_label, y_label, log_x, series)?;
    }
    Ok(())
}

/// One chart with its caption, axes (about `x_labels` labels on the x axis) and series on
/// `area` (the caption says when there is nothing to plot).
#[allow(clippy::too_many_arguments)]
fn chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    caption_size: u32,
    x_labels: usize,
    x_label: &str,
    y_label: &str,
    log_x: bool,
    series: &[Series],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let pts = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| usable(p, log_x))
    };
    let (Some((x0, x1)), Some((y0, y1))) = (range(pts().map(|p| p.0)), range(pts().map(|p| p.1)))
    else {
        area.titled(
            &format!("{title} (nothing to plot)"),
            ("sans-serif", caption_size),
        )?;
        return Ok(());
    };
    // x0 and x1 are finite and positive here, so the ratio is a number (or +inf).
    if log_x && x1 / x0 > LOG_AXIS_MAX_RATIO {
        // plotters' logarithmic axis loops without end when x1/x0 overflows an f64 (its
        // count of decades becomes infinite): such ranges are drawn as log10 x on a linear
        // axis instead.
        let log10: Vec<Series> = series
            .iter()
            .map(|s| Series {
                points: s
                    .points
                    .iter()
                    .map(|&(x, y)| (if x > 0.0 { x.log10() } else { f64::NAN }, y))
                    .collect(),
                ..s.clone()
            })
            .collect();
        let label = format!("log10 {x_label}");
        return chart(
            area,
            title,
            caption_size,
            x_labels,
            &label,
            y_label,
            false,
            &log10,
        );
    }
    let pad = (y1 - y0) * 0.05;
    let (y0, y1) = (y0 - pad, y1 + pad);
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(title, ("sans-serif", caption_size))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(80);
    if log_x {
        let (x0, x1) = if x1 / x0 < 1.0 + 1e-9 {
            (x0 / 2.0, x1 * 2.0)
        } else {
            (x0, x1)
        };
        let mut chart = builder.build_cartesian_2d((x0..x1).log_scale(), y0..y1)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .x_labels(x_labels)
            .label_style(("sans-serif", 16))
            .x_label_formatter(&|x| format!("{x:.0e}"))
            .draw()?;
        for (k, s) in series.iter().enumerate() {
            draw_series(&mut chart, k, s, log_x)?;
        }
    } else {
        let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style(("sans-serif", 16))
            .draw()?;
        for (k, s) in series.iter().enumerate() {
            draw_series(&mut chart, k, s, log_x)?;
        }
    }
    Ok(())
}

fn draw_series<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    k: usize,
    s: &Series,
    log_x: bool,
) -> DrawResult
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let colour = COLOURS[k % COLOURS.len()];
    let style = ShapeStyle::from(&colour).stroke_width(2);
    // Split into runs of usable points, so that gaps stay gaps.
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for p in &s.points {
        if usable(p, log_x) {
            runs.last_mut().expect("non-empty").push(*p);
        } else if !runs.last().expect("non-empty").is_empty() {
            runs.push(Vec::new());
        }
    }
    for run in runs.into_iter().filter(|r| !r.is_empty()) {
        if s.markers_only {
            // No line.
        } else if s.dashed {
            chart.draw_series(DashedLineSeries::new(run.clone(), 8, 5, style))?;
        } else {
            chart.draw_series(LineSeries::new(run.clone(), style))?;
        }
        chart.draw_series(
            run.iter()
                .map(|&p| Circle::new(p, 3, ShapeStyle::from(&colour).filled())),
        )?;
    }
    Ok(())
}

/// The legend: one short line (dashed where the series is) and the name per series.
fn legend_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, series: &[Series]) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let font = ("sans-serif", 15).into_font().color(&BLACK);
    for (k, s) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let y = 60 + 24 * k as i32;
        let style = ShapeStyle::from(&colour).stroke_width(2);
        if s.markers_only {
            // A marker alone.
        } else if s.dashed {
            area.draw(&PathElement::new(vec![(10, y), (18, y)], style))?;
            area.draw(&PathElement::new(vec![(24, y), (32, y)], style))?;
        } else {
            area.draw(&PathElement::new(vec![(10, y), (32, y)], style))?;
        }
        area.draw(&Circle::new((21, y), 3, ShapeStyle::from(&colour).filled()))?;
        area.draw(&Text::new(s.name.clone(), (40, y - 8), font.clone()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_svg_and_png_with_gaps_and_log_axis() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("p");
        let s = vec![
            Series::new(
                "a",
                vec![(1e-2, 1.0), (1.0, 2.0), (f64::INFINITY, 3.0), (1e3, 0.5)],
            ),
            Series {
                name: "b".into(),
                points: vec![(0.0, 1.0), (10.0, f64::NAN), (100.0, 1.5)],
                dashed: true,
                markers_only: false,
            },
        ];
        let [svg, png] = line_plot(&stem, "t", "x", "y", true, &s).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains("<svg") && text.lines().any(|l| l.trim() == "a"));
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        // A log range wider than an f64 can divide (1e-300 to 1e300) is drawn as log10 x
        // (plotters' own log axis never returns there).
        let wide = vec![Series::new(
            "w",
            vec![(1e-300, 1.0), (1.0, 2.0), (1e300, 3.0)],
        )];
        let [svg, _] = line_plot(&stem, "wide", "beta", "y", true, &wide).unwrap();
        assert!(std::fs::read_to_string(svg).unwrap().contains("log10 beta"));
        let [svg, _] = line_plot(&stem, "empty", "x", "y", false, &[]).unwrap();
        assert!(std::fs::read_to_string(svg)
            .unwrap()
            .contains("nothing to plot"));
    }
}
