//! Information measures in nats: entropy, conditional entropy, mutual information,
//! Kullback-Leibler and Jensen-Shannon divergences, on probability vectors and on a
//! [`Joint`].
//!
//! Conventions: natural logarithms (nats); `0 ln 0 = 0`; terms with p = 0 contribute
//! nothing; KL(p‖q) = +inf when some p > 0 meets q = 0. Informations are computed as
//! sums of non-negative KL terms (not as differences of entropies, which cancel) and
//! rounding residues just below zero are clamped to 0.
//!
//! # References
//! Cover & Thomas, *Elements of Information Theory*, 2nd ed., ch. 2 (definitions,
//! chain rule eq. 2.14, I = Σ p ln p/(p p) eq. 2.28) \[CT06\].

use crate::dist::Joint;
use crate::scalar::{tol, Real};

fn sum<T: Real>(values: impl Iterator<Item = T>) -> T {
    values.fold(T::zero(), |acc, v| acc + v)
}

/// Shannon entropy of a probability vector, in nats.
///
/// # Formula
/// H(p) = −Σ_i p_i ln p_i, with 0 ln 0 = 0.
///
/// # References
/// [CT06 eq. 2.1]
pub fn entropy<T: Real>(p: &[T]) -> T {
    // Adding +0 turns the −0 of a point mass into +0.
    -sum(p.iter().map(|v| v.xlogx())) + T::zero()
}

/// Kullback-Leibler divergence KL(p‖q) in nats; +inf if p_i > 0 where q_i = 0.
///
/// # Formula
/// KL(p‖q) = Σ_{i: p_i > 0} p_i ln(p_i / q_i).
///
/// # Panics
/// If `p` and `q` have different lengths.
///
/// # References
/// [CT06 eq. 2.26]
pub fn kl<T: Real>(p: &[T], q: &[T]) -> T {
    assert_eq!(p.len(), q.len(), "kl: vectors of different lengths");
    let mut acc = T::zero();
    for (pi, qi) in p.iter().zip(q) {
        if pi.is_zero() {
            continue;
        }
        if qi.is_zero() {
            return T::infinity();
        }
        acc += pi.clone() * (pi.clone() / qi).ln();
    }
    tol::clamp_negative_zero(acc, &T::one())
}

/// Jensen-Shannon divergence in nats (always finite, at most ln 2).
///
/// # Formula
/// JS(p, q) = ½ KL(p‖m) + ½ KL(q‖m),  m = (p + q)/2.
///
/// # Panics
/// If `p` and `q` have different lengths.
///
/// # References
/// Lin, "Divergence measures based on the Shannon entropy", IEEE Trans. Inf. Theory
/// 37 (1991), eq. 4.1 \[Lin91\].
pub fn js<T: Real>(p: &[T], q: &[T]) -> T {
    assert_eq!(p.len(), q.len(), "js: vectors of different lengths");
    let half = T::from_f64(0.5);
    let m: Vec<T> = p
        .iter()
        .zip(q)
        .map(|(a, b)| (a.clone() + b) * &half)
        .collect();
    (kl(p, &m) + kl(q, &m)) * half
}

/// H(X) of a joint, in nats. # Formula H(X) = −Σ_x p(x) ln p(x).
pub fn h_x<T: Real>(j: &Joint<T>) -> T {
    entropy(j.p_x())
}

/// H(Y) of a joint, in nats. # Formula H(Y) = −Σ_y p(y) ln p(y).
pub fn h_y<T: Real>(j: &Joint<T>) -> T {
    entropy(j.p_y())
}

/// H(X,Y) of a joint, in nats, summed over the cells directly.
///
/// # Formula
/// H(X,Y) = −Σ_{x,y} p(x,y) ln p(x,y).
pub fn h_xy<T: Real>(j: &Joint<T>) -> T {
    // Adding +0 turns the −0 of a point mass into +0, as in [`entropy`].
    -sum(j.p_xy().iter().map(|v| v.xlogx())) + T::zero()
}

/// H(Y|X) of a joint, in nats, from the conditional rows.
///
/// # Formula
/// H(Y|X) = Σ_x p(x) H(p(·|x)) = −Σ_x p(x) Σ_y p(y|x) ln p(y|x).
///
/// # References
/// [CT06 eq. 2.10]
pub fn h_y_given_x<T: Real>(j: &Joint<T>) -> T {
    let pyx = j.p_y_given_x();
    sum((0..j.nx()).map(|x| {
        let row: Vec<T> = pyx.row(x).iter().cloned().collect();
        j.p_x()[x].clone() * entropy(&row)
    }))
}

/// H(X|Y) of a joint, in nats.
///
/// # Formula
/// H(X|Y) = −Σ_{x,y: p(x,y)>0} p(x,y) ln( p(x,y) / p(y) ).
pub fn h_x_given_y<T: Real>(j: &Joint<T>) -> T {
    let mut acc = T::zero();
    for y in 0..j.ny() {
        let py = &j.p_y()[y];
        for x in 0..j.nx() {
            let pxy = &j.p_xy()[(x, y)];
            if !pxy.is_zero() {
                acc -= pxy.clone() * (pxy.clone() / py).ln();
            }
        }
    }
    tol::clamp_negative_zero(acc, &T::one())
}

/// Mutual information I(X;Y) of a joint, in nats, as a p(x)-weighted sum of
/// non-negative KL terms.
///
/// # Formula
/// I(X;Y) = Σ_x p(x) KL( p(·|x) ‖ p(·) ) = Σ_{x,y} p(x,y) ln( p(x,y) / (p(x) p(y)) ).
///
/// # References
/// [CT06 eq. 2.28, 2.35]
pub fn mutual_information<T: Real>(j: &Joint<T>) -> T {
    let pyx = j.p_y_given_x();
    let total = sum((0..j.nx()).map(|x| {
        let row: Vec<T> = pyx.row(x).iter().cloned().collect();
        j.p_x()[x].clone() * kl(&row, j.p_y())
    }));
    tol::clamp_negative_zero(total, &T::one())
}

/// All the entropy-type measures of a joint, in nats.
#[derive(Clone, Debug)]
pub struct Measures<T: Real> {
    /// H(X)
    pub h_x: T,
    /// H(Y)
    pub h_y: T,
    /// H(X,Y)
    pub h_xy: T,
    /// H(Y|X)
    pub h_y_given_x: T,
    /// H(X|Y)
    pub h_x_given_y: T,
    /// I(X;Y)
    pub i_xy: T,
}

impl<T: Real> Measures<T> {
    /// Computes every measure of `j` (each by its own formula, so that the chain rule
    /// H(X,Y) = H(X) + H(Y|X) is a check, not an identity of the code).
    pub fn of(j: &Joint<T>) -> Self {
        Measures {
            h_x: h_x(j),
            h_y: h_y(j),
            h_xy: h_xy(j),
            h_y_given_x: h_y_given_x(j),
            h_x_given_y: h_x_given_y(j),
            i_xy: mutual_information(j),
        }
    }
}

/// Converts nats to bits: bits = nats / ln 2. For the I/O boundary only.
pub fn nats_to_bits<T: Real>(nats: &T) -> T {
    nats.clone() / T::ln_2()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;

    #[test]
    fn two_by_two_by_hand() {
        // p = [[1/2, 0], [1/4, 1/4]]: H(X) = ln 2, H(Y) = -(3/4 ln 3/4 + 1/4 ln 1/4),
        // H(X,Y) = 1.5 ln 2, H(Y|X) = 1/2 ln 2, I = H(Y) - H(Y|X).
        let j = Joint::new(DMatrix::from_row_slice(2, 2, &[0.5, 0.0, 0.25, 0.25])).unwrap();
        let ln2 = 2f64.ln();
        let m = Measures::of(&j);
        let hy = -(0.75 * 0.75f64.ln() + 0.25 * 0.25f64.ln());
        assert!((m.h_x - ln2).abs() < 1e-15);
        assert!((m.h_y - hy).abs() < 1e-15);
        assert!((m.h_xy - 1.5 * ln2).abs() < 1e-15);
        assert!((m.h_y_given_x - 0.5 * ln2).abs() < 1e-15);
        assert!((m.i_xy - (hy - 0.5 * ln2)).abs() < 1e-15);
    }

    #[test]
    fn kl_infinite_off_support_and_js_bounded() {
        let p = [0.5, 0.5];
        let q = [1.0, 0.0];
        assert!(kl(&p, &q).is_infinite());
        assert_eq!(kl(&q, &p), 2f64.ln());
        // m = (3/4, 1/4): JS = ½[½ ln(2/3) + ½ ln 2 + ln(4/3)] = ¾ ln(4/3).
        assert!((js(&p, &q) - 0.75 * (4.0f64 / 3.0).ln()).abs() < 1e-15);
        assert!((js(&[1.0, 0.0], &[0.0, 1.0]) - 2f64.ln()).abs() < 1e-16);
    }
}
