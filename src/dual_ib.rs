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
            q_y_given_t[(t, y)] = (weighted[(t, y)].clone() - &lz).exp();
        }
        live[t] = true;
        ln_z[t] = Some(lz);
    }
    (Decoder { q_y_given_t, live }, ln_z)
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
        let (nx, nt) = (p.nx(), decoder.live.len());
        let cross = T::matmul_tr(p.ln_p_y_given_x(), &decoder.q_y_given_t);
        // Where q(y|t) > 0 = p(y|x) for some y, the distortion is +inf.
        let missing = p.has_zero_conditionals().then(|| {
            overlap(
                &is_zero(p.p_y_given_x()),
                &is_positive(&decoder.q_y_given_t),
            )
        });
        let neg_entropy: Vec<T> = (0..nt)
            .map(|t| {
                decoder
                    .q_y_given_t
                    .row(t)
                    .iter()
                    .fold(T::zero(), |acc, v| acc + v.xlogx())
            })
            .collect();
        DMatrix::from_fn(nx, nt, |x, t| {
            let infinite = !decoder.live[t] || missing.as_ref().is_some_and(|m| m[(x, t)]);
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
