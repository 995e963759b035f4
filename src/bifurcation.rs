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
//!   constant of [AGKN13] (the spec's η_KL; a different quantity from the channel's
//!   contraction coefficient), and for the dual IB at 1/η_dual,
//!   η_dual = sup_r D(q_p ‖ q_r) / D(r ‖ p_X), q_r the normalised geometric mean under r.

use nalgebra::DMatrix;

use crate::bottleneck::cluster_marginal;
use crate::dist::Joint;
use crate::dual_ib::geometric_decoder;
use crate::info::kl;
use crate::scalar::Real;
use crate::spectrum::{singular_values, MaximalCorrelation};

/// q(x|t) for the live clusters: `None` for clusters without mass.
fn members<T: Real>(p: &Joint<T>, q_t_given_x: &DMatrix<T>) -> Vec<Option<Vec<T>>> {
    let q_t = cluster_marginal(p, q_t_given_x);
    (0..q_t.len())
        .map(|t| {
            (!q_t[t].is_zero()).then(|| {
                (0..p.nx())
                    .map(|x| p.p_x()[x].clone() * &q_t_given_x[(x, t)] / &q_t[t])
                    .collect()
            })
        })
        .collect()
}

/// The IB split eigenvalue of every cluster: λ_2(C_t) = ρ_m² of the joint
/// q(x|t)·p(y|x); `None` for empty clusters.
///
/// # Formula
/// C_t[x,x'] = Σ_y p(y|x) p(y|x') q(x'|t) / q(y|t); λ_2(C_t) = σ_2(B_t)²,
/// B_t[x,y] = q(x|t) p(y|x) / sqrt(q(x|t) q(y|t))  (spec ib §3.2, verified there and by
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

/// λ_dual for weights w over x and a decoder q0 over y: the largest eigenvalue of
/// H W K W H = σ_max(G W H)², G[y,x] = sqrt(q0(y)) (ln p(y|x) − E_{q0} ln p(·|x)).
fn lambda_dual_of<T: Real>(p: &Joint<T>, w: &[T], q0: &[T]) -> T {
    let (nx, ny) = (p.nx(), p.ny());
    let live_y: Vec<usize> = (0..ny).filter(|&y| !q0[y].is_zero()).collect();
    let ln = p.ln_p_y_given_x();
    let means: Vec<T> = (0..nx)
        .map(|x| {
            live_y
                .iter()
                .fold(T::zero(), |acc, &y| acc + q0[y].clone() * &ln[(x, y)])
        })
        .collect();
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

/// The dual-IB split eigenvalue λ_dual(t) of every cluster (`None` for dead clusters).
///
/// # Formula
/// λ_dual(t) = λ_max(H W K W H), W = diag(sqrt q(x|t)), H = I − sqrt(w) sqrt(w)ᵀ,
/// K[x,x'] = Cov_{q(·|t)}(ln p(·|x), ln p(·|x')), q(y|t) the geometric decoder
/// (spec ib §3.6, derived there; checked against its closed forms in `tests/anneal.rs`).
pub fn dual_split_eigenvalues<T: Real>(p: &Joint<T>, q_t_given_x: &DMatrix<T>) -> Vec<Option<T>> {
    let q_t = cluster_marginal(p, q_t_given_x);
    let (dec, _) = geometric_decoder(p, q_t_given_x, &q_t);
    members(p, q_t_given_x)
        .into_iter()
        .enumerate()
        .map(|(t, m)| {
            let m = m?;
            if !dec.live[t] {
                return None;
            }
            let q0: Vec<T> = dec.q_y_given_t.row(t).iter().cloned().collect();
            Some(lambda_dual_of(p, &m, &q0))
        })
        .collect()
}

/// How a supremum over input distributions was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupremumMethod {
    /// Binary X: a one-dimensional search refined by golden section at the working
    /// precision (exact up to the precision).
    Exact1D,
    /// The local limit r → p_X is the largest value (s* = ρ_m², or η_dual = λ_dual).
    LocalLimit,
    /// |X| > 2: a multistart Nelder-Mead search in f64 over the simplex (a lower bound on
    /// the supremum, evaluated at the working precision at the best point found).
    Search,
}

/// A supremum of a ratio over input distributions r.
#[derive(Clone, Debug)]
pub struct Supremum<T> {
    /// The value.
    pub value: T,
    /// Where it is attained (the local limit: p_X itself).
    pub argmax: Vec<T>,
    /// How it was found.
    pub method: SupremumMethod,
}

/// s* = sup_{r ≠ p_X} D(rP ‖ p_Y) / D(r ‖ p_X) [AGKN13]; the trivial IB solution is
/// the global optimum iff β ≤ 1/s*.
pub fn sdpi_constant<T: Real>(p: &Joint<T>) -> Supremum<T> {
    let local = {
        let rho = MaximalCorrelation::of(p).rho_m;
        rho.clone() * rho
    };
    let ratio = |r: &[T]| -> Option<T> {
        let den = kl(r, p.p_x());
        if !usable_denominator(&den) {
            return None;
        }
        let out: Vec<T> = (0..p.ny())
            .map(|y| {
                (0..p.nx()).fold(T::zero(), |acc, x| {
                    acc + r[x].clone() * &p.p_y_given_x()[(x, y)]
                })
            })
            .collect();
        Some(kl(&out, p.p_y()) / den)
    };
    supremum(p, local, ratio)
}

/// η_dual = sup_{r ≠ p_X} D(q_p ‖ q_r) / D(r ‖ p_X), with q_r(y) ∝ Π_x p(y|x)^{r(x)};
/// the trivial dual-IB solution is the global optimum iff β ≤ 1/η_dual (spec ib §3.6).
pub fn dual_nucleation_constant<T: Real>(p: &Joint<T>) -> Supremum<T> {
    let geometric = |r: &[T]| -> Vec<T> {
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
    };
    let q_p = geometric(p.p_x());
    let local = lambda_dual_of(p, p.p_x(), &q_p);
    let ratio = |r: &[T]| -> Option<T> {
        let den = kl(r, p.p_x());
        if !usable_denominator(&den) {
            return None;
        }
        let num = kl(&q_p, &geometric(r));
        num.is_finite().then(|| num / den)
    };
    supremum(p, local, ratio)
}

/// Near r = p_X both divergences are O(|r − p|²) and the ratio is lost to cancellation
/// (spec ib pitfall 11); there the local limit (ρ_m² or λ_dual) is used instead. A
/// denominator below 1e4·sqrt(epsilon) is not used.
fn usable_denominator<T: Real>(den: &T) -> bool {
    den.is_finite() && *den > T::from_f64(1e4) * T::epsilon().sqrt()
}

fn supremum<T: Real>(p: &Joint<T>, local: T, ratio: impl Fn(&[T]) -> Option<T>) -> Supremum<T> {
    let nx = p.nx();
    let mut best: Option<(T, Vec<T>)> = None;
    let consider = |r: Vec<T>, best: &mut Option<(T, Vec<T>)>| {
        if let Some(v) = ratio(&r) {
            if v.is_finite() && best.as_ref().is_none_or(|(b, _)| v > *b) {
                *best = Some((v, r));
            }
        }
    };
    let method = if nx == 2 {
        // Dense grid in a, then golden section around the best grid point.
        let n = 4000;
        let point = |a: T| vec![T::one() - a.clone(), a];
        let mut best_k: Option<usize> = None;
        for k in 0..=n {
            let a = T::from_u64(k as u64) / T::from_u64(n as u64);
            let before = best.as_ref().map(|(b, _)| b.clone());
            consider(point(a), &mut best);
            if best.as_ref().map(|(b, _)| b.clone()) != before {
                best_k = Some(k);
            }
        }
        if let Some(k) = best_k {
            let f = |a: &T| ratio(&point(a.clone()));
            let lo = T::from_u64(k.saturating_sub(1) as u64) / T::from_u64(n as u64);
            let hi = T::from_u64((k + 1).min(n) as u64) / T::from_u64(n as u64);
            let a = golden_max(&f, lo, hi);
            consider(point(a), &mut best);
        }
        SupremumMethod::Exact1D
    } else {
        for r in nelder_mead_search(nx, |r64: &[f64]| {
            let r: Vec<T> = r64.iter().map(|v| T::from_f64(*v)).collect();
            ratio(&r).map(|v| v.to_f64())
        }) {
            consider(r.iter().map(|v| T::from_f64(*v)).collect(), &mut best);
        }
        SupremumMethod::Search
    };
    match best {
        Some((v, r)) if v > local => Supremum {
            value: v,
            argmax: r,
            method,
        },
        _ => Supremum {
            value: local,
            argmax: p.p_x().to_vec(),
            method: SupremumMethod::LocalLimit,
        },
    }
}

/// Golden-section search for the maximum of a unimodal `f` on [lo, hi], to the working
/// precision (undefined points count as −inf).
fn golden_max<T: Real>(f: &impl Fn(&T) -> Option<T>, lo: T, hi: T) -> T {
    let inv_phi = (T::from_f64(5.0).sqrt() - T::one()) / T::from_f64(2.0);
    let (mut a, mut b) = (lo, hi);
    let val = |x: &T| f(x).unwrap_or_else(|| -T::infinity());
    let mut c = b.clone() - (b.clone() - a.clone()) * &inv_phi;
    let mut d = a.clone() + (b.clone() - a.clone()) * &inv_phi;
    let (mut fc, mut fd) = (val(&c), val(&d));
    let tol = T::epsilon() * T::from_f64(4.0);
    for _ in 0..(4 * T::PRECISION_BITS as usize) {
        if (b.clone() - a.clone()).abs() <= tol {
            break;
        }
        if fc > fd {
            b = d;
            d = c.clone();
            fd = fc;
            c = b.clone() - (b.clone() - a.clone()) * &inv_phi;
            fc = val(&c);
        } else {
            a = c;
            c = d.clone();
            fc = fd;
            d = a.clone() + (b.clone() - a.clone()) * &inv_phi;
            fd = val(&d);
        }
    }
    (a + b) / T::from_f64(2.0)
}

/// Multistart Nelder-Mead maximisation of `f` over the probability simplex in R^n
/// (softmax parameterisation); returns the local maxima found (deterministic starts).
fn nelder_mead_search(n: usize, f: impl Fn(&[f64]) -> Option<f64>) -> Vec<Vec<f64>> {
    let softmax = |z: &[f64]| -> Vec<f64> {
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|v| v / s).collect()
    };
    let g = |z: &[f64]| -> f64 { -f(&softmax(z)).unwrap_or(f64::NEG_INFINITY) };
    let mut rng = crate::gen::Uniform::new(0x5eed);
    let mut out = Vec::new();
    for start in 0..(8 + 4 * n) {
        let z0: Vec<f64> = (0..n)
            .map(|i| {
                if start < n {
                    if i == start {
                        3.0
                    } else {
                        0.0
                    }
                } else {
                    6.0 * rng.next() - 3.0
                }
            })
            .collect();
        let mut simplex: Vec<Vec<f64>> = vec![z0.clone()];
        for i in 0..n {
            let mut z = z0.clone();
            z[i] += 1.0;
            simplex.push(z);
        }
        let mut values: Vec<f64> = simplex.iter().map(|z| g(z)).collect();
        for _ in 0..400 * n {
            let mut order: Vec<usize> = (0..simplex.len()).collect();
            order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
            simplex = order.iter().map(|&i| simplex[i].clone()).collect();
            values = order.iter().map(|&i| values[i]).collect();
            let worst = simplex.len() - 1;
            if (values[worst] - values[0]).abs() < 1e-15 * values[0].abs().max(1e-300) {
                break;
            }
            let centroid: Vec<f64> = (0..n)
                .map(|i| simplex[..worst].iter().map(|z| z[i]).sum::<f64>() / worst as f64)
                .collect();
            let along = |t: f64| -> Vec<f64> {
                (0..n)
                    .map(|i| centroid[i] + t * (simplex[worst][i] - centroid[i]))
                    .collect()
            };
            let reflected = along(-1.0);
            let fr = g(&reflected);
            if fr < values[0] {
                let expanded = along(-2.0);
                let fe = g(&expanded);
                if fe < fr {
                    simplex[worst] = expanded;
                    values[worst] = fe;
                } else {
                    simplex[worst] = reflected;
                    values[worst] = fr;
                }
            } else if fr < values[worst - 1] {
                simplex[worst] = reflected;
                values[worst] = fr;
            } else {
                let contracted = along(0.5);
                let fc = g(&contracted);
                if fc < values[worst] {
                    simplex[worst] = contracted;
                    values[worst] = fc;
                } else {
                    let best = simplex[0].clone();
                    for k in 1..simplex.len() {
                        simplex[k] = (0..n).map(|i| 0.5 * (best[i] + simplex[k][i])).collect();
                        values[k] = g(&simplex[k]);
                    }
                }
            }
        }
        out.push(softmax(&simplex[0]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joint(rows: usize, cols: usize, v: &[f64]) -> Joint<f64> {
        Joint::new(DMatrix::from_row_slice(rows, cols, v)).unwrap()
    }

    #[test]
    fn binary_x_hysteresis_constants() {
        // spec ib §3.1: rho_m^2 = 49/219, s* = 0.3907806968453705.
        let p = joint(2, 2, &[0.72, 0.18, 0.01, 0.09]);
        let s = sdpi_constant(&p);
        assert_eq!(s.method, SupremumMethod::Exact1D);
        assert!((s.value - 0.3907806968453705).abs() < 1e-14, "{}", s.value);
    }

    #[test]
    fn dsbs_sdpi_is_the_local_limit() {
        let p = joint(2, 2, &[0.45, 0.05, 0.05, 0.45]);
        let s = sdpi_constant(&p);
        assert!((s.value - 0.64).abs() < 1e-12, "{}", s.value);
    }
}
