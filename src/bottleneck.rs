//! The family of bottleneck methods as one trait: a method is a decoder q(y|t) and a
//! distortion d(x,t); the encoder update (a Gibbs distribution) and the iteration are
//! shared.
//!
//! All three methods are Blahut-Arimoto-type alternating minimisations over the
//! encoder q(t|x), the cluster marginal q(t) and the decoder q(y|t) [TPB99; PST20;
//! SS17]. One step, from an encoder q_n(t|x):
//!
//! 1. q_n(t) = Σ_x p(x) q_n(t|x);
//! 2. q_n(y|t) = the method's decoder ([`Bottleneck::decoder`]);
//! 3. d_n(x,t) = the method's distortion ([`Bottleneck::distortion`]);
//! 4. q_{n+1}(t|x) ∝ exp( (ln q_n(t) − β d_n(x,t)) / α ), α = 1 except for the
//!    generalised IB ([`Bottleneck::encoder`]).
//!
//! Steps 2 and 3 are matrix products (|X|×|Y| by |Y|×|T|) with explicit masks for
//! ln 0 = −inf, so no 0·(−inf) ever occurs: a term with p = 0 contributes 0, and a
//! cluster whose decoder misses the support of p(y|x) gets distortion +inf and encoder
//! weight exactly 0. Step 4 is computed in log space (log-sum-exp), so no exponential
//! underflows before normalisation, for any β.

use std::sync::OnceLock;

use nalgebra::DMatrix;

use crate::dist::Joint;
use crate::info::kl;
use crate::scalar::{tol, Real};

/// A decoder: q(y|t) (rows t, columns y) and which clusters are alive (q(t) > 0 and a
/// defined decoder). Rows of dead clusters are 0.
///
/// Read-only once built, so that its logarithm ([`Decoder::ln_q_y_given_t_or_zero`]) is
/// computed at most once however many consumers need it: in one iteration step the
/// distortion and the objective's I(T;Y) both do.
#[derive(Clone, Debug)]
pub struct Decoder<T: Real> {
    q_y_given_t: DMatrix<T>,
    live: Vec<bool>,
    ln_q_y_given_t: OnceLock<DMatrix<T>>,
}

impl<T: Real> Decoder<T> {
    /// The decoder q(y|t) (rows t, columns y) with `live[t]` saying whether cluster t has
    /// mass and a defined decoder (rows of dead clusters should be 0).
    ///
    /// # Panics
    /// If `live` does not have one entry per row of `q_y_given_t`.
    pub fn new(q_y_given_t: DMatrix<T>, live: Vec<bool>) -> Self {
        assert_eq!(
            q_y_given_t.nrows(),
            live.len(),
            "Decoder: one live flag per row"
        );
        Decoder {
            q_y_given_t,
            live,
            ln_q_y_given_t: OnceLock::new(),
        }
    }

    /// [`Decoder::new`] for a builder that already has the logarithm: `ln_or_zero` must
    /// hold ln q(y|t) wherever q(y|t) > 0 and 0 wherever q(y|t) = 0.
    pub(crate) fn with_log(
        q_y_given_t: DMatrix<T>,
        live: Vec<bool>,
        ln_or_zero: DMatrix<T>,
    ) -> Self {
        let decoder = Decoder::new(q_y_given_t, live);
        debug_assert_eq!(ln_or_zero.shape(), decoder.q_y_given_t.shape());
        let _ = decoder.ln_q_y_given_t.set(ln_or_zero);
        decoder
    }

    /// q(y|t), rows t, columns y.
    pub fn q_y_given_t(&self) -> &DMatrix<T> {
        &self.q_y_given_t
    }

    /// The decoder matrix q(y|t) itself, the decoder consumed.
    pub fn into_q_y_given_t(self) -> DMatrix<T> {
        self.q_y_given_t
    }

    /// `live()[t]`: cluster t has mass and a defined decoder.
    pub fn live(&self) -> &[bool] {
        &self.live
    }

    /// ln q(y|t), with 0 in place of ln 0 = −inf (for masked matrix products and sums of
    /// q ln q, where the zeros contribute nothing); computed on first use.
    pub fn ln_q_y_given_t_or_zero(&self) -> &DMatrix<T> {
        self.ln_q_y_given_t
            .get_or_init(|| ln_or_zero(&self.q_y_given_t))
    }
}

/// One member of the bottleneck family: its decoder, its distortion, its encoder update
/// and its objective. Implemented by [`crate::ib::Ib`], [`crate::dual_ib::DualIb`] and
/// [`crate::dib::GeneralizedIb`].
pub trait Bottleneck<T: Real>: Sync {
    /// Short name used in output (`ib`, `dualib`, `dib`).
    fn name(&self) -> &'static str;

    /// The decoder q(y|t) implied by the encoder q(t|x) and the marginal q(t).
    fn decoder(&self, p: &Joint<T>, q_t_given_x: &DMatrix<T>, q_t: &[T]) -> Decoder<T>;

    /// The distortion d(x,t) (rows x, columns t) between p(y|x) and the decoder; +inf
    /// allowed; dead clusters get +inf.
    fn distortion(&self, p: &Joint<T>, decoder: &Decoder<T>) -> DMatrix<T>;

    /// The encoder update. Provided: the Gibbs distribution
    /// q'(t|x) = q(t) exp(−β d(x,t)) / Z(x, β), in log space.
    ///
    /// # Formula
    /// ln q'(t|x) = ln q(t) − β d(x,t) − logsumexp_t( ln q(t) − β d(x,t) )  \[TPB99\]
    fn encoder(&self, q_t: &[T], d: &DMatrix<T>, beta: &T) -> DMatrix<T> {
        self.encoder_with_log(q_t, d, beta).0
    }

    /// The encoder update and its logarithm ln q'(t|x) (−inf where q'(t|x) = 0), which the
    /// accelerated driver extrapolates. Provided: the Gibbs distribution of
    /// [`Bottleneck::encoder`], whose logarithm costs nothing extra. A method with another
    /// encoder overrides this one ([`Bottleneck::encoder`] follows it).
    fn encoder_with_log(&self, q_t: &[T], d: &DMatrix<T>, beta: &T) -> (DMatrix<T>, DMatrix<T>) {
        gibbs_encoder_with_log(q_t, d, beta, &T::one())
    }

    /// The objective the method minimises, in nats, for the encoder `q_t_given_x` whose
    /// quantities are `q`.
    fn objective(&self, p: &Joint<T>, beta: &T, q_t_given_x: &DMatrix<T>, q: &Quantities<T>) -> T;

    /// One full step of the iteration: encoder → marginal → decoder → distortion →
    /// encoder. Returns the new encoder.
    fn step(&self, p: &Joint<T>, beta: &T, q_t_given_x: &DMatrix<T>) -> DMatrix<T> {
        self.step_with_log(p, beta, q_t_given_x).0
    }

    /// [`Bottleneck::step`] with the logarithm of the new encoder (−inf at zeros).
    fn step_with_log(
        &self,
        p: &Joint<T>,
        beta: &T,
        q_t_given_x: &DMatrix<T>,
    ) -> (DMatrix<T>, DMatrix<T>) {
        let q_t = cluster_marginal(p, q_t_given_x);
        let decoder = self.decoder(p, q_t_given_x, &q_t);
        self.step_from_decoder(p, beta, &q_t, &decoder)
    }

    /// The second half of [`Bottleneck::step_with_log`], for a caller that already has
    /// q(t) and the decoder of the current encoder: distortion → encoder (with its log).
    fn step_from_decoder(
        &self,
        p: &Joint<T>,
        beta: &T,
        q_t: &[T],
        decoder: &Decoder<T>,
    ) -> (DMatrix<T>, DMatrix<T>) {
        let d = self.distortion(p, decoder);
        self.encoder_with_log(q_t, &d, beta)
    }

    /// Whether [`Bottleneck::decoder`] is the Markov decoder [`markov_decoder`], the one
    /// [`Quantities`] needs for I(T;Y); a driver that has it then computes it once per
    /// iterate. Provided: `false` (always correct, never shares).
    fn decoder_is_markov(&self) -> bool {
        false
    }

    /// Whether a zero of the decoder, q(y|t) = 0 at an outcome with p(y) > 0, freezes the
    /// cluster's support: with d(x,t) = KL[p(y|x) || q(y|t)] it is +inf for every x with
    /// p(y|x) > 0, so q(t|x) = 0 for those x at every later step, and the iteration can
    /// stop at a hard fixed point that a cluster of full support would leave (found on
    /// random joints with zeros in p(y|x): the reverse anneal from T = X stayed 0.02 to
    /// 0.2 nats above the optimum). A sweep gives such points a share of every x and
    /// solves again ([`crate::anneal`]). Provided: `false`. Not for the dual IB, whose
    /// geometric decoder is killed, not freed, by a share of an x with zeros.
    fn decoder_zeros_trap(&self) -> bool {
        false
    }
}

/// q(t) = Σ_x p(x) q(t|x).
pub fn cluster_marginal<T: Real>(p: &Joint<T>, q_t_given_x: &DMatrix<T>) -> Vec<T> {
    (0..q_t_given_x.ncols())
        .map(|t| {
            (0..p.nx()).fold(T::zero(), |acc, x| {
                acc + p.p_x()[x].clone() * &q_t_given_x[(x, t)]
            })
        })
        .collect()
}

/// q(x|t) = p(x) q(t|x) / q(t) (Bayes), rows t, columns x; rows of clusters with
/// q(t) = 0 are 0.
pub fn members_given_cluster<T: Real>(
    p: &Joint<T>,
    q_t_given_x: &DMatrix<T>,
    q_t: &[T],
) -> DMatrix<T> {
    DMatrix::from_fn(q_t.len(), p.nx(), |t, x| {
        if q_t[t].is_zero() {
            T::zero()
        } else {
            p.p_x()[x].clone() * &q_t_given_x[(x, t)] / &q_t[t]
        }
    })
}

/// ln of every entry, with 0 in place of ln 0 = −inf (for masked matrix products: the
/// zeros are handled through [`zero_indicator`]).
pub(crate) fn ln_or_zero<T: Real>(m: &DMatrix<T>) -> DMatrix<T> {
    m.map(|v| if v.is_zero() { T::zero() } else { v.ln() })
}

/// `true` where `m` is zero.
pub(crate) fn is_zero<T: Real>(m: &DMatrix<T>) -> DMatrix<bool> {
    m.map(|v| v.is_zero())
}

/// `true` where `m` is positive.
pub(crate) fn is_positive<T: Real>(m: &DMatrix<T>) -> DMatrix<bool> {
    m.map(|v| v > T::zero())
}

/// Support overlap: `out[(i, j)]` is true iff some k has `a[(i, k)]` and `b[(j, k)]`
/// (a boolean product a·bᵀ). Used to find where ln 0 would enter a product.
pub(crate) fn overlap(a: &DMatrix<bool>, b: &DMatrix<bool>) -> DMatrix<bool> {
    assert_eq!(a.ncols(), b.ncols(), "overlap: inner dimensions differ");
    // Rows as 64-bit bitsets: |a|·|b|·ceil(k/64) word operations.
    let words = a.ncols().div_ceil(64);
    let bits = |m: &DMatrix<bool>| -> Vec<Vec<u64>> {
        (0..m.nrows())
            .map(|i| {
                let mut row = vec![0u64; words];
                for k in 0..m.ncols() {
                    if m[(i, k)] {
                        row[k / 64] |= 1 << (k % 64);
                    }
                }
                row
            })
            .collect()
    };
    let (ra, rb) = (bits(a), bits(b));
    DMatrix::from_fn(a.nrows(), b.nrows(), |i, j| {
        ra[i].iter().zip(&rb[j]).any(|(x, y)| x & y != 0)
    })
}

/// The Markov (arithmetic-mean) decoder of the IB: the conditional of the joint that
/// the encoder induces on (T, Y).
///
/// # Formula
/// q(y|t) = Σ_x p(x,y) q(t|x) / q(t) = Σ_x p(y|x) q(x|t)  \[TPB99\]
pub fn markov_decoder<T: Real>(p: &Joint<T>, q_t_given_x: &DMatrix<T>, q_t: &[T]) -> Decoder<T> {
    let numerator = T::tr_matmul(q_t_given_x, p.p_xy());
    let nt = q_t.len();
    let live: Vec<bool> = q_t.iter().map(|m| !m.is_zero()).collect();
    let q_y_given_t = DMatrix::from_fn(nt, p.ny(), |t, y| {
        if live[t] {
            numerator[(t, y)].clone() / &q_t[t]
        } else {
            T::zero()
        }
    });
    Decoder::new(q_y_given_t, live)
}

/// Gibbs encoder with temperature α: q'(t|x) ∝ exp((ln q(t) − β d(x,t)) / α), computed
/// in log space. Clusters with q(t) = 0 or d = +inf get exactly 0. A row where every
/// cluster is excluded is returned as NaN (reported as a non-finite termination).
///
/// # Formula
/// ln q'(t|x) = ℓ(x,t) − logsumexp_t ℓ(x,t),  ℓ(x,t) = (ln q(t) − β d(x,t)) / α  \[SS17\]
pub fn gibbs_encoder<T: Real>(q_t: &[T], d: &DMatrix<T>, beta: &T, alpha: &T) -> DMatrix<T> {
    gibbs_encoder_with_log(q_t, d, beta, alpha).0
}

/// [`gibbs_encoder`] and its logarithm ln q'(t|x) = ℓ(x,t) − logsumexp_t ℓ(x,t) (−inf for
/// excluded clusters, NaN for a row where every cluster is excluded).
pub fn gibbs_encoder_with_log<T: Real>(
    q_t: &[T],
    d: &DMatrix<T>,
    beta: &T,
    alpha: &T,
) -> (DMatrix<T>, DMatrix<T>) {
    let (nx, nt) = d.shape();
    let unit_alpha = *alpha == T::one();
    let neg_inf = -T::infinity();
    // Column by column (the storage order): logits into `log`, the row maxima beside
    // (−inf while a row has no admissible cluster).
    let mut log = DMatrix::from_element(nx, nt, neg_inf.clone());
    let mut max = vec![neg_inf.clone(); nx];
    for (t, mass) in q_t.iter().enumerate().take(nt) {
        if mass.is_zero() {
            continue;
        }
        let ln_q_t = mass.ln();
        let d_col = &d.as_slice()[t * nx..(t + 1) * nx];
        let log_col = &mut log.as_mut_slice()[t * nx..(t + 1) * nx];
        for ((l_out, dist), m) in log_col.iter_mut().zip(d_col).zip(max.iter_mut()) {
            if !dist.is_finite() {
                continue;
            }
            let mut l = ln_q_t.clone() - beta.clone() * dist;
            if !unit_alpha {
                l /= alpha;
            }
            if l > *m {
                *m = l.clone();
            }
            *l_out = l;
        }
    }
    // Shifted by the row maxima and exponentiated (excluded clusters stay −inf, e^−inf = 0),
    // then summed per row.
    let mut out = DMatrix::from_element(nx, nt, T::zero());
    let mut total = vec![T::zero(); nx];
    for t in 0..nt {
        let log_col = &mut log.as_mut_slice()[t * nx..(t + 1) * nx];
        let out_col = &mut out.as_mut_slice()[t * nx..(t + 1) * nx];
        for ((o, l), m) in out_col.iter_mut().zip(log_col.iter_mut()).zip(&max) {
            if l.is_finite() {
                *l -= m;
                *o = l.clone();
            } else {
                *o = neg_inf.clone();
            }
        }
        T::exp_in_place(out_col);
        for (sum, w) in total.iter_mut().zip(out_col.iter()) {
            *sum += w;
        }
    }
    let ln_total: Vec<T> = total.iter().map(|v| v.ln()).collect();
    for t in 0..nt {
        let log_col = &mut log.as_mut_slice()[t * nx..(t + 1) * nx];
        let out_col = &mut out.as_mut_slice()[t * nx..(t + 1) * nx];
        for x in 0..nx {
            if !max[x].is_finite() {
                // Every cluster is excluded for this x: NaN, reported as non-finite.
                out_col[x] = T::zero() / T::zero();
                log_col[x] = T::zero() / T::zero();
            } else if log_col[x].is_finite() {
                let w = std::mem::replace(&mut out_col[x], T::zero());
                out_col[x] = (w / &total[x]).flush_subnormal();
                log_col[x] -= &ln_total[x];
            }
        }
    }
    (out, log)
}

/// The information quantities of an encoder (nats), with the Markov decoder.
#[derive(Clone, Debug)]
pub struct Quantities<T: Real> {
    /// q(t).
    pub q_t: Vec<T>,
    /// I(X;T) = Σ_x p(x) KL( q(·|x) ‖ q(·) ).
    pub i_xt: T,
    /// I(T;Y) = Σ_t q(t) KL( q(·|t) ‖ p(·) ) with the Markov decoder: the mutual
    /// information of the joint the encoder induces (also for the dual IB).
    pub i_ty: T,
    /// H(T) = −Σ_t q(t) ln q(t).
    pub h_t: T,
    /// H(T|X) = Σ_x p(x) H(q(·|x)).
    pub h_t_given_x: T,
}

impl<T: Real> Quantities<T> {
    /// Computes the quantities of `q_t_given_x` for the joint `p`.
    ///
    /// # Formula
    /// I(X;T) = Σ_x p(x) Σ_t q(t|x) ln(q(t|x)/q(t)); I(T;Y) = Σ_t q(t) Σ_y q(y|t) ln(q(y|t)/p(y)),
    /// q(y|t) = Σ_x p(x,y) q(t|x)/q(t); H(T) = −Σ q(t) ln q(t)  [TPB99; CT06]
    pub fn of(p: &Joint<T>, q_t_given_x: &DMatrix<T>) -> Self {
        Self::of_with_log(p, q_t_given_x, None)
    }

    /// [`Quantities::of`], reusing ln q(t|x) when the caller has it (−inf at zeros), which
    /// saves one logarithm per entry: I(X;T) = Σ_x p(x) Σ_{t: q>0} q(t|x) (ln q(t|x) − ln q(t)).
    pub fn of_with_log(
        p: &Joint<T>,
        q_t_given_x: &DMatrix<T>,
        ln_q_t_given_x: Option<&DMatrix<T>>,
    ) -> Self {
        let q_t = cluster_marginal(p, q_t_given_x);
        let dec = markov_decoder(p, q_t_given_x, &q_t);
        Self::of_parts(p, q_t_given_x, ln_q_t_given_x, q_t, &dec)
    }

    /// [`Quantities::of_with_log`] for a caller that already has q(t) =
    /// [`cluster_marginal`] and the Markov decoder [`markov_decoder`] of `q_t_given_x`
    /// (the solver's driver, which computed them for its step).
    pub fn of_parts(
        p: &Joint<T>,
        q_t_given_x: &DMatrix<T>,
        ln_q_t_given_x: Option<&DMatrix<T>>,
        q_t: Vec<T>,
        dec: &Decoder<T>,
    ) -> Self {
        let mut i_xt = T::zero();
        let mut h_t_given_x = T::zero();
        match ln_q_t_given_x {
            Some(log) => {
                let ln_q_t: Vec<T> = q_t
                    .iter()
                    .map(|m| if m.is_zero() { T::zero() } else { m.ln() })
                    .collect();
                // Column by column (storage order), per-row sums beside.
                let mut cross = vec![T::zero(); p.nx()];
                let mut neg_h = vec![T::zero(); p.nx()];
                for t in 0..q_t.len() {
                    for x in 0..p.nx() {
                        let v = &q_t_given_x[(x, t)];
                        if v.is_zero() {
                            continue;
                        }
                        neg_h[x].add_mul(v, &log[(x, t)]);
                        cross[x].add_mul(v, &ln_q_t[t]);
                    }
                }
                for x in 0..p.nx() {
                    let px = &p.p_x()[x];
                    i_xt += px.clone() * (neg_h[x].clone() - &cross[x]);
                    h_t_given_x -= px.clone() * &neg_h[x];
                }
            }
            None => {
                for x in 0..p.nx() {
                    let row: Vec<T> = q_t_given_x.row(x).iter().cloned().collect();
                    i_xt += p.p_x()[x].clone() * kl(&row, &q_t);
                    h_t_given_x += p.p_x()[x].clone() * crate::info::entropy(&row);
                }
            }
        }
        // I(T;Y) = Σ_t q(t) Σ_{y: q(y|t)>0} q(y|t) (ln q(y|t) − ln p(y)), with the
        // decoder's logarithm (which the distortion of the same step shares). A Markov
        // decoder has q(y|t) > 0 only where p(y) > 0.
        let ln_p_y: Vec<T> = p
            .p_y()
            .iter()
            .map(|v| if v.is_zero() { T::zero() } else { v.ln() })
            .collect();
        let (q_y_given_t, ln_q_y_given_t) = (dec.q_y_given_t(), dec.ln_q_y_given_t_or_zero());
        let mut i_ty = T::zero();
        for (t, mass) in q_t.iter().enumerate() {
            if !dec.live()[t] {
                continue;
            }
            let mut kl_t = T::zero();
            for (y, ln_p) in ln_p_y.iter().enumerate() {
                let q = &q_y_given_t[(t, y)];
                if !q.is_zero() {
                    kl_t.add_mul(q, &(ln_q_y_given_t[(t, y)].clone() - ln_p));
                }
            }
            i_ty += mass.clone() * kl_t;
        }
        let h_t = crate::info::entropy(&q_t);
        Quantities {
            i_xt: tol::clamp_negative_zero(i_xt, &T::one()),
            i_ty: tol::clamp_negative_zero(i_ty, &T::one()),
            h_t,
            h_t_given_x,
            q_t,
        }
    }
}

/// Counts distinct clusters: drops clusters with q(t) <= `mass_tol`, then merges
/// clusters whose decoders agree within `decoder_tol` (max over y of |q(y|t) − q(y|t')|),
/// greedily in order of decreasing mass. Returns, for each effective cluster, its mass
/// and the original clusters it contains.
///
/// At a fixed point two clusters with equal decoders have proportional encoder
/// columns, so merging them changes neither I(X;T) nor I(T;Y) (spec ib §3.5).
pub fn effective_clusters<T: Real>(
    q_t: &[T],
    q_y_given_t: &DMatrix<T>,
    mass_tol: &T,
    decoder_tol: &T,
) -> Vec<(T, Vec<usize>)> {
    let mut order: Vec<usize> = (0..q_t.len()).filter(|&t| q_t[t] > *mass_tol).collect();
    order.sort_by(|&a, &b| {
        q_t[b]
            .partial_cmp(&q_t[a])
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let mut groups: Vec<(T, Vec<usize>)> = Vec::new();
    for t in order {
        let found = groups.iter_mut().find(|(_, members)| {
            let lead = members[0];
            (0..q_y_given_t.ncols()).all(|y| {
                (q_y_given_t[(t, y)].clone() - &q_y_given_t[(lead, y)]).abs() <= *decoder_tol
            })
        });
        match found {
            Some((mass, members)) => {
                *mass += &q_t[t];
                members.push(t);
            }
            None => groups.push((q_t[t].clone(), vec![t])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A weight exp(−720) relative to the row's largest is subnormal in f64 (below
    /// 2.2e-308): the encoder stores 0 there, its logarithm stays the finite −720, and the
    /// row still sums to 1. Subnormal entries would slow every later product a hundredfold.
    #[test]
    fn gibbs_encoder_flushes_subnormal_weights_and_keeps_their_logarithm() {
        let q_t = [0.5f64, 0.5, 0.5];
        let d = DMatrix::from_row_slice(1, 3, &[0.0, 7.2, 0.5]);
        let (q, log) = gibbs_encoder_with_log(&q_t, &d, &100.0, &1.0);
        let ln_z = (1.0 + (-50.0f64).exp() + (-720.0f64).exp()).ln();
        assert_eq!(q[(0, 1)], 0.0);
        assert!((log[(0, 1)] - (-720.0 - ln_z)).abs() < 1e-12);
        assert!((q[(0, 2)] - (-50.0f64).exp() / ln_z.exp()).abs() < 1e-30);
        assert!(q.iter().all(|v| !v.is_subnormal()));
        assert!((q.sum() - 1.0).abs() < 1e-15);
    }
}
