//! `GeneralizedIb`: the deterministic and generalised information bottleneck of Strouse &
//! Schwab.
//!
//! Minimises L_α = H(T) − α H(T|X) − β I(T;Y) [SS17; objective confirmed from the authors'
//! README, papers/README.md]. α = 1 is the IB (L_1 = I(X;T) − β I(T;Y)); α → 0 is the
//! deterministic IB, L_0 = H(T) − β I(T;Y). Decoder and distortion are the IB's; the
//! encoder update is a Gibbs distribution at temperature α:
//!
//! q(t|x) = exp( (ln q(t) − β KL[p(y|x) ‖ q(y|t)]) / α ) / Z(x, α, β),
//!
//! and for α = 0 the hard assignment t*(x) = argmax_t [ ln q(t) − β KL[p(y|x) ‖ q(y|t)] ]
//! (ties to the lowest index), q(t|x) = [t = t*(x)].

use nalgebra::DMatrix;

use crate::bottleneck::{gibbs_encoder_with_log, markov_decoder, Bottleneck, Decoder, Quantities};
use crate::dist::Joint;
use crate::ib::kl_distortion;
use crate::scalar::Real;

/// The generalised IB with parameter α ≥ 0; α = 0 is the deterministic IB \[SS17\].
#[derive(Clone, Debug)]
pub struct GeneralizedIb<T: Real> {
    /// The weight of H(T|X) in L_α = H(T) − α H(T|X) − β I(T;Y); 0 for the DIB.
    pub alpha: T,
}

impl<T: Real> GeneralizedIb<T> {
    /// The deterministic IB (α = 0).
    pub fn deterministic() -> Self {
        GeneralizedIb { alpha: T::zero() }
    }
}

/// Hard assignment of every x to argmax_t ln q(t) − β d(x,t) (lowest index on ties).
fn hard_encoder<T: Real>(q_t: &[T], d: &DMatrix<T>, beta: &T) -> DMatrix<T> {
    let (nx, nt) = d.shape();
    let mut out = DMatrix::from_element(nx, nt, T::zero());
    for x in 0..nx {
        let mut best: Option<(usize, T)> = None;
        for t in 0..nt {
            if q_t[t].is_zero() || !d[(x, t)].is_finite() {
                continue;
            }
            let score = q_t[t].ln() - beta.clone() * &d[(x, t)];
            if best.as_ref().is_none_or(|(_, b)| score > *b) {
                best = Some((t, score));
            }
        }
        match best {
            Some((t, _)) => out[(x, t)] = T::one(),
            None => {
                for t in 0..nt {
                    out[(x, t)] = T::zero() / T::zero();
                }
            }
        }
    }
    out
}

impl<T: Real> Bottleneck<T> for GeneralizedIb<T> {
    fn name(&self) -> &'static str {
        "dib"
    }

    /// Yes: [`Bottleneck::decoder`] is [`crate::bottleneck::markov_decoder`].
    fn decoder_is_markov(&self) -> bool {
        true
    }

    /// The Markov decoder, as in the IB.
    fn decoder(&self, p: &Joint<T>, q_t_given_x: &DMatrix<T>, q_t: &[T]) -> Decoder<T> {
        markov_decoder(p, q_t_given_x, q_t)
    }

    /// d(x,t) = KL[p(y|x) ‖ q(y|t)], as in the IB.
    fn distortion(&self, p: &Joint<T>, decoder: &Decoder<T>) -> DMatrix<T> {
        kl_distortion(p, decoder)
    }

    /// Gibbs at temperature α, or the hard argmax for α = 0 (logarithm 0 or −inf).
    fn encoder_with_log(&self, q_t: &[T], d: &DMatrix<T>, beta: &T) -> (DMatrix<T>, DMatrix<T>) {
        if self.alpha.is_zero() {
            let hard = hard_encoder(q_t, d, beta);
            let log = hard.map(|v| if v.is_zero() { -T::infinity() } else { v.ln() });
            (hard, log)
        } else {
            gibbs_encoder_with_log(q_t, d, beta, &self.alpha)
        }
    }

    /// L_α = H(T) − α H(T|X) − β I(T;Y).
    fn objective(&self, _p: &Joint<T>, beta: &T, _q: &DMatrix<T>, q: &Quantities<T>) -> T {
        q.h_t.clone() - self.alpha.clone() * &q.h_t_given_x - beta.clone() * &q.i_ty
    }
}
