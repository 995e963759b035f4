//! `DualIb`: the dual information bottleneck of Piran, Shwartz-Ziv & Tishby.
//!
//! The distortion is the KL divergence in the other order, d(x,t) = KL[q(y|t) ‖ p(y|x)],
//! and the optimal decoder becomes the normalised geometric mean of the members' p(y|x)
//! [PST20, abstract: "By switching the order in the KL-divergence ... the optimal decoder
//! becomes the geometric rather than the arithmetic mean"]. The update equations are
//! those of the authors' code (ravidziv/dual_IB `BA/genIB.py`, `dual=True`), derived in
//! the spec (ib §2.2):
//!
//! q(t|x) = q(t) exp(−β KL[q(y|t) ‖ p(y|x)]) / Z(x,β);  q(t) = Σ_x p(x) q(t|x);
//! ln q(y|t) = Σ_x q(x|t) ln p(y|x) − ln Z_t,  Z_t = Σ_y Π_x p(y|x)^{q(x|t)}.
//!
//! The functional minimised is F = I(X;T) + β E_{p(x,t)} KL[q(y|t) ‖ p(y|x)], which at the
//! geometric decoder equals I(X;T) − β Σ_t q(t) ln Z_t (spec ib §2.2). Each block of the
//! iteration minimises F exactly, so F never increases.

use nalgebra::DMatrix;

use crate::bottleneck::{
    is_positive, is_zero, members_given_cluster, overlap, Bottleneck, Decoder, Quantities,
};
use crate::dist::Joint;
use crate::scalar::Real;

/// The dual information bottleneck \[PST20\].
#[derive(Clone, Copy, Debug, Default)]
pub struct DualIb;

/// The geometric-mean decoder and ln Z_t per cluster (`None` for dead clusters: q(t) = 0,
/// or members whose supports of p(y|x) do not intersect, Z_t = 0).
///
/// Terms with q(x|t) = 0 are skipped (no 0·(−inf)); a y with p(y|x) = 0 for any member x
/// (q(x|t) > 0) gets q(y|t) = 0.
pub fn geometric_decoder<T: Real>(
    p: &Joint<T>,
    q_t_given_x: &DMatrix<T>,
    q_t: &[T],
) -> (Decoder<T>, Vec<Option<T>>) {
    let (ny, nt) = (p.ny(), q_t.len());
    let q_x_given_t = members_given_cluster(p, q_t_given_x, q_t);
    let weighted = T::matmul(&q_x_given_t, p.ln_p_y_given_x());
    // y is killed in cluster t when some member x (q(x|t) > 0) has p(y|x) = 0.
    let killed = p.has_zero_conditionals().then(|| {
        overlap(
            &is_positive(&q_x_given_t),
            &is_zero(p.p_y_given_x()).transpose(),
        )
    });
    let mut q_y_given_t = DMatrix::from_element(nt, ny, T::zero());
    let mut ln_q_y_given_t = DMatrix::from_element(nt, ny, T::zero());
    let mut live = vec![false; nt];
    let mut ln_z = vec![None; nt];
    for t in 0..nt {
        if q_t[t].is_zero() {
            continue;
        }
        let allowed = |y: usize| killed.as_ref().is_none_or(|k| !k[(t, y)]);
        let max = (0..ny)
            .filter(|&y| allowed(y))
            .map(|y| weighted[(t, y)].clone())
            .reduce(|a, b| a.max_of(b));
        let Some(max) = max else { continue };
        let total = (0..ny).filter(|&y| allowed(y)).fold(T::zero(), |acc, y| {
            acc + (weighted[(t, y)].clone() - &max).exp()
        });
        let lz = max + total.ln();
        for y in (0..ny).filter(|&y| allowed(y)) {
            let ln_q = weighted[(t, y)].clone() - &lz;
            q_y_given_t[(t, y)] = ln_q.exp();
            // The logarithm only where the entry did not underflow to 0 (the decoder's
            // contract: 0 in place of ln 0).
            if !q_y_given_t[(t, y)].is_zero() {
                ln_q_y_given_t[(t, y)] = ln_q;
            }
        }
        live[t] = true;
        ln_z[t] = Some(lz);
    }
    (Decoder::with_log(q_y_given_t, live, ln_q_y_given_t), ln_z)
}

impl<T: Real> Bottleneck<T> for DualIb {
    fn name(&self) -> &'static str {
        "dualib"
    }

    /// The normalised geometric mean ln q(y|t) = Σ_x q(x|t) ln p(y|x) − ln Z_t.
    fn decoder(&self, p: &Joint<T>, q_t_given_x: &DMatrix<T>, q_t: &[T]) -> Decoder<T> {
        geometric_decoder(p, q_t_given_x, q_t).0
    }

    /// d(x,t) = KL[q(y|t) ‖ p(y|x)] = Σ_y q(y|t) ln q(y|t) − Σ_y q(y|t) ln p(y|x); +inf
    /// when q(y|t) > 0 = p(y|x) for some y, or the cluster is dead.
    fn distortion(&self, p: &Joint<T>, decoder: &Decoder<T>) -> DMatrix<T> {
        let (q_y_given_t, live) = (decoder.q_y_given_t(), decoder.live());
        let (nx, nt) = (p.nx(), live.len());
        let cross = T::matmul_tr(p.ln_p_y_given_x(), q_y_given_t);
        // Where q(y|t) > 0 = p(y|x) for some y, the distortion is +inf.
        let missing = p
            .has_zero_conditionals()
            .then(|| overlap(&is_zero(p.p_y_given_x()), &is_positive(q_y_given_t)));
        // Σ_y q(y|t) ln q(y|t), with the decoder's logarithm (0 where q(y|t) = 0).
        let ln_q = decoder.ln_q_y_given_t_or_zero();
        let neg_entropy: Vec<T> = (0..nt)
            .map(|t| {
                (0..q_y_given_t.ncols()).fold(T::zero(), |mut acc, y| {
                    acc.add_mul(&q_y_given_t[(t, y)], &ln_q[(t, y)]);
                    acc
                })
            })
            .collect();
        DMatrix::from_fn(nx, nt, |x, t| {
            let infinite = !live[t] || missing.as_ref().is_some_and(|m| m[(x, t)]);
            if infinite {
                T::infinity()
            } else {
                (neg_entropy[t].clone() - &cross[(x, t)]).max_of(T::zero())
            }
        })
    }

    /// F = I(X;T) − β Σ_t q(t) ln Z_t = I(X;T) + β E_{p(x,t)} KL[q(y|t) ‖ p(y|x)]; +inf
    /// when a cluster with mass has no decoder (its members' supports of p(y|x) do not
    /// intersect, Z_t = 0): its members' distortion is +inf ([`Bottleneck::distortion`]).
    fn objective(&self, p: &Joint<T>, beta: &T, q_t_given_x: &DMatrix<T>, q: &Quantities<T>) -> T {
        let (_, ln_z) = geometric_decoder(p, q_t_given_x, &q.q_t);
        let mut expected = T::zero();
        for (q_t, lz) in q.q_t.iter().zip(&ln_z) {
            match lz {
                Some(lz) => expected -= q_t.clone() * lz,
                None if q_t.is_zero() => {}
                None => return T::infinity(),
            }
        }
        q.i_xt.clone() + beta.clone() * expected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The geometric decoder hands its logarithm over instead of having it recomputed: it
    /// must be ln q(y|t) where q(y|t) > 0 and exactly 0 where q(y|t) = 0 (a y killed by a
    /// member with p(y|x) = 0, or a dead cluster).
    #[test]
    fn the_geometric_decoder_carries_its_logarithm_with_zeros_where_it_vanishes() {
        // Row 1 has p(y=2|x=1) = 0, so clusters holding x = 1 lose y = 2; row 2 has
        // p(y|x) of 3e-300, whose logarithm (-689.7) is far from that of 1.
        let p = Joint::new(DMatrix::from_row_slice(
            3,
            3,
            &[0.2, 0.1, 0.1, 0.15, 0.15, 0.0, 1e-300, 1e-300, 0.3],
        ))
        .unwrap();
        // Columns: {x0, x1}, {x0}, {x2}, {x1}, and a dead cluster.
        let q_t_given_x = DMatrix::from_row_slice(
            3,
            5,
            &[
                0.5, 0.5, 0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 0.7, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0,
            ],
        );
        let q_t = crate::bottleneck::cluster_marginal(&p, &q_t_given_x);
        let (decoder, _) = geometric_decoder(&p, &q_t_given_x, &q_t);
        let (q, ln) = (decoder.q_y_given_t(), decoder.ln_q_y_given_t_or_zero());
        let mut zeros = 0;
        for t in 0..5 {
            for y in 0..3 {
                let v = q[(t, y)];
                if v == 0.0 {
                    zeros += 1;
                    assert_eq!(ln[(t, y)], 0.0, "t {t} y {y}");
                } else {
                    assert!((ln[(t, y)] - v.ln()).abs() <= 1e-13 * v.ln().abs().max(1.0));
                }
            }
        }
        // Clusters 0 and 3 hold x = 1 (y = 2 killed), cluster 4 is dead (3 zeros), and
        // cluster 2 keeps q(y=0|t) = 3.3e-300 > 0.
        assert!(
            q[(0, 2)] == 0.0 && q[(3, 2)] == 0.0 && q[(1, 2)] > 0.0,
            "{q}"
        );
        assert!(q[(2, 0)] > 0.0 && q[(2, 0)] < 1e-299 && ln[(2, 0)] < -600.0);
        assert!(!decoder.live()[4] && decoder.live()[..4].iter().all(|&l| l));
        assert_eq!(zeros, 5);
        for t in 0..4 {
            assert!((q.row(t).sum() - 1.0).abs() < 1e-14);
        }
    }
}
