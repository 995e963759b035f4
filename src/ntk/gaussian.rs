//! Information quantities of Gaussians and Gaussian mixtures (nats): the
//! Kolchinsky-Tracey pairwise bounds on I(X;Z) and I(Z;Y), the exact 1-D value by
//! quadrature, KL between Gaussians, and the Gibbs and Bayes log-likelihoods.
//!
//! # The channel
//! X is uniform over P points (c_i = 1/P); Z | X = x_i ~ p_i = N(m_i, v_i I_k) with m_i the
//! ensemble's mean at x_i and v_i = max(Σ_t(x_i, x_i), 0) + σ_n² (spec ntk-math A.3:
//! the output noise σ_n² is explicit). Y is the label of the point (groups of points with
//! equal targets). Then I(X;Z) = H(Z) − Σ_i c_i H(p_i) with p(z) = Σ_i c_i p_i(z).
//!
//! # Pairwise bounds \[KT17\] (spec ntk-math A.4; formula \[derived\] in the spec and
//! cross-checked there against public code and quadrature)
//! I_lower = −Σ_i c_i ln Σ_j c_j e^{−BD_ij} ≤ I(X;Z) ≤ I_upper = −Σ_i c_i ln Σ_j c_j e^{−KL_ij},
//! with, for isotropic k-dimensional components (spec D.1),
//! KL_ij = (k/2)[ln(v_j/v_i) + v_i/v_j − 1] + ‖m_i − m_j‖²/(2v_j),
//! BD_ij = (k/2) ln((v_i + v_j)/(2√(v_i v_j))) + ‖m_i − m_j‖²/(4(v_i + v_j)).
//! Both lie in [0, H(c)] = [0, ln P] and are exact for clustered mixtures.
//!
//! For I(Z;Y) = H(Z) − Σ_y p_y H(Z | Y = y) [derived here, not in the sources]: an upper
//! bound on H(Z) minus lower bounds on each H(Z | y) bounds I(Z;Y) from above, and vice
//! versa; the component entropies cancel, leaving
//! I_zy_lower = I_lower + Σ_i c_i ln Σ_{j: y_j = y_i} (c_j/p_{y_i}) e^{−KL_ij},
//! I_zy_upper = I_upper + Σ_i c_i ln Σ_{j: y_j = y_i} (c_j/p_{y_i}) e^{−BD_ij},
//! then clamped to [0, min(I_upper, H(Y))] (data processing: Y is a function of X).
//!
//! # Exact value (1-D outputs)
//! I(X;Z) = H(Z) − Σ_i c_i ½ ln(2πe v_i), with H(Z) = −∫ p ln p by composite
//! Gauss-Legendre quadrature (spec D.3, with a thinned mesh; see [`mixture_entropy_1d`]).

use nalgebra::DMatrix;
use rayon::prelude::*;

use super::linalg::{symmetrize, Cholesky};
use crate::scalar::Real;

/// A lower and an upper bound (nats).
#[derive(Clone, Debug, PartialEq)]
pub struct Bounds<T: Real> {
    /// The lower bound.
    pub lower: T,
    /// The upper bound.
    pub upper: T,
}

/// The pairwise bounds on I(X;Z) and (with labels) on I(Z;Y), nats.
#[derive(Clone, Debug)]
pub struct PairwiseBounds<T: Real> {
    /// Bhattacharyya lower and KL upper bound on I(X;Z).
    pub i_xz: Bounds<T>,
    /// Bounds on I(Z;Y) when labels were given.
    pub i_zy: Option<Bounds<T>>,
    /// ln P, the largest possible I(X;Z) (H of the uniform X).
    pub ln_p: T,
    /// H(Y) of the labels (nats), when labels were given.
    pub h_y: Option<T>,
}

/// ln Σ_j exp(a_j) computed stably (−∞ for an empty list).
pub fn log_sum_exp<T: Real>(a: &[T]) -> T {
    let mut max = -T::infinity();
    for x in a {
        if *x > max {
            max = x.clone();
        }
    }
    if !max.is_finite() {
        return max;
    }
    let s = a
        .iter()
        .fold(T::zero(), |acc, x| acc + (x.clone() - &max).exp());
    max + s.ln()
}

/// Groups equal label rows: the group index of each row (in order of first appearance)
/// and the number of groups. Rows are equal when every entry compares equal.
pub fn label_groups<T: Real>(y: &DMatrix<T>) -> (Vec<usize>, usize) {
    let mut reps: Vec<usize> = Vec::new();
    let mut groups = Vec::with_capacity(y.nrows());
    for i in 0..y.nrows() {
        let found = reps
            .iter()
            .position(|&r| (0..y.ncols()).all(|c| y[(r, c)] == y[(i, c)]));
        match found {
            Some(g) => groups.push(g),
            None => {
                reps.push(i);
                groups.push(reps.len() - 1);
            }
        }
    }
    (groups, reps.len())
}

/// The Kolchinsky-Tracey bounds on I(X;Z) (and on I(Z;Y) when `labels` gives a group
/// per point) for X uniform over the rows of `means` (P × k) with variances `vars`
/// (formulas in the module documentation). `None` when some variance is not a positive
/// finite number (I(X;Z) is then undefined: a point mass).
pub fn pairwise_bounds<T: Real>(
    means: &DMatrix<T>,
    vars: &[T],
    labels: Option<&[usize]>,
) -> Option<PairwiseBounds<T>> {
    let p = means.nrows();
    assert_eq!(vars.len(), p, "pairwise_bounds: one variance per point");
    if p == 0
        || vars.iter().any(|v| {
            v.partial_cmp(&T::zero()) != Some(std::cmp::Ordering::Greater) || !v.is_finite()
        })
    {
        return None;
    }
    let k = T::from_u64(means.ncols() as u64);
    let half_k = k * T::from_f64(0.5);
    let ln2 = T::ln_2();
    let ln_v: Vec<T> = vars.iter().map(|v| v.ln()).collect();
    let rows: Vec<Vec<T>> = (0..p)
        .map(|i| means.row(i).iter().cloned().collect())
        .collect();
    let group_sizes: Option<Vec<usize>> = labels.map(|l| {
        let n = l.iter().copied().max().map_or(0, |m| m + 1);
        let mut s = vec![0usize; n];
        for &g in l {
            s[g] += 1;
        }
        s
    });
    // Per row i: lse_j(−BD_ij), lse_j(−KL_ij) over all j and over j in the same group.
    let per_row: Vec<[T; 4]> = (0..p)
        .into_par_iter()
        .map(|i| {
            let mut bd = Vec::with_capacity(p);
            let mut kl = Vec::with_capacity(p);
            let mut bd_g = Vec::new();
            let mut kl_g = Vec::new();
            for j in 0..p {
                let d2 = rows[i].iter().zip(&rows[j]).fold(T::zero(), |acc, (a, b)| {
                    let d = a.clone() - b;
                    acc + d.clone() * &d
                });
                let (vi, vj) = (&vars[i], &vars[j]);
                let kl_ij = half_k.clone()
                    * (ln_v[j].clone() - &ln_v[i] + vi.clone() / vj - T::one())
                    + d2.clone() / (T::from_f64(2.0) * vj);
                let sum = vi.clone() + vj;
                let bd_ij = half_k.clone()
                    * (sum.ln() - &ln2 - (ln_v[i].clone() + &ln_v[j]) * T::from_f64(0.5))
                    + d2 / (T::from_f64(4.0) * &sum);
                if let Some(l) = labels {
                    if l[i] == l[j] {
                        bd_g.push(-bd_ij.clone());
                        kl_g.push(-kl_ij.clone());
                    }
                }
                bd.push(-bd_ij);
                kl.push(-kl_ij);
            }
            [
                log_sum_exp(&bd),
                log_sum_exp(&kl),
                log_sum_exp(&bd_g),
                log_sum_exp(&kl_g),
            ]
        })
        .collect();
    let pt = T::from_u64(p as u64);
    let ln_p = pt.ln();
    let mean_of = |f: &dyn Fn(usize) -> T| (0..p).fold(T::zero(), |acc, i| acc + f(i)) / &pt;
    let lower = (ln_p.clone() - mean_of(&|i| per_row[i][0].clone())).max_of(T::zero());
    let upper = (ln_p.clone() - mean_of(&|i| per_row[i][1].clone())).min_of(ln_p.clone());
    let (i_zy, h_y) = match (labels, group_sizes) {
        (Some(l), Some(sizes)) => {
            let ln_n = |i: usize| T::from_u64(sizes[l[i]] as u64).ln();
            let zy_lower = lower.clone() + mean_of(&|i| per_row[i][3].clone() - ln_n(i));
            let zy_upper = upper.clone() + mean_of(&|i| per_row[i][2].clone() - ln_n(i));
            let h_y = sizes.iter().filter(|&&s| s > 0).fold(T::zero(), |acc, &s| {
                let q = T::from_u64(s as u64) / &pt;
                acc - q.xlogx()
            });
            let cap = upper.clone().min_of(h_y.clone());
            (
                Some(Bounds {
                    lower: zy_lower.max_of(T::zero()).min_of(cap.clone()),
                    upper: zy_upper.min_of(cap).max_of(T::zero()),
                }),
                Some(h_y),
            )
        }
        _ => (None, None),
    };
    Some(PairwiseBounds {
        i_xz: Bounds { lower, upper },
        i_zy,
        ln_p,
        h_y,
    })
}

/// Gauss-Legendre nodes and weights on [−1, 1] with `n` nodes, at the working precision
/// (Newton's method on P_n from the three-term recurrence
/// k P_k = (2k−1) x P_{k−1} − (k−1) P_{k−2}; w = 2/((1 − x²) P_n'(x)²)).
pub fn gauss_legendre<T: Real>(n: usize) -> (Vec<T>, Vec<T>) {
    let mut x = vec![T::zero(); n];
    let mut w = vec![T::zero(); n];
    let tol = T::epsilon() * T::from_f64(4.0);
    for i in 0..n.div_ceil(2) {
        let guess = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut z = T::from_f64(guess);
        let mut dp = T::one();
        for _ in 0..100 {
            let (pn, pn1) = legendre(n, &z);
            dp = T::from_u64(n as u64) * (z.clone() * &pn - pn1) / (z.clone() * &z - T::one());
            let dz = pn / &dp;
            z -= &dz;
            if dz.abs() <= tol {
                let (pn, pn1) = legendre(n, &z);
                dp = T::from_u64(n as u64) * (z.clone() * &pn - pn1) / (z.clone() * &z - T::one());
                break;
            }
        }
        let wi = T::from_f64(2.0) / ((T::one() - z.clone() * &z) * &dp * &dp);
        x[i] = -z.clone();
        x[n - 1 - i] = z;
        w[i] = wi.clone();
        w[n - 1 - i] = wi;
    }
    (x, w)
}

/// (P_n(z), P_{n−1}(z)).
fn legendre<T: Real>(n: usize, z: &T) -> (T, T) {
    let mut p0 = T::one();
    let mut p1 = z.clone();
    if n == 0 {
        return (p0, T::zero());
    }
    for k in 2..=n {
        let kt = T::from_u64(k as u64);
        let p2 = (T::from_u64(2 * k as u64 - 1) * z * &p1 - T::from_u64(k as u64 - 1) * &p0) / kt;
        p0 = p1;
        p1 = p2;
    }
    (p1, p0)
}

/// The differential entropy H(Z) = −∫ p ln p (nats) of the equal-weight 1-D mixture
/// p = (1/P) Σ_i N(means_i, vars_i), by composite Gauss-Legendre quadrature.
///
/// # Method (spec ntk-math D.3, adapted)
/// Breakpoints m_i + c·√v_i for c = −c_max, −c_max + ¼, …, c_max for every component
/// (c_max = min(40, √(2(P_bits·ln 2 + ln P + 10)) + 2), beyond which the integrand is
/// below the working precision), sorted and thinned so that no interval is shorter than
/// the local spacing ¼√v of the components that produced its end points: every interval
/// is then at most ½√v_i long for each component i whose range it meets. Each interval
/// gets max(32, P_bits/2) Gauss-Legendre nodes; components whose contribution at a node
/// is below e^{−(P_bits ln 2 + ln P + 10)} of the largest are skipped. ln p uses
/// log-sum-exp. `None` for an empty mixture or a variance that is not positive.
pub fn mixture_entropy_1d<T: Real>(means: &[T], vars: &[T]) -> Option<T> {
    let p = means.len();
    if p == 0
        || vars.len() != p
        || vars.iter().any(|v| {
            v.partial_cmp(&T::zero()) != Some(std::cmp::Ordering::Greater) || !v.is_finite()
        })
        || means.iter().any(|m| !m.is_finite())
    {
        return None;
    }
    let mut order: Vec<usize> = (0..p).collect();
    order.sort_by(|&a, &b| {
        means[a]
            .partial_cmp(&means[b])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let m: Vec<T> = order.iter().map(|&i| means[i].clone()).collect();
    let v: Vec<T> = order.iter().map(|&i| vars[i].clone()).collect();
    let sd: Vec<T> = v.iter().map(|x| x.sqrt()).collect();
    let two_pi = T::from_f64(2.0) * T::pi();
    let half = T::from_f64(0.5);
    let lognorm: Vec<T> = v
        .iter()
        .map(|x| -((two_pi.clone() * x).ln() * &half))
        .collect();
    let inv_2v: Vec<T> = v
        .iter()
        .map(|x| T::one() / (T::from_f64(2.0) * x))
        .collect();
    let bits = T::PRECISION_BITS as f64;
    let cutoff = bits * std::f64::consts::LN_2 + (p as f64).ln() + 10.0;
    let c_max = (2.0 * cutoff).sqrt().ceil().min(38.0) + 2.0;
    let steps = (c_max / 0.25).round() as i64;
    let quarter = T::from_f64(0.25);
    let mut bps: Vec<(T, T)> = Vec::with_capacity(p * (2 * steps as usize + 1));
    for i in 0..p {
        let spacing = quarter.clone() * &sd[i];
        for s in -steps..=steps {
            let c = T::from_f64(s as f64 * 0.25);
            bps.push((m[i].clone() + c * &sd[i], spacing.clone()));
        }
    }
    bps.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    let mut mesh: Vec<(T, T)> = Vec::new();
    for b in bps.iter() {
        match mesh.last() {
            None => mesh.push(b.clone()),
            Some(last) => {
                let gap = b.0.clone() - &last.0;
                if gap >= b.1.clone().min_of(last.1.clone()) {
                    mesh.push(b.clone());
                }
            }
        }
    }
    let end = bps.last().expect("at least one breakpoint").0.clone();
    if mesh.last().is_some_and(|l| l.0 < end) {
        let sp = mesh.last().map(|l| l.1.clone()).unwrap_or_else(T::zero);
        mesh.push((end, sp));
    }
    let n_gl = 32.max(T::PRECISION_BITS as usize / 2);
    let (gx, gw) = gauss_legendre::<T>(n_gl);
    let mf: Vec<f64> = m.iter().map(|x| x.to_f64()).collect();
    let vf: Vec<f64> = v.iter().map(|x| x.to_f64()).collect();
    let lnf: Vec<f64> = lognorm.iter().map(|x| x.to_f64()).collect();
    let a_max = lnf.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let v_max = vf.iter().copied().fold(0.0, f64::max);
    let ln_pt = T::from_u64(p as u64).ln();
    let integrand = |z: &T| -> T {
        let zf = z.to_f64();
        let j = mf.partition_point(|&x| x < zf);
        let mut s0 = f64::NEG_INFINITY;
        for c in [j.saturating_sub(1), j.min(p - 1)] {
            let d = zf - mf[c];
            s0 = s0.max(lnf[c] - d * d / (2.0 * vf[c]));
        }
        let r = (2.0 * v_max * (a_max - s0 + cutoff).max(0.0)).sqrt() * 1.0001 + 1e-300;
        let lo = mf.partition_point(|&x| x < zf - r);
        let hi = mf.partition_point(|&x| x <= zf + r);
        let terms: Vec<T> = (lo..hi)
            .map(|i| {
                let d = z.clone() - &m[i];
                lognorm[i].clone() - d.clone() * &d * &inv_2v[i]
            })
            .collect();
        let lnp = log_sum_exp(&terms) - &ln_pt;
        if !lnp.is_finite() {
            return T::zero();
        }
        -(lnp.exp() * lnp)
    };
    let parts: Vec<T> = (0..mesh.len().saturating_sub(1))
        .into_par_iter()
        .map(|k| {
            let (a, b) = (&mesh[k].0, &mesh[k + 1].0);
            let hw = (b.clone() - a) * &half;
            let mid = (b.clone() + a) * &half;
            let s = gx.iter().zip(&gw).fold(T::zero(), |acc, (x, w)| {
                acc + w.clone() * integrand(&(mid.clone() + hw.clone() * x))
            });
            s * hw
        })
        .collect();
    Some(parts.into_iter().fold(T::zero(), |acc, x| acc + x))
}

/// ½ ln(2πe v): the entropy of N(·, v) in nats.
pub fn gaussian_entropy_1d<T: Real>(v: &T) -> T {
    let two_pi_e = T::from_f64(2.0) * T::pi() * T::one().exp();
    (two_pi_e * v).ln() * T::from_f64(0.5)
}

/// Exact I(X;Z) and I(Z;Y) for 1-D components (nats).
#[derive(Clone, Debug, PartialEq)]
pub struct Exact1d<T: Real> {
    /// I(X;Z) = H(Z) − (1/P) Σ_i ½ ln(2πe v_i).
    pub i_xz: T,
    /// I(Z;Y) = H(Z) − Σ_y p_y H(Z | Y = y), when labels were given.
    pub i_zy: Option<T>,
}

/// Exact I(X;Z) (and I(Z;Y) with `labels`, each point's group) for 1-D components with X
/// uniform over the points: H(Z) − (1/P) Σ_i ½ ln(2πe v_i) and H(Z) − Σ_y p_y H(Z | y),
/// every mixture entropy by [`mixture_entropy_1d`] (a group of one point has the closed
/// form ½ ln(2πe v)). `None` when a variance is not positive.
pub fn exact_information_1d<T: Real>(
    means: &[T],
    vars: &[T],
    labels: Option<&[usize]>,
) -> Option<Exact1d<T>> {
    let h = mixture_entropy_1d(means, vars)?;
    let p = means.len();
    let pt = T::from_u64(p as u64);
    let hc = vars
        .iter()
        .fold(T::zero(), |acc, v| acc + gaussian_entropy_1d(v))
        / &pt;
    let i_zy = match labels {
        None => None,
        Some(labels) => {
            let n_groups = labels.iter().copied().max().map_or(0, |m| m + 1);
            let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_groups];
            for (i, &g) in labels.iter().enumerate() {
                members[g].push(i);
            }
            let mut cond = T::zero();
            for idx in members.iter().filter(|m| !m.is_empty()) {
                let hg = if idx.len() == 1 {
                    gaussian_entropy_1d(&vars[idx[0]])
                } else {
                    let mg: Vec<T> = idx.iter().map(|&i| means[i].clone()).collect();
                    let vg: Vec<T> = idx.iter().map(|&i| vars[i].clone()).collect();
                    mixture_entropy_1d(&mg, &vg)?
                };
                cond += T::from_u64(idx.len() as u64) / &pt * hg;
            }
            Some(h.clone() - cond)
        }
    };
    Some(Exact1d { i_xz: h - hc, i_zy })
}

/// Exact I(X;Z) (nats) for 1-D components, X uniform (see [`exact_information_1d`]).
pub fn exact_i_xz_1d<T: Real>(means: &[T], vars: &[T]) -> Option<T> {
    exact_information_1d(means, vars, None).map(|e| e.i_xz)
}

/// KL(N(μ₁, Σ₁) ‖ N(μ₀, Σ₀)) (nats) jointly over the M points, for each output channel
/// (the columns of the means) and averaged over channels:
/// ½[tr(Σ₀⁻¹Σ₁) + (μ₀ − μ₁)ᵀΣ₀⁻¹(μ₀ − μ₁) − M + ln det Σ₀ − ln det Σ₁] (spec D.1), with
/// tr(Σ₀⁻¹Σ₁) = ‖L₀⁻¹L₁‖²_F from Cholesky factors (no inverse). `None` when either
/// covariance is not positive definite at the working precision (for a singular Σ₁ the
/// KL is +∞ in exact arithmetic).
pub fn kl_gaussians<T: Real>(
    mean1: &DMatrix<T>,
    cov1: &DMatrix<T>,
    mean0: &DMatrix<T>,
    cov0: &DMatrix<T>,
) -> Option<T> {
    let m = cov1.nrows();
    if m == 0 {
        return Some(T::zero());
    }
    let l1 = Cholesky::new(&symmetrize(cov1))?;
    let l0 = Cholesky::new(&symmetrize(cov0))?;
    let a = l0.solve_lower(l1.l());
    let tr = a.iter().fold(T::zero(), |acc, x| acc + x.clone() * x);
    let diff = mean0.clone() - mean1;
    let r = l0.solve_lower(&diff);
    let k = mean1.ncols().max(1);
    let half = T::from_f64(0.5);
    let base = tr - T::from_u64(m as u64) + l0.ln_det() - l1.ln_det();
    let mut total = T::zero();
    for c in 0..mean1.ncols() {
        let q = r
            .column(c)
            .iter()
            .fold(T::zero(), |acc, x| acc + x.clone() * x);
        total += (base.clone() + q) * &half;
    }
    Some(total / T::from_u64(k as u64))
}

/// The Gibbs log-likelihood (nats; spec A.2 Q1, the authors' `gibbs_loss`), a unit
/// variance Gaussian decoder averaged over the ensemble:
/// Σ_{i,c} [−½(y_ic − μ_ic)² − ½Σ_ii − ½ ln 2π] = E_{z~N(μ,Σ)} Σ_{i,c} ln N(y_ic; z_ic, 1).
pub fn gibbs_loglik<T: Real>(y: &DMatrix<T>, mean: &DMatrix<T>, cov: &DMatrix<T>) -> T {
    let half = T::from_f64(0.5);
    let ln_2pi = (T::from_f64(2.0) * T::pi()).ln();
    let mut total = T::zero();
    for i in 0..y.nrows() {
        for c in 0..y.ncols() {
            let d = y[(i, c)].clone() - &mean[(i, c)];
            total -= (d.clone() * &d + &cov[(i, i)] + &ln_2pi) * &half;
        }
    }
    total
}

/// The Bayes log-likelihood (nats; spec A.2 Q2, the authors' `bayes_loss`):
/// Σ_c ln N(y_c; μ_c, Σ + I), jointly over the points = Σ_c ln E_z N(y_c; z_c, I), by a
/// Cholesky factor of Σ + I: −½ rᵀr − Σ ln L_ii − (M/2) ln 2π with r = L⁻¹(y − μ).
/// It is at least the Gibbs value (Jensen). `None` if Σ + I is not positive definite.
pub fn bayes_loglik<T: Real>(y: &DMatrix<T>, mean: &DMatrix<T>, cov: &DMatrix<T>) -> Option<T> {
    let m = y.nrows();
    let mut s = symmetrize(cov);
    for i in 0..m {
        s[(i, i)] += T::one();
    }
    let l = Cholesky::new(&s)?;
    let r = l.solve_lower(&(y.clone() - mean));
    let half = T::from_f64(0.5);
    let ln_2pi = (T::from_f64(2.0) * T::pi()).ln();
    let ld = l.ln_det();
    let mut total = T::zero();
    for c in 0..y.ncols() {
        let q = r
            .column(c)
            .iter()
            .fold(T::zero(), |acc, x| acc + x.clone() * x);
        total -= (q + &ld + T::from_u64(m as u64) * &ln_2pi) * &half;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_integrates_polynomials() {
        let (x, w) = gauss_legendre::<f64>(32);
        let s: f64 = w.iter().sum();
        assert!((s - 2.0).abs() < 1e-14);
        let i62: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(62)).sum();
        assert!((i62 - 2.0 / 63.0).abs() < 1e-14);
    }

    #[test]
    fn single_and_separated_components() {
        let h = mixture_entropy_1d(&[0.3], &[0.7]).unwrap();
        assert!((h - gaussian_entropy_1d(&0.7)).abs() < 1e-13);
        let i = exact_i_xz_1d(&[0.0, 100.0], &[1.0, 1.0]).unwrap();
        assert!((i - 2f64.ln()).abs() < 1e-13);
        let b = pairwise_bounds(
            &DMatrix::from_row_slice(2, 1, &[0.0, 100.0]),
            &[1.0, 1.0],
            None,
        )
        .unwrap();
        assert!((b.i_xz.lower - 2f64.ln()).abs() < 1e-13);
        assert!((b.i_xz.upper - 2f64.ln()).abs() < 1e-13);
    }
}
