//! The printed tables and the CSV files of `ibex anneal`: path.csv, bifurcations.csv,
//! encoders and decoders, the bifurcation table and the IB / dual-IB comparison.

use super::thresholds::Threshold;
use crate::anneal::{Direction, Path};
use crate::branches::Metastable;
use crate::info::nats_to_bits;
use crate::locate::{Bifurcation, Kind};
use crate::scalar::Real;

/// The located changes of the IB and the dual IB side by side: each change of the cluster
/// count (direction, before -> after) that both methods located, with its kind and beta in
/// each and their ratio.
pub(super) fn critical_points_compared<T: Real>(
    ib: &[Bifurcation<T>],
    dual: &[Bifurcation<T>],
) -> String {
    let mut s = String::from("== critical points along the paths compared\n");
    let located = |b: &&Bifurcation<T>| b.kind != Kind::Unlocated;
    let mut any = false;
    for a in ib.iter().filter(located) {
        let key = (a.direction, a.clusters_before, a.clusters_after);
        if let Some(b) = dual
            .iter()
            .filter(located)
            .find(|b| (b.direction, b.clusters_before, b.clusters_after) == key)
        {
            any = true;
            s.push_str(&format!(
                "  {:<11} {:>3}->{:<3} IB {:<10} {}  dual IB {:<10} {}  (dual / IB = {:.6})\n",
                a.direction.as_str(),
                a.clusters_before,
                a.clusters_after,
                a.kind.as_str(),
                beta_text(a.beta_located.to_f64(), 15),
                b.kind.as_str(),
                beta_text(b.beta_located.to_f64(), 15),
                (b.beta_located.clone() / a.beta_located.clone()).to_f64()
            ));
        }
    }
    if !any {
        s.push_str("  (no change of the cluster count located by both)\n");
    }
    s
}

/// A beta for the printed tables: `digits` decimals, in exponent form outside [1e-4, 1e6)
/// (so that beta = 1e300 prints as 1.000000e300, not as 301 digits).
pub(super) fn beta_text(v: f64, digits: usize) -> String {
    if v != 0.0 && v.is_finite() && !(1e-4..1e6).contains(&v.abs()) {
        format!("{v:.digits$e}")
    } else {
        format!("{v:.digits$}")
    }
}

fn opt(v: &Option<impl Real>) -> String {
    v.as_ref().map_or(String::new(), |v| v.to_decimal())
}

pub(super) fn bifurcation_table<T: Real>(
    method: &str,
    bifurcations: &[Bifurcation<T>],
    thresholds: &[Threshold<T>],
    onset_check: Option<&str>,
    hysteresis: &[(T, T)],
    metastable: &[Metastable<T>],
) -> String {
    let mut s = format!("trivial-solution thresholds ({method}):\n");
    if thresholds.is_empty() {
        s.push_str(
            "  none: the splitting eigenvalue and the onset constant are 0, so the trivial \
             solution is optimal at every beta (as when X and Y are independent)\n",
        );
    }
    for (kind, v, how) in thresholds {
        let value = v
            .as_ref()
            .map_or("undefined".to_string(), |v| v.to_decimal());
        s.push_str(&format!("  {kind:<10} beta = {value}  ({how})\n"));
    }
    s.push_str(onset_check.unwrap_or(""));
    s.push_str(&format!(
        "bifurcations along the paths:\n  {:<11} {:<9} {:>24} {:>24} {:>9} {:>7} {:>11}\n",
        "direction", "kind", "beta_predicted", "beta_located", "tolerance", "clusters", "iter_near"
    ));
    for b in bifurcations {
        s.push_str(&format!(
            "  {:<11} {:<9} {:>24} {:>24} {:>9.1e} {:>7} {:>11}\n",
            b.direction.as_str(),
            b.kind.as_str(),
            b.beta_predicted
                .as_ref()
                .map_or("-".to_string(), |v| beta_text(v.to_f64(), 17)),
            beta_text(b.beta_located.to_f64(), 17),
            b.tolerance.to_f64(),
            format!("{}->{}", b.clusters_before, b.clusters_after),
            b.iterations_near
        ));
    }
    let unconverged: Vec<String> = bifurcations
        .iter()
        .filter(|b| b.unconverged_solves > 0)
        .map(|b| {
            format!(
                "{} {}->{} ({})",
                b.direction.as_str(),
                b.clusters_before,
                b.clusters_after,
                b.unconverged_solves
            )
        })
        .collect();
    if !unconverged.is_empty() {
        s.push_str(&format!(
            "warning: branch solves stopped at --max-iter while locating (a condition on an \
             unconverged solve, or an objective comparison cut short; how many: \
             `unconverged_solves` in bifurcations.csv; a larger --max-iter may sharpen \
             these rows): {}\n",
            unconverged.join(", ")
        ));
    }
    let unlocated: Vec<&Bifurcation<T>> = bifurcations
        .iter()
        .filter(|b| b.kind == Kind::Unlocated)
        .collect();
    if !unlocated.is_empty() {
        let changes: usize = unlocated
            .iter()
            .map(|b| b.clusters_before.abs_diff(b.clusters_after))
            .sum();
        s.push_str(&format!(
            "not located: {changes} change(s) of the cluster count in {} bracket(s) beyond \
             --max-located (kind `unlocated`: beta_located = the bracket's geometric midpoint, \
             tolerance = its relative width); --max-located all locates every one\n",
            unlocated.len()
        ));
    }
    for (a, b) in hysteresis {
        s.push_str(&format!(
            "hysteresis: up and down sweeps differ for beta in [{}, {}] (metastable branch)\n",
            beta_text(a.to_f64(), 6),
            beta_text(b.to_f64(), 6)
        ));
    }
    // One line per path: the stretches themselves are in summary.json.
    for direction in [Direction::Up, Direction::Down, Direction::Independent] {
        let mine: Vec<&Metastable<T>> = metastable
            .iter()
            .filter(|m| m.direction == direction)
            .collect();
        let Some(worst) = mine.iter().max_by(|a, b| {
            a.max_excess
                .partial_cmp(&b.max_excess)
                .unwrap_or(std::cmp::Ordering::Equal)
        }) else {
            continue;
        };
        let points: usize = mine.iter().map(|m| m.points).sum();
        s.push_str(&format!(
            "metastable: the {} path lies above the best point found at {points} grid point(s) \
             in {} stretch(es) within beta [{}, {}], by up to {:.3e} nats (at beta {}, \
             below it: {}); the stretches are in summary.json\n",
            direction.as_str(),
            mine.len(),
            beta_text(mine[0].beta_first.to_f64(), 6),
            beta_text(mine[mine.len() - 1].beta_last.to_f64(), 6),
            worst.max_excess.to_f64(),
            beta_text(worst.beta_max_excess.to_f64(), 6),
            worst.best_direction.as_str()
        ));
    }
    s
}

pub(super) fn bifurcations_csv<T: Real>(method: &str, bifurcations: &[Bifurcation<T>]) -> String {
    let mut s = String::from("method,kind,beta_predicted,beta_located,tolerance,clusters_before,clusters_after,iterations_near,direction,bracket_lo,bracket_hi,unconverged_solves\n");
    for b in bifurcations {
        s.push_str(&format!(
            "{method},{},{},{},{},{},{},{},{},{},{},{}\n",
            b.kind.as_str(),
            opt(&b.beta_predicted),
            b.beta_located.to_decimal(),
            b.tolerance.to_decimal(),
            b.clusters_before,
            b.clusters_after,
            b.iterations_near,
            b.direction.as_str(),
            b.bracket.0.to_decimal(),
            b.bracket.1.to_decimal(),
            b.unconverged_solves
        ));
    }
    s
}

/// `encoders.csv` (direction, beta, x, t, q_t_given_x) and `decoders.csv` (direction,
/// beta, t, q_t, y, q_y_given_t) of every path point, long format: t numbers the distinct
/// clusters heaviest first (the order of `clusters` in path.csv), each the sum of its
/// member columns, q(t|x) = Σ_{s in t} q(s|x); its decoder is the members' decoders
/// averaged by mass, q(y|t) = Σ_{s in t} q(s) q(y|s) / q(t). x and y are the file's labels.
pub(super) fn encoders_and_decoders_csv<T: Real>(
    p: &crate::dist::Joint<T>,
    paths: &[Path<T>],
) -> (String, String) {
    let mut enc = String::from("direction,beta,x,t,q_t_given_x\n");
    let mut dec = String::from("direction,beta,t,q_t,y,q_y_given_t\n");
    for path in paths {
        let direction = path.direction.as_str();
        for s in &path.points {
            let beta = s.beta.to_decimal();
            let merged = crate::solve::merged_encoder(s, s.clusters.len().max(1));
            for (x, label) in p.x_labels().iter().enumerate() {
                for t in 0..merged.ncols() {
                    enc.push_str(&format!(
                        "{direction},{beta},{label},{t},{}\n",
                        merged[(x, t)].to_decimal()
                    ));
                }
            }
            let decoders = s.distinct_decoders();
            for (t, (mass, _)) in s.clusters.iter().enumerate() {
                for (y, label) in p.y_labels().iter().enumerate() {
                    dec.push_str(&format!(
                        "{direction},{beta},{t},{},{label},{}\n",
                        mass.to_decimal(),
                        decoders[(t, y)].to_decimal()
                    ));
                }
            }
        }
    }
    (enc, dec)
}

pub(super) fn path_csv<T: Real>(paths: &[Path<T>], on_envelope: &[(usize, usize)]) -> String {
    let mut s = String::from("beta,i_xt_bits,i_ty_bits,h_t_bits,objective,clusters,iterations,termination,residual,direction,on_envelope\n");
    for (i, path) in paths.iter().enumerate() {
        for (j, p) in path.points.iter().enumerate() {
            let masses: Vec<T> = p.clusters.iter().map(|(m, _)| m.clone()).collect();
            s.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{}\n",
                p.beta.to_decimal(),
                nats_to_bits(&p.i_xt).to_decimal(),
                nats_to_bits(&p.i_ty).to_decimal(),
                nats_to_bits(&crate::info::entropy(&masses)).to_decimal(),
                p.objective.to_decimal(),
                p.clusters.len(),
                p.iterations,
                p.termination.as_str(),
                p.residual.to_decimal(),
                path.direction.as_str(),
                on_envelope.contains(&(i, j))
            ));
        }
    }
    s
}
