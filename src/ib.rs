//! `Ib`: the information bottleneck of Tishby, Pereira & Bialek.
//!
//! Minimises L = I(X;T) − β I(T;Y) over encoders q(t|x), with the Markov decoder and the
//! KL distortion. The self-consistent equations \[TPB99\]:
//!
//! q(t|x) = q(t) exp(−β KL[p(y|x) ‖ q(y|t)]) / Z(x,β);  q(t) = Σ_x p(x) q(t|x);
//! q(y|t) = Σ_x p(y|x) q(x|t).

use nalgebra::DMatrix;

use crate::bottleneck::{is_positive, markov_decoder, overlap, Bottleneck, Decoder, Quantities};
use crate::dist::Joint;
use crate::scalar::Real;

/// The information bottleneck \[TPB99\].
#[derive(Clone, Copy, Debug, Default)]
pub struct Ib;

/// KL[p(y|x) ‖ q(y|t)] for all x, t, as a masked matrix product:
/// d(x,t) = Σ_y p(y|x) ln p(y|x) − Σ_{y: p(y|x)>0} p(y|x) ln q(y|t), and +inf when some
/// y has p(y|x) > 0 = q(y|t). Used by the IB and the generalised IB.
pub(crate) fn kl_distortion<T: Real>(p: &Joint<T>, decoder: &Decoder<T>) -> DMatrix<T> {
    let p_y_given_x = p.p_y_given_x();
    let (nx, nt) = (p.nx(), decoder.live().len());
    let neg_entropy = p.neg_entropy_rows();
    let cross = T::matmul_tr(p_y_given_x, decoder.ln_q_y_given_t_or_zero());
    // Where p(y|x) > 0 = q(y|t) for some y, the distortion is +inf.
    // Zeros of live decoders only: dead clusters (zero rows) are +inf anyway, and checking
    // them would make every step pay for the overlap.
    let (q, live) = (decoder.q_y_given_t(), decoder.live());
    let live_zero = DMatrix::from_fn(nt, q.ncols(), |t, y| live[t] && q[(t, y)].is_zero());
    let missing = live_zero
        .iter()
        .any(|&z| z)
        .then(|| overlap(&is_positive(p_y_given_x), &live_zero));
    DMatrix::from_fn(nx, nt, |x, t| {
        let infinite = !live[t] || missing.as_ref().is_some_and(|m| m[(x, t)]);
        if infinite {
            T::infinity()
        } else {
            (neg_entropy[x].clone() - &cross[(x, t)]).max_of(T::zero())
        }
    })
}

impl<T: Real> Bottleneck<T> for Ib {
    fn name(&self) -> &'static str {
        "ib"
    }

    /// Yes: [`Bottleneck::decoder`] is [`crate::bottleneck::markov_decoder`].
    fn decoder_is_markov(&self) -> bool {
        true
    }

    /// Yes: q(y|t) = 0 makes KL[p(y|x) || q(y|t)] infinite for every x with p(y|x) > 0.
    fn decoder_zeros_trap(&self) -> bool {
        true
    }

    /// The Markov decoder q(y|t) = Σ_x p(x,y) q(t|x) / q(t).
    fn decoder(&self, p: &Joint<T>, q_t_given_x: &DMatrix<T>, q_t: &[T]) -> Decoder<T> {
        markov_decoder(p, q_t_given_x, q_t)
    }

    /// d(x,t) = KL[p(y|x) ‖ q(y|t)].
    fn distortion(&self, p: &Joint<T>, decoder: &Decoder<T>) -> DMatrix<T> {
        kl_distortion(p, decoder)
    }

    /// L = I(X;T) − β I(T;Y).
    fn objective(
        &self,
        _p: &Joint<T>,
        beta: &T,
        _q_t_given_x: &DMatrix<T>,
        q: &Quantities<T>,
    ) -> T {
        q.i_xt.clone() - beta.clone() * &q.i_ty
    }
}
