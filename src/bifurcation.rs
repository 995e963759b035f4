//! Stability and onset conditions of bottleneck solutions: where clusters split.
//!
//! Two kinds of transition (spec ib §3; papers/README.md, "What ibex verified itself"):
//!
//! * **linear** (continuous): a cluster t of a fixed point becomes unstable to splitting
//!   when β·λ_2(t) = 1. For the IB, λ_2(t) = λ_2(C_t) = ρ_m² of the joint
//!   q(x|t) p(y|x) (the conditional maximal correlation of X and Y given T = t); from the
//!   trivial solution this is 1/ρ_m². For the dual IB, λ_2(t) = λ_dual(t), built from the
//!   geometric decoder.
//! * **nucleation** (first order): a new cluster of vanishing mass and finite decoder
//!   lowers the objective. From the trivial solution this happens at β = 1/s*, with
//!   s* = sup_{r ≠ p_X} D(rP ‖ p_Y) / D(r ‖ p_X) ≥ ρ_m² the strong data-processing
//!   constant of \[AGKN13\] (the spec's η_KL; a different quantity from the channel's
//!   contraction coefficient), and for the dual IB at 1/η_dual,
//!   η_dual = sup_r D(q_p ‖ q_r) / D(r ‖ p_X), q_r the normalised geometric mean under r.
//!   For |X| > 2 both are found by an f64 search and polished by Newton at the working
//!   precision ([`SupremumMethod::SearchPolished`]).
//! * **nucleation test** at any fixed point (spec ib §3.1-3.2, §3.6): a zero-mass cluster
//!   with decoder q grows under one BA step iff c(q) = Σ_x p(x) e^{−β d(x,q)} / Z(x) > 1
//!   ([`ib_nucleation_test`], [`dual_nucleation_test`], [`new_cluster_growth`]).
//!
//! Layout: the split eigenvalues and the divergences every part shares are here; the onset
//! constants s* and η_dual in `bifurcation/onset.rs`, the nucleation test in
//! `bifurcation/nucleation.rs`, the derivative-free searches both use in
//! `bifurcation/search.rs` (their public items are re-exported here).

use nalgebra::DMatrix;

use crate::bottleneck::{cluster_marginal, members_given_cluster};
use crate::dist::Joint;
use crate::dual_ib::geometric_decoder;
use crate::scalar::Real;
use crate::spectrum::{singular_values, MaximalCorrelation};

mod nucleation;
mod onset;
mod search;

pub use nucleation::{
    dual_nucleation_test, dual_nucleation_test_within, ib_nucleation_test, new_cluster_growth,
    NucleationMaximum, NucleationTest,
};
pub use onset::{
    dual_nucleation_constant, independent_to_rounding, is_rounding_level, sdpi_constant, Polish,
    Supremum, SupremumMethod,
};
pub(crate) use search::largest_indices;
pub use search::{BUDGET_ITERATIONS, BUDGET_STARTS, FULL_SEARCH_MAX_X};

/// q(x|t) for the live clusters: `None` for clusters without mass.
fn members<T: Real>(p: &Joint<T>, q_t_given_x: &DMatrix<T>) -> Vec<Option<Vec<T>>> {
    let q_t = cluster_marginal(p, q_t_given_x);
    let q_x_given_t = members_given_cluster(p, q_t_given_x, &q_t);
    (0..q_t.len())
        .map(|t| (!q_t[t].is_zero()).then(|| q_x_given_t.row(t).iter().cloned().collect()))
        .collect()
}

/// The IB split eigenvalue of every cluster: λ_2(C_t) = ρ_m² of the joint
/// q(x|t)·p(y|x); `None` for empty clusters.
///
/// # Formula
/// C_t[x,x'] = Σ_y p(y|x) p(y|x') q(x'|t) / q(y|t); λ_2(C_t) = σ_2(B_t)²,
/// B_t\[x,y\] = q(x|t) p(y|x) / sqrt(q(x|t) q(y|t))  (spec ib §3.2, verified there and by
/// `tests/anneal.rs`).
pub fn ib_split_eigenvalues<T: Real>(p: &Joint<T>, q_t_given_x: &DMatrix<T>) -> Vec<Option<T>> {
    members(p, q_t_given_x)
        .into_iter()
        .map(|m| {
            let m = m?;
            let joint = DMatrix::from_fn(p.nx(), p.ny(), |x, y| {
                m[x].clone() * &p.p_y_given_x()[(x, y)]
            });
            let labels = |n: usize| (0..n).map(|i| i.to_string()).collect();
            let j = Joint::normalized(joint, labels(p.nx()), labels(p.ny()))
                .ok()?
                .joint;
            let rho = MaximalCorrelation::of(&j).rho_m;
            Some(rho.clone() * rho)
        })
        .collect()
}

/// The outcomes y with q0(y) > 0 and, for each x, the mean E_{q0} ln p(·|x) over them:
/// the centring of G[y,x] = sqrt(q0(y)) (ln p(y|x) − E_{q0} ln p(·|x)).
fn centred_logs<T: Real>(p: &Joint<T>, q0: &[T]) -> (Vec<usize>, Vec<T>) {
    let live_y: Vec<usize> = (0..p.ny()).filter(|&y| !q0[y].is_zero()).collect();
    let ln = p.ln_p_y_given_x();
    let means = (0..p.nx())
        .map(|x| {
            live_y
                .iter()
                .fold(T::zero(), |acc, &y| acc + q0[y].clone() * &ln[(x, y)])
        })
        .collect();
    (live_y, means)
}

/// λ_dual for weights w over x and a decoder q0 over y: the largest eigenvalue of
/// H W K W H = σ_max(G W H)², G[y,x] = sqrt(q0(y)) (ln p(y|x) − E_{q0} ln p(·|x)).
fn lambda_dual_of<T: Real>(p: &Joint<T>, w: &[T], q0: &[T]) -> T {
    let nx = p.nx();
    let (live_y, means) = centred_logs(p, q0);
    let ln = p.ln_p_y_given_x();
    let sqrt_w: Vec<T> = w.iter().map(|v| v.sqrt()).collect();
    // G W (ny_live × nx), then right-multiply by H = I − sqrt(w) sqrt(w)ᵀ.
    let gw = DMatrix::from_fn(live_y.len(), nx, |k, x| {
        let y = live_y[k];
        q0[y].sqrt() * (ln[(x, y)].clone() - &means[x]) * &sqrt_w[x]
    });
    let proj = DMatrix::from_fn(nx, nx, |a, b| {
        let id = if a == b { T::one() } else { T::zero() };
        id - sqrt_w[a].clone() * &sqrt_w[b]
    });
    let m = T::matmul(&gw, &proj);
    let s = singular_values(&m)
        .into_iter()
        .next()
        .unwrap_or_else(T::zero);
    s.clone() * s
}

/// ‖G W H‖_F² ≥ λ_dual (the matrix of [`lambda_dual_of`]), without the eigenproblem:
/// Σ_y q0(y) [ Σ_x w_x c_xy² − (Σ_x w_x c_xy)² ], c_xy = ln p(y|x) − E_{q0} ln p(·|x)
/// (each row a of G W loses (a·sqrt(w))² to the projection H, as Σ_x w_x = 1).
fn lambda_dual_bound_of<T: Real>(p: &Joint<T>, w: &[T], q0: &[T]) -> T {
    let (live_y, means) = centred_logs(p, q0);
    let ln = p.ln_p_y_given_x();
    let mut total = T::zero();
    for &y in &live_y {
        let (mut first, mut square) = (T::zero(), T::zero());
        for x in 0..p.nx() {
            let c = ln[(x, y)].clone() - &means[x];
            let wc = w[x].clone() * &c;
            square += wc.clone() * &c;
            first += wc;
        }
        total += q0[y].clone() * (square - first.clone() * &first);
    }
    total.max_of(T::zero())
}

/// For each cluster of the dual IB, `f(q(x|t), q(y|t))` with the geometric decoder;
/// `None` for dead clusters.
fn per_dual_cluster<T: Real>(
    p: &Joint<T>,
    q_t_given_x: &DMatrix<T>,
    f: impl Fn(&Joint<T>, &[T], &[T]) -> T,
) -> Vec<Option<T>> {
    let q_t = cluster_marginal(p, q_t_given_x);
    let (dec, _) = geometric_decoder(p, q_t_given_x, &q_t);
    members(p, q_t_given_x)
        .into_iter()
        .enumerate()
        .map(|(t, m)| {
            let m = m?;
            if !dec.live()[t] {
                return None;
            }
            let q0: Vec<T> = dec.q_y_given_t().row(t).iter().cloned().collect();
            Some(f(p, &m, &q0))
        })
        .collect()
}

/// The dual-IB split eigenvalue λ_dual(t) of every cluster (`None` for dead clusters).
///
/// # Formula
/// λ_dual(t) = λ_max(H W K W H), W = diag(sqrt q(x|t)), H = I − sqrt(w) sqrt(w)ᵀ,
/// K[x,x'] = Cov_{q(·|t)}(ln p(·|x), ln p(·|x')), q(y|t) the geometric decoder
/// (spec ib §3.6, derived there; checked against its closed forms in `tests/anneal.rs`).
pub fn dual_split_eigenvalues<T: Real>(p: &Joint<T>, q_t_given_x: &DMatrix<T>) -> Vec<Option<T>> {
    per_dual_cluster(p, q_t_given_x, lambda_dual_of)
}

/// An upper bound on every cluster's split eigenvalue that costs O(|X||Y|) per cluster
/// (no eigenproblem): `None` for dead clusters. A cluster with β·bound < 1 is linearly
/// stable to splitting, so [`crate::anneal`]'s up sweeps give copies only to the others.
///
/// # Formula
/// IB: λ_2(C_t) = σ_2(B_t)² ≤ Σ_{k≥2} σ_k(B_t)² = ‖B_t‖_F² − 1
///     = Σ_{x,y} q(x|t) p(y|x)² / q(y|t) − 1 (σ_1 = 1; the χ² information of the joint
///     q(x|t) p(y|x), with q(y|t) = Σ_x q(x|t) p(y|x)).
/// Dual IB: λ_dual(t) = σ_max(G W H)² ≤ ‖G W H‖_F²
///     = Σ_y q0(y) [ Σ_x w_x (g_xy − m_x)² − (Σ_x w_x (g_xy − m_x))² ],
///     w_x = q(x|t), g_xy = ln p(y|x), m_x = Σ_y q0(y) g_xy, q0 the geometric decoder
///     (the matrix of [`dual_split_eigenvalues`], each row of G W projected by H).
/// Other methods: `None` (no linear theory).
pub fn split_eigenvalue_bounds<T: Real>(
    method: &str,
    p: &Joint<T>,
    q_t_given_x: &DMatrix<T>,
) -> Option<Vec<Option<T>>> {
    let ny = p.ny();
    match method {
        "ib" => {
            // Two products (rows t): first = q(x|t)·p(y|x) = q(y|t), second = q(x|t)·p(y|x)².
            let q_t = cluster_marginal(p, q_t_given_x);
            let w = members_given_cluster(p, q_t_given_x, &q_t);
            let pyx = p.p_y_given_x();
            let first = T::matmul(&w, pyx);
            let second = T::matmul(&w, &pyx.map(|v| v.clone() * &v));
            Some(
                (0..q_t.len())
                    .map(|t| {
                        if q_t[t].is_zero() {
                            return None;
                        }
                        let total = (0..ny)
                            .filter(|&y| !first[(t, y)].is_zero())
                            .fold(T::zero(), |acc, y| {
                                acc + second[(t, y)].clone() / &first[(t, y)]
                            });
                        Some((total - T::one()).max_of(T::zero()))
                    })
                    .collect(),
            )
        }
        "dualib" => Some(per_dual_cluster(p, q_t_given_x, lambda_dual_bound_of)),
        _ => None,
    }
}

/// q_r(y) ∝ Π_x p(y|x)^{r(x)}, with q_r(y) = 0 where some x with r(x) > 0 has p(y|x) = 0.
fn geometric<T: Real>(p: &Joint<T>, r: &[T]) -> Vec<T> {
    let ln = p.ln_p_y_given_x();
    let dead: Vec<bool> = (0..p.ny())
        .map(|y| (0..p.nx()).any(|x| r[x] > T::zero() && p.p_y_given_x()[(x, y)].is_zero()))
        .collect();
    let logs: Vec<Option<T>> = (0..p.ny())
        .map(|y| {
            (!dead[y])
                .then(|| (0..p.nx()).fold(T::zero(), |acc, x| acc + r[x].clone() * &ln[(x, y)]))
        })
        .collect();
    let max = logs
        .iter()
        .flatten()
        .cloned()
        .reduce(|a, b| a.max_of(b))
        .unwrap_or_else(T::zero);
    let w: Vec<T> = logs
        .iter()
        .map(|l| {
            l.as_ref()
                .map_or_else(T::zero, |l| (l.clone() - &max).exp())
        })
        .collect();
    let total = w.iter().fold(T::zero(), |acc, v| acc + v);
    w.into_iter().map(|v| v / &total).collect()
}

/// D(a ‖ b) summed term by term in the Bregman form
/// Σ_{a>0} [a ln(1 + (a − b)/b) − (a − b)] + Σ_{a=0} b  (+inf if some b = 0 < a).
///
/// Equal to KL(a‖b) for probability vectors, but accurate near a = b: each term is
/// ≈ b·d²/2 (d = a/b − 1) and is computed to about epsilon·|d|·b, whereas Σ a ln(a/b)
/// is off by the rounding of Σ a − 1 and of ln(a/b) (≈ epsilon absolute each), which near
/// the maximiser of a nucleation ratio (D ≈ 1e-2 to 1e-4) is a relative error ≫ epsilon.
fn divergence<T: Real>(a: &[T], b: &[T]) -> T {
    let mut acc = T::zero();
    for (ai, bi) in a.iter().zip(b) {
        if ai.is_zero() {
            acc += bi;
            continue;
        }
        if bi.is_zero() {
            return T::infinity();
        }
        let diff = ai.clone() - bi;
        acc += ai.clone() * (diff.clone() / bi).ln_1p() - diff;
    }
    acc.max_of(T::zero())
}

/// rP: the output distribution (rP)_y = Σ_x r(x) P(y|x).
fn output<T: Real>(p: &Joint<T>, r: &[T]) -> Vec<T> {
    (0..p.ny())
        .map(|y| {
            (0..p.nx()).fold(T::zero(), |acc, x| {
                acc + r[x].clone() * &p.p_y_given_x()[(x, y)]
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A joint from a row-major table.
    pub(super) fn joint(rows: usize, cols: usize, v: &[f64]) -> Joint<f64> {
        Joint::new(DMatrix::from_row_slice(rows, cols, v)).unwrap()
    }

    #[test]
    fn divergence_is_kl_on_the_simplex() {
        let a = [0.2, 0.3, 0.5];
        let b = [0.25, 0.25, 0.5];
        let plain: f64 = a.iter().zip(&b).map(|(x, y)| x * (x / y).ln()).sum();
        assert!((divergence(&a, &b) - plain).abs() < 1e-16);
        assert_eq!(divergence(&[0.5, 0.5], &[1.0, 0.0]), f64::INFINITY);
        assert!((divergence(&[0.0, 1.0], &[0.5, 0.5]) - 2f64.ln()).abs() < 1e-16);
    }

    /// A random joint and encoder from a fixed linear-congruential stream.
    fn random_case(nx: usize, ny: usize, nt: usize, seed: u64) -> (Joint<f64>, DMatrix<f64>) {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            0.05 + (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let raw = DMatrix::from_fn(nx, ny, |_, _| next());
        let total = raw.sum();
        let p = Joint::new(raw / total).expect("positive normalised joint");
        let mut q = DMatrix::from_fn(nx, nt, |_, _| next());
        crate::solve::normalize_rows(&mut q);
        (p, q)
    }

    #[test]
    fn split_bounds_bound_the_eigenvalues_and_are_exact_for_two_outcomes() {
        for seed in 0..20u64 {
            let ny = 2 + (seed as usize % 4);
            let (p, q) = random_case(5, ny, 3, seed);
            for method in ["ib", "dualib"] {
                let exact = match method {
                    "ib" => ib_split_eigenvalues(&p, &q),
                    _ => dual_split_eigenvalues(&p, &q),
                };
                let bound = split_eigenvalue_bounds(method, &p, &q).unwrap();
                for (e, b) in exact.iter().zip(&bound) {
                    let (e, b) = (e.unwrap(), b.unwrap());
                    assert!(b >= e - 1e-14, "{method} seed {seed}: bound {b} < {e}");
                    // With |Y| = 2 the matrices have rank one past the trivial direction,
                    // so the bound is the eigenvalue itself.
                    if ny == 2 {
                        assert!((b - e).abs() < 1e-13 * (1.0 + e), "{method}: {b} vs {e}");
                    } else {
                        assert!(b > e * (1.0 + 1e-9), "{method} |Y| = {ny}: {b} vs {e}");
                    }
                }
            }
        }
        let (p, q) = random_case(3, 3, 2, 1);
        assert!(split_eigenvalue_bounds("dib", &p, &q).is_none());
    }
}
