//! The trivial solution's thresholds for the table (linear, from the split eigenvalue; the
//! onset constant) and the checks of the onset constants against the paths.

use std::sync::OnceLock;

use serde_json::json;

use super::tables::beta_text;
use crate::anneal::Path;
use crate::bifurcation::{
    dual_nucleation_test_within, dual_split_eigenvalues, ib_split_eigenvalues, is_rounding_level,
    Supremum,
};
use crate::bottleneck::Bottleneck;
use crate::dual_ib::DualIb;
use crate::locate::{sdpi_lower_bound, trivial_onset_constant};
use crate::scalar::Real;
use crate::solve::Init;

/// The IB's onset constant s* (from the supremum search) checked against the paths:
/// every solution's I(T;Y)/I(X;T) is a lower bound on s* ([`sdpi_lower_bound`]), so a
/// path point above s* (beyond a relative slack of epsilon^(1/4), for rounding) shows that
/// the search missed the global supremum and that the onset 1/s* is too high. A line for
/// the table and the `s_star_check` object of summary.json; `None` for the dual IB (no
/// such characterisation of η_dual is known to us) or without s* or a usable point.
pub(super) fn onset_check<T: Real>(
    method: &str,
    onset: &OnceLock<Option<Supremum<T>>>,
    paths: &[Path<T>],
) -> Option<(String, serde_json::Value)> {
    if method != "ib" {
        return None;
    }
    let s_star = onset.get()?.as_ref()?.value.clone();
    let (ratio, beta, direction) = sdpi_lower_bound(paths)?;
    let slack = T::epsilon().sqrt().sqrt();
    let consistent = ratio <= s_star.clone() * (T::one() + slack);
    let text = if consistent {
        format!(
            "  check      s* = {:.12} >= {:.12}, the largest I(T;Y)/I(X;T) on the paths \
             ({} path, beta = {}): consistent\n",
            s_star.to_f64(),
            ratio.to_f64(),
            direction.as_str(),
            beta_text(beta.to_f64(), 6)
        )
    } else {
        format!(
            "warning: the {} path at beta = {} has I(T;Y)/I(X;T) = {:.12}, above s* = {:.12} \
             from the supremum search, which has missed the global supremum: the nucleation \
             onset from the trivial solution is at most {}, below the 1/s* reported\n",
            direction.as_str(),
            beta_text(beta.to_f64(), 6),
            ratio.to_f64(),
            s_star.to_f64(),
            beta_text((T::one() / ratio.clone()).to_f64(), 12)
        )
    };
    let value = json!({
        "s_star": s_star.to_f64(),
        "largest_ratio_on_paths": ratio.to_f64(),
        "beta": beta.to_f64(),
        "direction": direction.as_str(),
        "consistent": consistent,
    });
    Some((text, value))
}

/// Iterations per start of the dual nucleation test in [`eta_dual_check`].
const ETA_DUAL_CHECK_MAX_ITER: usize = 5_000;

/// A threshold of the trivial solution: kind, β (`None`: undefined), how it was found.
pub(super) type Threshold<T> = (&'static str, Option<T>, String);

/// The dual IB's onset constant η_dual (from the supremum search) checked by the dual
/// nucleation test, an independent maximisation of the growth factor c(q) of a new cluster
/// over decoders q ([`crate::bifurcation::dual_nucleation_test`]): at β = (1 − 1e-6)/η_dual no new cluster may
/// grow from the trivial solution (max_q c(q) ≤ 1 + 1e-12). If one does, the search missed
/// the supremum and the onset is lower than reported. A line for the table and the
/// `eta_dual_check` object of summary.json; `None` for the IB (see [`onset_check`]) or
/// without a positive η_dual.
pub(super) fn eta_dual_check<T: Real>(
    method: &str,
    p: &crate::dist::Joint<T>,
    onset: &OnceLock<Option<Supremum<T>>>,
) -> Option<(String, serde_json::Value)> {
    if method != "dualib" {
        return None;
    }
    let eta = onset.get()?.as_ref()?.value.clone();
    if eta.is_nan() || eta <= T::zero() {
        return None;
    }
    let beta = (T::one() - T::from_f64(1e-6)) / eta.clone();
    let trivial = Init::<T>::SingleCluster.encoder(p.nx(), 1).ok()?;
    // At most 5,000 iterations per start: with η_dual at its local limit λ_dual this β is
    // 1e-6 below a continuous transition, where starts near the trivial decoder creep
    // towards it at a rate of 1 − 1e-6 per iteration (with 100,000 per start, `ibex
    // bifurcations` on the 32x32 discretised Gaussian with label noise 1e-6 took 67 s, most
    // of it here; 8 s with the cap). A missed first-order supremum shows as a start that
    // climbs above 1 well within the cap.
    let growth = dual_nucleation_test_within(p, &beta, &trivial, ETA_DUAL_CHECK_MAX_ITER)
        .value()
        .clone()
        - T::one();
    let consistent = growth <= T::from_f64(1e-12);
    let text = if consistent {
        format!(
            "  check      no new cluster grows at beta = {} = (1 - 1e-6)/eta_dual (max c(q) - 1 = {:.1e}, dual nucleation test): consistent\n",
            beta_text(beta.to_f64(), 12),
            growth.to_f64()
        )
    } else {
        format!(
            "warning: a new cluster already grows from the trivial solution at beta = {} \
             (max c(q) - 1 = {:.3e}, dual nucleation test), below 1/eta_dual = {}: the \
             eta_dual search missed the supremum, and the onset is lower than reported\n",
            beta_text(beta.to_f64(), 12),
            growth.to_f64(),
            beta_text((T::one() / eta).to_f64(), 12)
        )
    };
    let value = json!({
        "beta": beta.to_f64(),
        "max_growth": growth.to_f64(),
        "consistent": consistent,
    });
    Some((text, value))
}

/// The trivial solution's thresholds: linear (1/ρ_m² or 1/λ_dual) and nucleation
/// (1/s* or 1/η_dual, from `onset`, computed there at most once). For the dual IB on a
/// joint where no y has p(y|x) > 0 for every x the single cluster has no decoder, so there
/// is no trivial solution: one nucleation row without a value says so.
pub(super) fn trivial_thresholds<T: Real>(
    method: &str,
    p: &crate::dist::Joint<T>,
    onset: &OnceLock<Option<Supremum<T>>>,
) -> Vec<Threshold<T>> {
    let trivial = Init::<T>::SingleCluster
        .encoder(p.nx(), 1)
        .expect("single cluster");
    if method == "dualib" && !DualIb.decoder(p, &trivial, &[T::one()]).live()[0] {
        return vec![(
            "nucleation",
            None,
            "1/eta_dual: no trivial solution, since no y has p(y|x) > 0 for every x, the \
             single cluster has no dual-IB decoder"
                .to_string(),
        )];
    }
    let lin = if method == "dualib" {
        dual_split_eigenvalues(p, &trivial)[0].clone()
    } else {
        ib_split_eigenvalues(p, &trivial)[0].clone()
    };
    let mut out = Vec::new();
    let nuc = onset
        .get_or_init(|| trivial_onset_constant(method, p))
        .as_ref();
    if let Some(l) = lin.filter(|l| !is_rounding_level(p, l)) {
        let name = if method == "dualib" {
            "1/lambda_dual"
        } else {
            "1/rho_m^2"
        };
        out.push(("linear", Some(T::one() / l), name.to_string()));
    }
    if let Some(nuc) = nuc.filter(|n| !n.value.is_zero()) {
        let name = if method == "dualib" {
            "1/eta_dual"
        } else {
            "1/s* (eta_KL)"
        };
        out.push((
            "nucleation",
            Some(T::one() / nuc.value.clone()),
            format!("{name}, {:?}", nuc.method),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anneal::{anneal, AnnealOptions, Direction};
    use crate::bifurcation::SupremumMethod;
    use crate::ib::Ib;

    /// The check passes with the true s* of the binary-X example and warns, with the
    /// path's upper bound on the onset, when handed a supremum below what the path shows
    /// (as a search that missed the global maximum would return).
    #[test]
    fn the_onset_check_warns_when_a_path_beats_the_searched_supremum() {
        let p = crate::io::parse_joint::<f64>(
            "binary",
            "0.72,0.18\n0.01,0.09\n",
            &crate::io::ReadOptions::default(),
        )
        .unwrap()
        .joint;
        let stop = crate::solve::Stop::<f64>::default();
        let options = AnnealOptions {
            adaptive: true,
            max_points: 200,
            ..AnnealOptions::new(stop)
        };
        let betas: Vec<f64> = (0..20).map(|i| 2.0 + 0.25 * i as f64).collect();
        let down = anneal(&Ib, &p, &betas, Direction::Down, &options, &|_| {});
        let cell = |value: f64| {
            let onset = OnceLock::new();
            let _ = onset.set(Some(Supremum {
                value,
                argmax: vec![],
                method: SupremumMethod::Search,
                polish: None,
            }));
            onset
        };
        let paths = [down];
        let (text, json) = onset_check("ib", &cell(0.3907806968453705), &paths).unwrap();
        assert!(
            text.contains("consistent") && json["consistent"] == true,
            "{text}"
        );
        let (text, json) = onset_check("ib", &cell(0.35), &paths).unwrap();
        assert!(
            text.starts_with("warning") && json["consistent"] == false,
            "{text}"
        );
        let ratio = json["largest_ratio_on_paths"].as_f64().unwrap();
        assert!(ratio > 0.39 && ratio <= 0.3907806968453705, "{ratio}");
        assert!(onset_check("dualib", &cell(0.35), &paths).is_none());
    }

    /// The dual check passes with the searched η_dual of the dual-IB paper example (which
    /// tests/thresholds.rs checks against mpmath) and of a 4x3 joint whose rows share one
    /// outcome (η_dual on a face; the interior search alone gave 0), and warns when handed
    /// a value 1% below (a missed supremum); on the 32x32 discretised Gaussian, whose tails
    /// hold exact zeros, the search (interior only above 12 inputs) misses the faces and the
    /// check says so.
    #[test]
    fn the_dual_onset_check_warns_when_a_new_cluster_grows_below_the_onset() {
        let read = |text: &str| {
            crate::io::parse_joint::<f64>(
                "t",
                text,
                &crate::io::ReadOptions {
                    normalize: true,
                    ..Default::default()
                },
            )
            .unwrap()
            .joint
        };
        let cell = |sup: Option<Supremum<f64>>| {
            let onset = OnceLock::new();
            let _ = onset.set(sup);
            onset
        };
        let paper = read(include_str!("../../../data/examples/dualib_5x2.csv"));
        let shared_one = read(
            "0,0.305129,0.187756\n0,0.015970,0\n0.042889,0.174129,0.180432\n0.033189,0.060504,0\n",
        );
        for p in [&paper, &shared_one] {
            let sup = crate::bifurcation::dual_nucleation_constant(p);
            assert!(sup.value > 0.0);
            let eta = sup.value;
            let (text, json) = eta_dual_check("dualib", p, &cell(Some(sup.clone()))).unwrap();
            assert!(json["consistent"] == true, "{text}");
            let low = Supremum {
                value: 0.99 * eta,
                ..sup
            };
            let (text, json) = eta_dual_check("dualib", p, &cell(Some(low))).unwrap();
            assert!(
                text.starts_with("warning") && json["consistent"] == false,
                "{text}"
            );
        }
        let gaussian = read(include_str!(
            "../../../data/examples/gaussian_rho0.9_n32.csv"
        ));
        let sup = crate::bifurcation::dual_nucleation_constant(&gaussian);
        let (text, _) = eta_dual_check("dualib", &gaussian, &cell(Some(sup))).unwrap();
        assert!(text.starts_with("warning"), "{text}");
        assert!(eta_dual_check("ib", &paper, &cell(None)).is_none());
    }
}
