//! The two figures of `ibex anneal`: the information plane and the bifurcation diagram
//! (SVG and PNG).

use std::path::{Path as FsPath, PathBuf};

use crate::anneal::Path;
use crate::bifurcation::largest_indices;
use nalgebra::DMatrix;

use crate::error::Result;
use crate::info::{h_x, mutual_information, nats_to_bits};
use crate::locate::{Bifurcation, Kind};
use crate::plot::{line_plot, panel_plot, Panel, Series};
use crate::scalar::Real;

/// Most panels the bifurcation diagram draws.
const DIAGRAM_PANELS: usize = 12;

/// The outcomes y whose decoder coordinate the bifurcation diagram draws, in label order:
/// the first alone for binary Y (the other is 1 minus it), every y up to
/// [`DIAGRAM_PANELS`], else the most probable ones under p(y) (ties to the first).
fn diagram_outcomes<T: Real>(p_y: &[T]) -> Vec<usize> {
    if p_y.len() == 2 {
        return vec![0];
    }
    largest_indices(p_y, DIAGRAM_PANELS)
}

pub(super) fn plots<T: Real>(
    dir: &FsPath,
    method: &str,
    p: &crate::dist::Joint<T>,
    paths: &[Path<T>],
    bifurcations: &[Bifurcation<T>],
) -> Result<Vec<PathBuf>> {
    let i_xy = nats_to_bits(&mutual_information(p)).to_f64();
    let hx = nats_to_bits(&h_x(p)).to_f64();
    let mut series: Vec<Series> = paths
        .iter()
        .map(|path| {
            Series::new(
                format!("{method} {} sweep", path.direction.as_str()),
                path.points
                    .iter()
                    .map(|s| {
                        (
                            nats_to_bits(&s.i_xt).to_f64(),
                            nats_to_bits(&s.i_ty).to_f64(),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let mut bound = Series::new(
        format!("I(X;Y) = {i_xy:.4} bits"),
        vec![(0.0, i_xy), (hx, i_xy)],
    );
    bound.dashed = true;
    let mut hx_line = Series::new(format!("H(X) = {hx:.4} bits"), vec![(hx, 0.0), (hx, i_xy)]);
    hx_line.dashed = true;
    series.push(bound);
    series.push(hx_line);
    // Located changes only: an unlocated bracket's midpoint is not a transition.
    let marks: Vec<(f64, f64)> = bifurcations
        .iter()
        .filter(|b| b.kind != Kind::Unlocated)
        .filter_map(|b| {
            let path = paths.iter().find(|pa| pa.direction == b.direction)?;
            let s = path.points.iter().find(|s| s.beta >= b.beta_located)?;
            Some((
                nats_to_bits(&s.i_xt).to_f64(),
                nats_to_bits(&s.i_ty).to_f64(),
            ))
        })
        .collect();
    if !marks.is_empty() {
        let mut marks = Series::new("bifurcations (first point after)", marks);
        marks.markers_only = true;
        series.push(marks);
    }
    let mut written = line_plot(
        &dir.join("information_plane"),
        &format!("Information plane, {method} (bits)"),
        "I(X;T) [bits]",
        "I(T;Y) [bits]",
        false,
        &series,
    )?
    .to_vec();
    // Bifurcation diagram: every distinct cluster's decoder against beta, one panel per y
    // (for binary Y the first alone: q(y1|t) = 1 - q(y0|t)), one series per sweep.
    let shown = diagram_outcomes(p.p_y());
    let decoders: Vec<Vec<DMatrix<T>>> = paths
        .iter()
        .map(|path| path.points.iter().map(|s| s.distinct_decoders()).collect())
        .collect();
    let panels: Vec<Panel> = shown
        .iter()
        .map(|&y| Panel {
            title: format!("q(y = {}|t)", p.y_labels()[y]),
            series: paths
                .iter()
                .zip(&decoders)
                .map(|(path, decoders)| {
                    let points = path
                        .points
                        .iter()
                        .zip(decoders)
                        .flat_map(|(s, d)| {
                            let beta = s.beta.to_f64();
                            (0..d.nrows()).map(move |t| (beta, d[(t, y)].to_f64()))
                        })
                        .collect();
                    let mut series = Series::new(
                        format!("{} sweep: distinct clusters", path.direction.as_str()),
                        points,
                    );
                    series.markers_only = true;
                    series
                })
                .collect(),
        })
        .collect();
    let which = match (p.ny(), shown.len()) {
        (2, _) => format!(
            "y = {}; q(y = {}|t) is 1 minus it",
            p.y_labels()[0],
            p.y_labels()[1]
        ),
        (ny, k) if k == ny => "every y".to_string(),
        (ny, k) => format!("the {k} most probable of {ny} y (all: decoders.csv)"),
    };
    written.extend(panel_plot(
        &dir.join("bifurcation_diagram"),
        &format!("Decoders q(y|t) of the distinct clusters, {method}: {which}"),
        "beta (log scale)",
        "q(y|t)",
        true,
        &panels,
    )?);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diagram_draws_every_y_up_to_twelve_else_the_most_probable() {
        assert_eq!(diagram_outcomes(&[0.3, 0.7]), vec![0]);
        assert_eq!(diagram_outcomes(&[0.2, 0.5, 0.3]), vec![0, 1, 2]);
        // 16 outcomes, y = 15 the most probable, the rest tied: ties go to the first labels.
        let mut p = vec![1.0; 16];
        p[15] = 2.0;
        let want: Vec<usize> = (0..11).chain([15]).collect();
        assert_eq!(diagram_outcomes(&p), want);
    }
}
