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
//! I(X;Z) = ln P − H(X | Z) and I(Z;Y) = H(Y) − H(Y | Z), the conditional entropies
//! ∫ p(z) H(· | Z = z) dz of the component's posterior by composite Gauss-Legendre
//! quadrature (spec D.3, with a thinned mesh held in two-word breakpoints; see
//! [`mixture_quadrature_1d`]). Mathematically equal to H(Z) − Σ_i c_i ½ ln(2πe v_i),
//! but without its cancellation, and inside [0, ln P] by construction.

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

/// The integrals of one composite Gauss-Legendre quadrature over the real line for the
/// equal-weight 1-D mixture p = (1/P) Σ_i N(m_i, v_i) (see [`mixture_quadrature_1d`]);
/// entropies in nats.
#[derive(Clone, Debug, PartialEq)]
pub struct MixtureQuadrature<T: Real> {
    /// ∫ p: 1 in exact arithmetic (up to the tails beyond the mesh, below the working
    /// precision). A value far from 1 means that the mesh did not resolve the mixture.
    pub mass: T,
    /// H(Z) = −∫ p ln p.
    pub h_z: T,
    /// H(X | Z) = ∫ p(z) H(X | Z = z) dz with X the component index (uniform):
    /// ln P − I(X;Z).
    pub h_x_given_z: T,
    /// H(Y | Z) = ∫ p(z) H(Y | Z = z) dz for the labels given (Y a function of X):
    /// H(Y) − I(Z;Y).
    pub h_y_given_z: Option<T>,
}

/// `a + b` as an unevaluated sum `hi + lo` with `hi` = fl(a + b), exactly (Knuth's
/// TwoSum, TAOCP vol. 2 §4.2.2, Theorem B; round-to-nearest binary arithmetic, which
/// both `f64` and MPFR are).
fn two_sum<T: Real>(a: &T, b: &T) -> (T, T) {
    let s = a.clone() + b;
    let bb = s.clone() - a;
    let err = (a.clone() - (s.clone() - &bb)) + (b.clone() - &bb);
    (s, err)
}

/// A breakpoint of the mesh: the point hi + lo (an unevaluated sum), the local spacing
/// of the component that produced it, and that component.
#[derive(Clone)]
struct Breakpoint<T: Real> {
    hi: T,
    lo: T,
    spacing: T,
    comp: usize,
}

/// H(Z), H(X | Z), H(Y | Z) and ∫ p for the equal-weight 1-D mixture
/// p = (1/P) Σ_i N(means_i, vars_i), X uniform over the components and Y = `labels`
/// (one group index per component), by one composite Gauss-Legendre quadrature.
///
/// # Integrands
/// With t_i(z) = ln N(z; m_i, v_i), the posterior of the component is
/// w_i(z) = e^{t_i}/Σ_j e^{t_j}, and
/// * H(Z) = −∫ p ln p;
/// * H(X | Z) = ∫ p(z) [−Σ_i w_i ln w_i] dz, so that I(X;Z) = H(X) − H(X | Z) = ln P − H(X | Z)
///   (Cover & Thomas, *Elements of Information Theory*, 2nd ed., eq. 2.43);
/// * H(Y | Z) = ∫ p(z) [−Σ_y W_y ln W_y] dz with W_y = Σ_{i: y_i = y} w_i, so that
///   I(Z;Y) = H(Y) − H(Y | Z).
///
/// Unlike H(Z) − (1/P) Σ_i ½ ln(2πe v_i), these never subtract two large entropies
/// (with v → 0 both tend to −∞), and they hold the proven ranges by construction:
/// pointwise 0 ≤ H(Y | z) ≤ H(X | z) ≤ ln P, hence 0 ≤ I(Z;Y) ≤ I(X;Z) ≤ ln P and
/// I(Z;Y) ≤ H(Y) up to rounding and the quadrature's error in ∫ p. With the largest
/// term t_* and S = Σ_j e^{t_j − t_*} = 1 + R:
/// −Σ_i w_i ln w_i = ln_1p(R) + Σ_i e^{t_i − t_*}(t_* − t_i)/S, and −W ln W = W·ln(S/E)
/// with E the group's sum, as ln_1p(O/E) (O the other groups' sum) when E > S/2: no
/// cancellation.
///
/// # Mesh (spec ntk-math D.3, adapted)
/// Breakpoints m_i + c·√v_i for c = −c_max, −c_max + ¼, …, c_max for every component
/// (c_max = min(40, √(2(P_bits·ln 2 + ln P + 10)) + 2), beyond which the integrand is
/// below the working precision), sorted and thinned so that no interval is shorter than
/// the local spacing ¼√v of the components that produced its end points: every interval
/// is then at most ½√v_i long for each component i whose range it meets. Each interval
/// gets max(32, P_bits/2) Gauss-Legendre nodes; components whose log-density at a node
/// is more than P_bits ln 2 + ln P + 10 below that of a nearby component are skipped.
///
/// Each breakpoint is held as an unevaluated sum hi + lo (Knuth's TwoSum), and a node as its
/// interval's hi plus an offset, so z − m_j = (hi − m_j) + offset is accurate relative
/// to √v_j even when √v_j is far below the spacing of representable numbers near m_j
/// (a component of variance 1e-30 at mean 1 in `f64`, or mean 1e100 and variance 1).
/// A single working-precision z there cannot hold a node inside the component: the
/// component's mass was missed, ∫ p fell short of 1, and I(X;Z) came out above ln P.
///
/// `None` for an empty mixture, a variance that is not a positive finite number, a
/// mean that is not finite, labels of the wrong length, or a mesh that overflows.
pub fn mixture_quadrature_1d<T: Real>(
    means: &[T],
    vars: &[T],
    labels: Option<&[usize]>,
) -> Option<MixtureQuadrature<T>> {
    let p = means.len();
    if p == 0
        || vars.len() != p
        || labels.is_some_and(|l| l.len() != p)
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
    let sd: Vec<T> = order.iter().map(|&i| vars[i].sqrt()).collect();
    let group: Vec<usize> = labels
        .map(|l| order.iter().map(|&i| l[i]).collect())
        .unwrap_or_default();
    let half = T::from_f64(0.5);
    let half_ln_2pi = (T::from_f64(2.0) * T::pi()).ln() * &half;
    // ln N(z; m, v) = lognorm − ½((z − m)/√v)², in 1/√v rather than 1/v so that a
    // subnormal variance does not overflow.
    let lognorm: Vec<T> = sd.iter().map(|s| -(s.ln() + &half_ln_2pi)).collect();
    let inv_sd: Vec<T> = sd.iter().map(|s| T::one() / s).collect();
    if inv_sd.iter().chain(&lognorm).any(|x| !x.is_finite()) {
        return None;
    }
    let bits = T::PRECISION_BITS as f64;
    let cutoff = bits * std::f64::consts::LN_2 + (p as f64).ln() + 10.0;
    let c_max = (2.0 * cutoff).sqrt().ceil().min(38.0) + 2.0;
    let steps = (c_max / 0.25).round() as i64;
    let quarter = T::from_f64(0.25);
    let mut bps: Vec<Breakpoint<T>> = Vec::with_capacity(p * (2 * steps as usize + 1));
    for i in 0..p {
        let spacing = quarter.clone() * &sd[i];
        for s in -steps..=steps {
            let (hi, lo) = two_sum(&m[i], &(T::from_f64(s as f64 * 0.25) * &sd[i]));
            if !hi.is_finite() || !lo.is_finite() {
                return None;
            }
            bps.push(Breakpoint {
                hi,
                lo,
                spacing: spacing.clone(),
                comp: i,
            });
        }
    }
    let cmp = |a: &Breakpoint<T>, b: &Breakpoint<T>| {
        a.hi.partial_cmp(&b.hi)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.lo.partial_cmp(&b.lo).unwrap_or(std::cmp::Ordering::Equal))
    };
    bps.sort_by(cmp);
    let gap =
        |a: &Breakpoint<T>, b: &Breakpoint<T>| (b.hi.clone() - &a.hi) + (b.lo.clone() - &a.lo);
    let mut mesh: Vec<Breakpoint<T>> = Vec::new();
    for b in bps.iter() {
        match mesh.last() {
            None => mesh.push(b.clone()),
            Some(last) => {
                if gap(last, b) >= b.spacing.clone().min_of(last.spacing.clone()) {
                    mesh.push(b.clone());
                }
            }
        }
    }
    let end = bps.last().expect("at least one breakpoint");
    if mesh
        .last()
        .is_some_and(|l| cmp(l, end) == std::cmp::Ordering::Less)
    {
        mesh.push(end.clone());
    }
    let half_widths: Vec<T> = mesh.windows(2).map(|w| gap(&w[0], &w[1]) * &half).collect();
    if half_widths.iter().any(|h| !h.is_finite()) {
        return None;
    }
    let n_gl = 32.max(T::PRECISION_BITS as usize / 2);
    let (gx, gw) = gauss_legendre::<T>(n_gl);
    let one_plus_x: Vec<T> = gx.iter().map(|x| T::one() + x).collect();
    // Screening in f64, widened by the rounding of z and of the means to f64.
    let mf: Vec<f64> = m.iter().map(|x| x.to_f64()).collect();
    let a_max = lognorm
        .iter()
        .map(|x| x.to_f64())
        .fold(f64::NEG_INFINITY, f64::max);
    let sd_max = sd.iter().map(|x| x.to_f64()).fold(0.0, f64::max);
    let v_max = sd_max * sd_max;
    let ln_pt = T::from_u64(p as u64).ln();
    let log_density = |c: usize, hi: &T, offset: &T| -> T {
        let u = ((hi.clone() - &m[c]) + offset) * &inv_sd[c];
        lognorm[c].clone() - u.clone() * &u * &half
    };
    // [p, −p ln p, p·H(X | z), p·H(Y | z)] at z = hi + offset.
    let integrand = |hi: &T, offset: &T, near: [usize; 2]| -> [T; 4] {
        let zf = hi.to_f64() + offset.to_f64();
        let j = mf.partition_point(|&x| x < zf);
        let mut s0 = -T::infinity();
        for c in [j.saturating_sub(1), j.min(p - 1), near[0], near[1]] {
            s0 = s0.max_of(log_density(c, hi, offset));
        }
        let r = (2.0 * v_max * (a_max - s0.to_f64() + cutoff).max(0.0)).sqrt() * 1.0001;
        let r = r + 8.0 * f64::EPSILON * (zf.abs() + r) + f64::MIN_POSITIVE;
        let lo = mf.partition_point(|&x| x < zf - r);
        let hi_end = mf.partition_point(|&x| x <= zf + r);
        let t: Vec<T> = (lo..hi_end).map(|c| log_density(c, hi, offset)).collect();
        let zero = || [T::zero(), T::zero(), T::zero(), T::zero()];
        let Some((k_max, t_max)) =
            t.iter()
                .enumerate()
                .fold(None::<(usize, &T)>, |best, (k, x)| match best {
                    Some((_, b)) if *x <= *b => best,
                    _ => Some((k, x)),
                })
        else {
            return zero();
        };
        if !t_max.is_finite() {
            return zero();
        }
        let t_max = t_max.clone();
        // e_k = e^{t_k − t_max}; rest = Σ_{k ≠ k_max} e_k; spread = Σ_k e_k (t_max − t_k).
        let mut e: Vec<T> = Vec::with_capacity(t.len());
        let mut rest = T::zero();
        let mut spread = T::zero();
        for (k, tk) in t.iter().enumerate() {
            if k == k_max {
                e.push(T::one());
                continue;
            }
            let d = t_max.clone() - tk;
            let ek = (-d.clone()).exp();
            // A term that underflows adds nothing (and d may be +inf: 0·inf is NaN).
            if !ek.is_zero() {
                rest += &ek;
                spread += ek.clone() * &d;
            }
            e.push(ek);
        }
        let s = T::one() + &rest;
        let ln_s = rest.ln_1p();
        let lnp = t_max + &ln_s - &ln_pt;
        let dens = lnp.exp();
        let h_x = ln_s + spread / &s;
        let h_y = if labels.is_some() {
            let mut by_group: Vec<(usize, T)> = e
                .into_iter()
                .enumerate()
                .map(|(k, ek)| (group[lo + k], ek))
                .collect();
            by_group.sort_unstable_by_key(|g| g.0);
            let mut sums: Vec<T> = Vec::new();
            let mut current = usize::MAX;
            for (g, ek) in by_group {
                if g == current {
                    *sums.last_mut().expect("a group") += ek;
                } else {
                    current = g;
                    sums.push(ek);
                }
            }
            let total_other = |skip: usize| {
                sums.iter()
                    .enumerate()
                    .filter(|(h, _)| *h != skip)
                    .fold(T::zero(), |acc, (_, x)| acc + x)
            };
            let mut h = T::zero();
            for (g, eg) in sums.iter().enumerate() {
                if eg.is_zero() {
                    continue;
                }
                // −W ln W = W ln(S/E): as ln S − ln E for a minor group (E ≤ S/2, where
                // S/E may overflow), as ln_1p(O/E) with O the other groups' sum, summed
                // directly, for the group that holds most of S.
                let ln_ratio = if eg.clone() * T::from_f64(2.0) <= s {
                    s.ln() - eg.ln()
                } else {
                    (total_other(g) / eg).ln_1p()
                };
                h += eg.clone() / &s * ln_ratio;
            }
            h
        } else {
            T::zero()
        };
        [
            dens.clone(),
            -(dens.clone() * &lnp),
            dens.clone() * h_x,
            dens * h_y,
        ]
    };
    let parts: Vec<[T; 4]> = (0..half_widths.len())
        .into_par_iter()
        .map(|k| {
            let (a, b) = (&mesh[k], &mesh[k + 1]);
            let hw = &half_widths[k];
            let mut acc = [T::zero(), T::zero(), T::zero(), T::zero()];
            for (opx, w) in one_plus_x.iter().zip(&gw) {
                let offset = a.lo.clone() + hw.clone() * opx;
                let f = integrand(&a.hi, &offset, [a.comp, b.comp]);
                for (s, fq) in acc.iter_mut().zip(f) {
                    *s += w.clone() * fq;
                }
            }
            acc.map(|s| s * hw)
        })
        .collect();
    let [mass, h_z, h_x, h_y] = parts.into_iter().fold(
        [T::zero(), T::zero(), T::zero(), T::zero()],
        |[a, b, c, d], [e, f, g, h]| [a + e, b + f, c + g, d + h],
    );
    Some(MixtureQuadrature {
        mass,
        h_z,
        h_x_given_z: h_x,
        h_y_given_z: labels.map(|_| h_y),
    })
}

/// The differential entropy H(Z) = −∫ p ln p (nats) of the equal-weight 1-D mixture
/// p = (1/P) Σ_i N(means_i, vars_i), by the composite Gauss-Legendre quadrature of
/// [`mixture_quadrature_1d`] (mesh and node placement described there). `None` for an
/// empty mixture, a variance that is not positive and finite, or a mean that is not
/// finite.
pub fn mixture_entropy_1d<T: Real>(means: &[T], vars: &[T]) -> Option<T> {
    mixture_quadrature_1d(means, vars, None).map(|q| q.h_z)
}

/// ½ ln(2πe v): the entropy of N(·, v) in nats.
pub fn gaussian_entropy_1d<T: Real>(v: &T) -> T {
    let two_pi_e = T::from_f64(2.0) * T::pi() * T::one().exp();
    (two_pi_e * v).ln() * T::from_f64(0.5)
}

/// Exact I(X;Z) and I(Z;Y) for 1-D components (nats).
#[derive(Clone, Debug, PartialEq)]
pub struct Exact1d<T: Real> {
    /// I(X;Z) = ln P − H(X | Z).
    pub i_xz: T,
    /// I(Z;Y) = H(Y) − H(Y | Z), when labels were given.
    pub i_zy: Option<T>,
    /// ∫ p of the quadrature (1 in exact arithmetic): the caller's check that the
    /// mesh resolved the mixture.
    pub mass: T,
}

/// Exact I(X;Z) (and I(Z;Y) with `labels`, each point's group) for 1-D components with X
/// uniform over the points: ln P − H(X | Z) and H(Y) − H(Y | Z), H(Y) = −Σ_y p_y ln p_y
/// from the group sizes, the conditional entropies by [`mixture_quadrature_1d`] (which
/// also gives ∫ p, returned as [`Exact1d::mass`]). `None` where
/// [`mixture_quadrature_1d`] is.
pub fn exact_information_1d<T: Real>(
    means: &[T],
    vars: &[T],
    labels: Option<&[usize]>,
) -> Option<Exact1d<T>> {
    let q = mixture_quadrature_1d(means, vars, labels)?;
    let p = means.len();
    let pt = T::from_u64(p as u64);
    let i_zy = match (labels, &q.h_y_given_z) {
        (Some(labels), Some(h_y_z)) => {
            let n_groups = labels.iter().copied().max().map_or(0, |m| m + 1);
            let mut sizes = vec![0u64; n_groups];
            for &g in labels {
                sizes[g] += 1;
            }
            let h_y = sizes
                .iter()
                .filter(|&&s| s > 0)
                .fold(T::zero(), |acc, &s| acc - (T::from_u64(s) / &pt).xlogx());
            Some(h_y - h_y_z)
        }
        _ => None,
    };
    Some(Exact1d {
        i_xz: pt.ln() - q.h_x_given_z,
        i_zy,
        mass: q.mass,
    })
}

/// Exact I(X;Z) (nats) for 1-D components, X uniform (see [`exact_information_1d`]).
pub fn exact_i_xz_1d<T: Real>(means: &[T], vars: &[T]) -> Option<T> {
    exact_information_1d(means, vars, None).map(|e| e.i_xz)
}

/// KL(N(μ₁, Σ₁) ‖ N(μ₀, Σ₀)) (nats) jointly over the M points, for each output channel
/// (the columns of the means) and averaged over channels:
/// ½[tr(Σ₀⁻¹Σ₁) + (μ₀ − μ₁)ᵀΣ₀⁻¹(μ₀ − μ₁) − M + ln det Σ₀ − ln det Σ₁] (spec D.1), with
/// tr(Σ₀⁻¹Σ₁) = ‖L₀⁻¹L₁‖²_F from Cholesky factors (no inverse). `None` when either
/// covariance is not positive definite at the working precision, or singular to it: a
/// squared Cholesky pivot at most sqrt(ε) times the largest variance (`singular_to_precision` in the source).
/// For a singular Σ₁ the KL is +∞ in exact arithmetic; rounded, Σ₁ often stays positive
/// definite with eigenvalues near ε·‖Σ₁‖, and the KL then measured the rounding: at t = ∞
/// on a test point equal to a training point (`relu_d3_w1.5_b0.1_duptest` of the
/// reference set) it came out 18.66 nats in f64 and 37.86 at 128 bits.
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
    if singular_to_precision(cov1, l1.l()) || singular_to_precision(cov0, l0.l()) {
        return None;
    }
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

/// Whether a covariance with Cholesky factor `l` is singular to the working precision:
/// min_i L_ii² ≤ sqrt(ε)·max_i Σ_ii. Then ln det Σ (and any KL with Σ) is set by rounding,
/// not by Σ: its smallest eigenvalue is within a condition number of 1/sqrt(ε) (6.7e7 in
/// f64, 1.2e19 at 128 bits) of the rounding of the largest.
fn singular_to_precision<T: Real>(cov: &DMatrix<T>, l: &DMatrix<T>) -> bool {
    let m = cov.nrows();
    let largest = (0..m).fold(T::zero(), |acc, i| acc.max_of(cov[(i, i)].clone().abs()));
    let smallest = (0..m).fold(T::infinity(), |acc, i| {
        acc.min_of(l[(i, i)].clone() * &l[(i, i)])
    });
    smallest <= T::epsilon().sqrt() * largest
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

    /// Σ₁ = [[1, 1], [1, 1]] + δI against Σ₀ = I, means 0: in closed form
    /// KL = ½[tr Σ₁ − 2 − ln det Σ₁] = ½[2δ − ln(2δ + δ²)]. At δ = 1e-14 the condition
    /// number is 2e14: at 128 bits the KL matches the closed form, in f64 (pivot ratio
    /// 1e-14 < sqrt(ε)) it is refused, where it used to be a value set by rounding.
    #[test]
    fn a_kl_with_a_covariance_singular_to_the_precision_is_refused() {
        fn case<T: Real>(delta: f64) -> (Option<T>, T) {
            let d = T::from_f64(delta);
            let one = T::one();
            let cov1 = DMatrix::from_row_slice(
                2,
                2,
                &[one.clone() + &d, one.clone(), one.clone(), one.clone() + &d],
            );
            let cov0 = DMatrix::identity(2, 2);
            let zero = DMatrix::from_element(2, 1, T::zero());
            let kl = kl_gaussians(&zero, &cov1, &zero, &cov0);
            let two = T::from_f64(2.0);
            let closed = (two.clone() * &d - (two * &d + d.clone() * &d).ln()) * T::from_f64(0.5);
            (kl, closed)
        }
        let (kl64, _) = case::<f64>(1e-14);
        assert!(kl64.is_none(), "{kl64:?}");
        let (kl128, closed) = case::<crate::scalar::Mp128>(1e-14);
        let kl128 = kl128.expect("positive definite at 128 bits");
        let rel = ((kl128 - closed.clone()) / closed).abs().to_f64();
        assert!(rel < 1e-20, "relative error {rel:e}");
        // Well conditioned (δ = 0.5), f64 agrees with the closed form.
        let (kl, closed) = case::<f64>(0.5);
        assert!((kl.unwrap() - closed).abs() < 1e-14, "{kl:?} vs {closed}");
    }

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
