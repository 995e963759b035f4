//! Maximal correlation: the singular values of Q(x,y) = p(x,y)/sqrt(p(x) p(y)), the
//! Hirschfeld-Gebelein-Rényi maximal correlation rho_m (the second singular value) and
//! the first critical beta of the IB, 1/rho_m^2.
//!
//! The singular values come from a one-sided Jacobi (Hestenes) iteration written over
//! [`Real`], so the same code gives them in `f64` and at any MPFR precision.

use nalgebra::DMatrix;

use crate::dist::Joint;
use crate::scalar::Real;

/// Singular values of a real matrix, in decreasing order, by the one-sided Jacobi
/// (Hestenes) method: plane rotations orthogonalise the columns of A (or of Aᵀ, whichever
/// has fewer columns); the singular values are then the column norms.
///
/// Accurate to a few ulps of the largest singular value at the working precision, and
/// to high relative accuracy for well-scaled matrices. Stops when every pair of columns
/// is orthogonal to `epsilon` relative, or after 60 sweeps (never reached in practice:
/// convergence is quadratic).
///
/// # Formula
/// For columns a_i, a_j with α = ‖a_i‖², β = ‖a_j‖², γ = a_i·a_j: ζ = (β − α)/(2γ),
/// t = sign(ζ)/(|ζ| + sqrt(1 + ζ²)), c = 1/sqrt(1 + t²), s = c·t;
/// a_i ← c·a_i − s·a_j, a_j ← s·a_i + c·a_j.
///
/// # References
/// Demmel & Veselić, "Jacobi's method is more accurate than QR", SIAM J. Matrix Anal.
/// Appl. 13 (1992), algorithm 4.1 \[DV92\]. Hestenes (1958).
pub fn singular_values<T: Real>(a: &DMatrix<T>) -> Vec<T> {
    // Work on the orientation with fewer columns; columns are stored as Vec<T>.
    let (m, n) = a.shape();
    let mut cols: Vec<Vec<T>> = if n <= m {
        (0..n)
            .map(|j| a.column(j).iter().cloned().collect())
            .collect()
    } else {
        (0..m).map(|i| a.row(i).iter().cloned().collect()).collect()
    };
    let k = cols.len();
    let eps = T::epsilon();
    for _sweep in 0..60 {
        let mut rotated = false;
        for i in 0..k {
            for j in (i + 1)..k {
                let (alpha, beta, gamma) = dots(&cols[i], &cols[j]);
                if gamma.is_zero() || alpha.is_zero() || beta.is_zero() {
                    continue;
                }
                if gamma.abs() <= eps.clone() * (alpha.clone() * &beta).sqrt() {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (T::from_f64(2.0) * gamma);
                let root = (T::one() + zeta.clone() * &zeta).sqrt();
                let t = if zeta >= T::zero() {
                    T::one() / (zeta.clone() + root)
                } else {
                    -(T::one() / (root - zeta))
                };
                let c = T::one() / (T::one() + t.clone() * &t).sqrt();
                let s = c.clone() * &t;
                let (left, right) = cols.split_at_mut(j);
                rotate(&mut left[i], &mut right[0], &c, &s);
            }
        }
        if !rotated {
            break;
        }
    }
    let mut values: Vec<T> = cols
        .iter()
        .map(|col| {
            col.iter()
                .fold(T::zero(), |acc, v| acc + v.clone() * v)
                .sqrt()
        })
        .collect();
    values.sort_by(|a, b| b.partial_cmp(a).unwrap_or(std::cmp::Ordering::Equal));
    values
}

fn dots<T: Real>(a: &[T], b: &[T]) -> (T, T, T) {
    let mut alpha = T::zero();
    let mut beta = T::zero();
    let mut gamma = T::zero();
    for (x, y) in a.iter().zip(b) {
        alpha += x.clone() * x;
        beta += y.clone() * y;
        gamma += x.clone() * y;
    }
    (alpha, beta, gamma)
}

fn rotate<T: Real>(a: &mut [T], b: &mut [T], c: &T, s: &T) {
    for (x, y) in a.iter_mut().zip(b.iter_mut()) {
        let new_x = c.clone() * &*x - s.clone() * &*y;
        let new_y = s.clone() * &*x + c.clone() * &*y;
        *x = new_x;
        *y = new_y;
    }
}

/// The Hirschfeld-Gebelein-Rényi maximal correlation of a joint and what follows from it.
#[derive(Clone, Debug)]
pub struct MaximalCorrelation<T: Real> {
    /// Singular values σ_1 = 1 ≥ σ_2 ≥ ... of Q(x,y) = p(x,y)/sqrt(p(x)p(y)),
    /// min(|X|, |Y+|) of them, where Y+ are the y with p(y) > 0.
    pub singular_values: Vec<T>,
    /// ρ_m = σ_2(Q) (0 when Q has a single singular value).
    pub rho_m: T,
    /// 1/ρ_m²: the β above which the trivial IB solution is no longer a stable fixed
    /// point of the self-consistent iteration; +inf when ρ_m = 0 (X and Y independent).
    pub beta_critical_first: T,
}

impl<T: Real> MaximalCorrelation<T> {
    /// Computes the singular values of Q for `j`.
    ///
    /// σ_1 = 1 exactly, with singular vectors sqrt(p(x)) and sqrt(p(y)). The remaining
    /// ones are computed as the singular values of the deflated matrix
    /// Q − sqrt(p_x) sqrt(p_y)ᵀ, formed as (p(x,y) − p(x)p(y))/sqrt(p(x)p(y)) (whose spectrum is σ_2, σ_3, ..., 0), so ρ_m is accurate
    /// to the working precision even when it is tiny (nearly independent X and Y).
    ///
    /// # Formula
    /// Q(x,y) = p(x,y) / sqrt(p(x) p(y));  ρ_m = σ_2(Q);  β_c = 1/ρ_m².
    /// ρ_m² = sup_{E g = 0} Var(E[g(X)|Y]) / Var(g(X)) (Hirschfeld 1935, Gebelein 1941,
    /// Rényi 1959; Witsenhausen 1975 for the singular-value form). The trivial IB
    /// encoder p(t|x) = p(t) is a linearly stable fixed point of the IB iteration iff
    /// β ρ_m² < 1: the linearised map at the trivial point is g ↦ β C g with
    /// C[x,x'] = Σ_y p(y|x) p(x'|y), which is similar to Q Qᵀ (see papers/README.md).
    ///
    /// 1/ρ_m² is the linear-stability threshold of the trivial solution (the first split
    /// that forward annealing sees), not necessarily the learning onset: the trivial
    /// solution stops being *globally* optimal at 1/s*, where s* ≥ ρ_m² is the strong
    /// data-processing constant of \[AGKN13\], and that can come earlier.
    ///
    /// # References
    /// \[Ren59\]; \[Wit75\] (singular-value form); \[WFCT19\] (second-variation approach to
    /// IB learnability); \[AGKN13\] (s* ≥ ρ_m²). The stability claim is derived and tested
    /// in `tests/stability.rs`; see papers/README.md, "What ibex verified itself".
    pub fn of(j: &Joint<T>) -> Self {
        // Columns with p(y) = 0 carry no mass; leave them out of Q.
        let live_y: Vec<usize> = (0..j.ny()).filter(|&y| !j.p_y()[y].is_zero()).collect();
        let sqrt_px: Vec<T> = j.p_x().iter().map(|v| v.sqrt()).collect();
        let sqrt_py: Vec<T> = live_y.iter().map(|&y| j.p_y()[y].sqrt()).collect();
        let deflated = DMatrix::from_fn(j.nx(), live_y.len(), |x, k| {
            let y = live_y[k];
            // (p(x,y) − p(x)p(y)) / sqrt(p(x)p(y)): exactly 0 for an exactly
            // independent cell, and free of the cancellation in Q − sqrt(p_x)sqrt(p_y).
            let independent = j.p_x()[x].clone() * &j.p_y()[y];
            (j.p_xy()[(x, y)].clone() - independent) / (sqrt_px[x].clone() * &sqrt_py[k])
        });
        let rest = singular_values(&deflated);
        let count = j.nx().min(live_y.len());
        let mut singular_values = Vec::with_capacity(count);
        singular_values.push(T::one());
        singular_values.extend(rest.into_iter().take(count.saturating_sub(1)));
        let rho_m = singular_values.get(1).cloned().unwrap_or_else(T::zero);
        let beta_critical_first = if rho_m.is_zero() {
            T::infinity()
        } else {
            T::one() / (rho_m.clone() * &rho_m)
        };
        MaximalCorrelation {
            singular_values,
            rho_m,
            beta_critical_first,
        }
    }
}

/// The maximal-correlation function of X, f(x) = u_2(x)/sqrt(p(x)), scaled to max|f| = 1:
/// u_2 is the second left singular vector of B(x,y) = p(x,y)/sqrt(p(x)p(y)), whose second
/// singular value is ρ_m (Rényi 1959; Witsenhausen 1975). Σ_x p(x) f(x) = 0, and f is the
/// direction in which the trivial IB solution first becomes unstable, at β = 1/ρ_m² (spec
/// ib §3.1). Its sign is arbitrary; 0 where p(x) = 0. Computed in f64 (nalgebra's SVD).
/// `None` if the SVD fails, ρ_m is 0, or there is a single singular value.
pub fn maximal_correlation_function(p: &Joint<f64>) -> Option<Vec<f64>> {
    let (nx, ny) = (p.nx(), p.ny());
    let b = DMatrix::from_fn(nx, ny, |x, y| {
        let d = (p.p_x()[x] * p.p_y()[y]).sqrt();
        if d > 0.0 {
            p.p_x()[x] * p.p_y_given_x()[(x, y)] / d
        } else {
            0.0
        }
    });
    let svd = nalgebra::linalg::SVD::try_new(b, true, false, f64::EPSILON, 10_000)?;
    let u = svd.u?;
    let mut order: Vec<usize> = (0..svd.singular_values.len()).collect();
    order.sort_by(|&i, &j| svd.singular_values[j].total_cmp(&svd.singular_values[i]));
    let &second = order.get(1)?;
    if svd.singular_values[second] <= 0.0 {
        return None;
    }
    let f: Vec<f64> = (0..nx)
        .map(|x| {
            let px = p.p_x()[x];
            if px > 0.0 {
                u[(x, second)] / px.sqrt()
            } else {
                0.0
            }
        })
        .collect();
    let scale = f.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if !(scale > 0.0 && scale.is_finite()) {
        return None;
    }
    Some(f.into_iter().map(|v| v / scale).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_matches_known_spectrum() {
        // [[3, 0], [4, 5]] has singular values sqrt(45) and sqrt(5).
        let a = DMatrix::from_row_slice(2, 2, &[3.0, 0.0, 4.0, 5.0]);
        let s = singular_values(&a);
        assert!((s[0] - 45f64.sqrt()).abs() < 1e-14);
        assert!((s[1] - 5f64.sqrt()).abs() < 1e-14);
    }

    #[test]
    fn dsbs_rho_is_one_minus_two_e() {
        let e = 0.1;
        let j = Joint::new(DMatrix::from_row_slice(
            2,
            2,
            &[(1.0 - e) / 2.0, e / 2.0, e / 2.0, (1.0 - e) / 2.0],
        ))
        .unwrap();
        let m = MaximalCorrelation::of(&j);
        assert!((m.rho_m - 0.8).abs() < 1e-15);
        assert!((m.beta_critical_first - 1.5625).abs() < 1e-13);
    }

    #[test]
    fn maximal_correlation_function_is_centred_and_binary_on_the_dsbs() {
        let dsbs = Joint::new(DMatrix::from_row_slice(2, 2, &[0.4, 0.1, 0.1, 0.4])).unwrap();
        let f = maximal_correlation_function(&dsbs).unwrap();
        assert!(
            (f[0].abs() - 1.0).abs() < 1e-12 && (f[0] + f[1]).abs() < 1e-12,
            "{f:?}"
        );
        let p = Joint::new(DMatrix::from_row_slice(
            3,
            3,
            &[0.2, 0.05, 0.05, 0.02, 0.3, 0.08, 0.1, 0.0, 0.2],
        ))
        .unwrap();
        let f = maximal_correlation_function(&p).unwrap();
        let mean: f64 = (0..3).map(|x| p.p_x()[x] * f[x]).sum();
        assert!(mean.abs() < 1e-12, "{mean}");
        assert_eq!(f.iter().fold(0.0f64, |m, v| m.max(v.abs())), 1.0);
        let independent = Joint::new(DMatrix::from_row_slice(2, 2, &[0.3, 0.2, 0.3, 0.2])).unwrap();
        assert!(maximal_correlation_function(&independent).is_none());
    }
}
