//! The nucleation test at a fixed point (spec ib §3.1-3.2, §3.6): does a new cluster of
//! zero mass with decoder q grow under one step, c(q) = Σ_x p(x) e^{−β d(x,q)} / Z(x) > 1?
//! The maximum of c over decoders, by a minorise-maximise iteration from many starts.

use nalgebra::DMatrix;

use super::onset::{p_x_on_face, support_faces};
use super::search::largest_indices;
use super::{divergence, geometric, output};
use super::{BUDGET_STARTS, FULL_SEARCH_MAX_X};
use crate::bottleneck::{cluster_marginal, Decoder};
use crate::dist::Joint;
use crate::dual_ib::geometric_decoder;
use crate::scalar::Real;

/// A local maximum of the nucleation function c(q) found by [`ib_nucleation_test`] or
/// [`dual_nucleation_test`].
#[derive(Clone, Debug)]
pub struct NucleationMaximum<T> {
    /// c(q) at the decoder.
    pub value: T,
    /// The decoder q(y) of the would-be new cluster.
    pub decoder: Vec<T>,
    /// Iterations of the fixed-point run that found it.
    pub iterations: usize,
    /// The run stopped because max_y |Δq(y)| fell below 1e-3·sqrt(epsilon) (otherwise it
    /// hit the cap of 100,000 iterations; c is then a lower bound of that maximum).
    pub converged: bool,
}

/// The result of a nucleation test: the local maxima of c(q) found from all starts,
/// distinct (decoders more than 1e-6 apart in max norm), largest value first.
#[derive(Clone, Debug)]
pub struct NucleationTest<T> {
    /// The local maxima, largest c first (never empty).
    pub maxima: Vec<NucleationMaximum<T>>,
}

impl<T: Real> NucleationTest<T> {
    /// max_q c(q) over the maxima found.
    pub fn value(&self) -> &T {
        &self.maxima[0].value
    }
    /// The maximising decoder.
    pub fn decoder(&self) -> &[T] {
        &self.maxima[0].decoder
    }
    /// The largest c(q) − 1 over the maxima whose decoder differs from each of `existing`
    /// by more than `tol` (max norm over y); `None` when there are none. At a fixed point
    /// every existing decoder has c = 1 (up to the fixed point's accuracy), so this is the
    /// quantity whose sign says whether a *new* cluster would grow.
    pub fn new_cluster_growth(&self, existing: &[Vec<T>], tol: &T) -> Option<T> {
        self.maxima
            .iter()
            .filter(|m| {
                existing.iter().all(|e| {
                    e.iter()
                        .zip(&m.decoder)
                        .any(|(a, b)| (a.clone() - b).abs() > *tol)
                })
            })
            .map(|m| m.value.clone() - T::one())
            .reduce(|a, b| a.max_of(b))
    }
}

/// Which distortion a nucleation test uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Distortion {
    /// IB: d(x, q) = KL(p(y|x) ‖ q).
    Ib,
    /// Dual IB: d(x, q) = KL(q ‖ p(y|x)).
    Dual,
}

/// The Blahut-style nucleation test of the IB (spec ib §3.1, §3.2): the largest growth
/// factor of a zero-mass cluster with decoder q under one IB (Blahut-Arimoto) step from
/// the fixed point `q_t_given_x` (rows x, columns t, as in
/// [`crate::solve::Solution::q_t_given_x`]) at `beta`.
///
/// # Formula
/// c(q) = Σ_x p(x) exp(−β KL(p(y|x) ‖ q)) / Z(x),
/// Z(x) = Σ_t q(t) exp(−β KL(p(y|x) ‖ q(y|t))) (the current partition function, q(y|t)
/// the Markov decoder of the encoder). A new cluster with decoder q grows iff c(q) > 1;
/// c = 1 at every existing decoder of a fixed point. At the trivial solution
/// ln max_q c(q) = max_r [β D(rP ‖ p_Y) − D(r ‖ p_X)] (Donsker-Varadhan + Gibbs), so
/// max_q c(q) > 1 iff β > 1/s*.
///
/// # Method
/// Stationarity of c on the simplex (Lagrange): q(y) = Σ_x w(x) p(y|x),
/// w(x) = p(x) exp(−β KL(p(y|x)‖q)) / Z(x) / c(q). The iteration q ← Σ_x w_q(x) p(y|x) is a
/// minorise-maximise step (Jensen on ln c with weights w_q), so c never decreases; it is
/// accelerated by SQUAREM (extrapolations kept only when they do not lower c). Starts:
/// every row p(y|x), its midpoint with p_Y, for a row with zeros also
/// (1 − ε) p(y|x) + ε p_Y with ε = 1e-2, 1e-4, 1e-6 (the row itself is a trap: see the
/// source), p_Y, and every live decoder; for |X| >
/// [`FULL_SEARCH_MAX_X`] a fixed budget instead: the rows (and midpoints) of the
/// [`BUDGET_STARTS`] inputs with the largest p(x)/Z(x) (each alone adds that much to c at
/// its own row), p_Y, and the [`BUDGET_STARTS`] heaviest live decoders (the full set cost
/// seconds per test on 256 x 32, and the located nucleations bisect on it). Cost per start
/// and iteration O(|X||Y| + |X||T||Y|) once for Z; at most 100,000 iterations (linear
/// convergence, slow near a critical point).
pub fn ib_nucleation_test<T: Real>(
    p: &Joint<T>,
    beta: &T,
    q_t_given_x: &DMatrix<T>,
) -> NucleationTest<T> {
    let q_t = cluster_marginal(p, q_t_given_x);
    let dec = crate::bottleneck::markov_decoder(p, q_t_given_x, &q_t);
    nucleation_test(
        p,
        beta,
        &q_t,
        &dec,
        Distortion::Ib,
        None,
        NUCLEATION_MAX_ITER,
    )
}

/// The nucleation test of the dual IB (spec ib §3.6): as [`ib_nucleation_test`] with the
/// dual distortion KL(q ‖ p(y|x)) and geometric decoders.
///
/// # Formula
/// c_dual(q) = Σ_x p(x) exp(−β KL(q ‖ p(y|x))) / Z(x),
/// Z(x) = Σ_t q(t) exp(−β KL(q(y|t) ‖ p(y|x))), q(y|t) ∝ Π_x p(y|x)^{q(x|t)}. At the trivial
/// solution max_q c_dual(q) > 1 iff β > 1/η_dual.
///
/// # Method
/// Stationarity: ln q(y) = Σ_x w(x) ln p(y|x) + const, i.e. q is the geometric mean of the
/// rows under w(x) = p(x) exp(−β KL(q‖p(y|x))) / Z(x) / c(q); the iteration q ← geometric(w_q)
/// is again minorise-maximise (it minimises Σ_x w(x) KL(q‖p(y|x)) exactly), so c never
/// decreases. Starts and cost as for the IB.
pub fn dual_nucleation_test<T: Real>(
    p: &Joint<T>,
    beta: &T,
    q_t_given_x: &DMatrix<T>,
) -> NucleationTest<T> {
    dual_nucleation_test_within(p, beta, q_t_given_x, NUCLEATION_MAX_ITER)
}

/// [`dual_nucleation_test`] with at most `max_iter` iterations per start (100,000 there).
/// Near a continuous transition the starts that climb to the existing decoders converge at
/// a rate within β·λ_dual of 1, so a check just below the threshold is cheaper with a cap;
/// c never decreases along an iteration, so a start that shows c > 1 within the cap is
/// growth, but one still below 1 at the cap may not be the maximum.
pub fn dual_nucleation_test_within<T: Real>(
    p: &Joint<T>,
    beta: &T,
    q_t_given_x: &DMatrix<T>,
    max_iter: usize,
) -> NucleationTest<T> {
    let q_t = cluster_marginal(p, q_t_given_x);
    let (dec, _) = geometric_decoder(p, q_t_given_x, &q_t);
    nucleation_test(p, beta, &q_t, &dec, Distortion::Dual, None, max_iter)
}

/// For `method` "ib" or "dualib": the largest c(q) − 1 over local maxima of the method's
/// nucleation function whose decoder is more than `tol` from every live decoder of the
/// fixed point (`None` if there is none, or for other methods). Positive: a new cluster
/// nucleates.
pub fn new_cluster_growth<T: Real>(
    method: &str,
    p: &Joint<T>,
    beta: &T,
    q_t_given_x: &DMatrix<T>,
    tol: &T,
) -> Option<T> {
    let q_t = cluster_marginal(p, q_t_given_x);
    let (test, dec) = match method {
        "ib" => (
            ib_nucleation_test(p, beta, q_t_given_x),
            crate::bottleneck::markov_decoder(p, q_t_given_x, &q_t),
        ),
        "dualib" => (
            dual_nucleation_test(p, beta, q_t_given_x),
            geometric_decoder(p, q_t_given_x, &q_t).0,
        ),
        _ => return None,
    };
    let existing: Vec<Vec<T>> = (0..q_t.len())
        .filter(|&t| dec.live()[t])
        .map(|t| dec.q_y_given_t().row(t).iter().cloned().collect())
        .collect();
    test.new_cluster_growth(&existing, tol)
}

const NUCLEATION_MAX_ITER: usize = 100_000;

pub(super) fn distortion<T: Real>(p: &Joint<T>, kind: Distortion, x: usize, q: &[T]) -> T {
    let row: Vec<T> = p.p_y_given_x().row(x).iter().cloned().collect();
    match kind {
        Distortion::Ib => divergence(&row, q),
        Distortion::Dual => divergence(q, &row),
    }
}

pub(super) fn nucleation_test<T: Real>(
    p: &Joint<T>,
    beta: &T,
    q_t: &[T],
    decoder: &Decoder<T>,
    kind: Distortion,
    given_starts: Option<Vec<Vec<T>>>,
    max_iter: usize,
) -> NucleationTest<T> {
    let (nx, ny) = (p.nx(), p.ny());
    let (q_y_given_t, live) = (decoder.q_y_given_t(), decoder.live());
    let decoders: Vec<Vec<T>> = (0..q_t.len())
        .filter(|&t| live[t] && !q_t[t].is_zero())
        .map(|t| q_y_given_t.row(t).iter().cloned().collect())
        .collect();
    let weights: Vec<T> = (0..q_t.len())
        .filter(|&t| live[t] && !q_t[t].is_zero())
        .map(|t| q_t[t].clone())
        .collect();
    // ln Z(x) = logsumexp_t (ln q(t) − β d(x, t)).
    let ln_z: Vec<T> = (0..nx)
        .map(|x| {
            let terms: Vec<T> = decoders
                .iter()
                .zip(&weights)
                .map(|(d, w)| w.ln() - beta.clone() * distortion(p, kind, x, d))
                .filter(|v| v.is_finite())
                .collect();
            let max = terms
                .iter()
                .cloned()
                .reduce(|a, b| a.max_of(b))
                .unwrap_or_else(|| -T::infinity());
            if !max.is_finite() {
                return T::infinity();
            }
            let s = terms
                .iter()
                .fold(T::zero(), |acc, v| acc + (v.clone() - &max).exp());
            max + s.ln()
        })
        .collect();
    let weigh = |q: &[T]| growth_weights(p, kind, beta, &ln_z, q);
    let update = |w: &[T]| -> Vec<T> {
        let total = w.iter().fold(T::zero(), |acc, v| acc + v);
        let w: Vec<T> = w.iter().map(|v| v.clone() / &total).collect();
        match kind {
            Distortion::Ib => output(p, &w),
            Distortion::Dual => geometric(p, &w),
        }
    };
    // The given starts, or the default ones (below).
    let starts = given_starts.unwrap_or_else(|| {
        let mut starts: Vec<Vec<T>> = Vec::new();
        // Above FULL_SEARCH_MAX_X inputs, the rows of the inputs that a new cluster could pull
        // hardest: at q = p(y|x) the input x alone adds p(x)/Z(x) to c(q); the budget keeps the
        // BUDGET_STARTS largest (ties to the lower index), and the BUDGET_STARTS heaviest live
        // decoders.
        let mut inputs: Vec<usize> = (0..nx).collect();
        let mut decoder_starts: Vec<usize> = (0..decoders.len()).collect();
        if nx > FULL_SEARCH_MAX_X {
            let pull: Vec<T> = (0..nx)
                .map(|x| p.p_x()[x].clone() * (-ln_z[x].clone()).exp())
                .collect();
            inputs = largest_indices(&pull, BUDGET_STARTS);
            decoder_starts = largest_indices(&weights, BUDGET_STARTS);
        }
        // (1 − ε) p(y|x) + ε p(y).
        let toward_p_y = |row: &[T], eps: f64| -> Vec<T> {
            let eps = T::from_f64(eps);
            row.iter()
                .zip(p.p_y())
                .map(|(a, b)| a.clone() * (T::one() - eps.clone()) + b.clone() * &eps)
                .collect()
        };
        for &x in &inputs {
            let row: Vec<T> = p.p_y_given_x().row(x).iter().cloned().collect();
            starts.push(toward_p_y(&row, 0.5));
            // A row with zeros is a trap of the iteration for the IB: at q = p(y|x) every
            // input with mass where q has none is at infinite distance and weighs 0, so the
            // step returns p(y|x) itself, while the local maximum near it may give those
            // outputs a little mass (on a random 3x4 joint q(y) = 3.5e-4 there, which the
            // midpoint start above does not reach). Starts just off the face, too; the dual
            // IB gets them as well (its own face starts are below), which left its
            // located values unchanged on 300 random joints.
            if row.iter().any(|v| v.is_zero()) {
                for eps in [1e-2, 1e-4, 1e-6] {
                    starts.push(toward_p_y(&row, eps));
                }
            }
            starts.push(row);
        }
        starts.push(p.p_y().to_vec());
        starts.extend(decoder_starts.iter().map(|&t| decoders[t].clone()));
        if kind == Distortion::Dual && p.has_zero_conditionals() {
            // c_dual jumps up where a decoder gains support, on decoders that the rows and
            // their midpoints need not lead to: the geometric mean of each face whose support
            // is its own ([`support_faces`]), weighted by p(x).
            for face in support_faces(p) {
                if let Some(r) = p_x_on_face(p, &face) {
                    starts.push(geometric(p, &r));
                }
            }
        }
        starts
    });
    let tol = T::epsilon().sqrt() * T::from_f64(1e-3);
    let mut maxima: Vec<NucleationMaximum<T>> = Vec::new();
    let c_of = |w: &[T]| w.iter().fold(T::zero(), |acc, v| acc + v);
    let norm = |v: &[T]| {
        v.iter()
            .fold(T::zero(), |acc, x| acc + x.clone() * x)
            .sqrt()
    };
    let diff =
        |a: &[T], b: &[T]| -> Vec<T> { a.iter().zip(b).map(|(u, v)| u.clone() - v).collect() };
    for start in starts {
        let mut q = start;
        let mut w = weigh(&q);
        let mut iterations = 0;
        let mut converged = false;
        // SQUAREM (Varadhan & Roland 2008, scheme S3) around the monotone step F, with the
        // usual safeguard: the extrapolated point is kept only if it is interior and does
        // not lower c; otherwise the plain double step F(F(q)) is kept.
        while iterations < max_iter {
            if w.iter().all(|v| v.is_zero()) {
                break;
            }
            let q1 = update(&w);
            iterations += 1;
            let r = diff(&q1, &q);
            let change = r.iter().fold(T::zero(), |a, v| a.max_of(v.abs()));
            if !change.is_finite() {
                break;
            }
            if change <= tol {
                q = q1;
                w = weigh(&q);
                converged = true;
                break;
            }
            let w1 = weigh(&q1);
            if w1.iter().all(|v| v.is_zero()) {
                q = q1;
                w = w1;
                break;
            }
            let q2 = update(&w1);
            iterations += 1;
            let w2 = weigh(&q2);
            let v = diff(&diff(&q2, &q1), &r);
            let (nr, nv) = (norm(&r), norm(&v));
            let mut next = (q2, w2);
            if nv > T::zero() && nv.is_finite() {
                let alpha = -(nr / nv);
                let two = T::from_f64(2.0);
                let cand: Vec<T> = (0..ny)
                    .map(|y| {
                        q[y].clone() - two.clone() * &alpha * &r[y] + alpha.clone() * &alpha * &v[y]
                    })
                    .collect();
                let interior = cand
                    .iter()
                    .zip(&next.0)
                    .all(|(c, n)| *c > T::zero() || (c.is_zero() && n.is_zero()));
                if interior {
                    let total = cand.iter().fold(T::zero(), |acc, v| acc + v);
                    let cand: Vec<T> = cand.into_iter().map(|v| v / &total).collect();
                    let wc = weigh(&cand);
                    if c_of(&wc) >= c_of(&next.1) && !wc.iter().all(|v| v.is_zero()) {
                        // One plain step from the extrapolated point (stabilisation).
                        let q3 = update(&wc);
                        iterations += 1;
                        let w3 = weigh(&q3);
                        next = (q3, w3);
                    }
                }
            }
            q = next.0;
            w = next.1;
        }
        let value = w.iter().fold(T::zero(), |acc, v| acc + v);
        if !value.is_finite() {
            continue;
        }
        let same = maxima.iter_mut().find(|m| {
            m.decoder
                .iter()
                .zip(&q)
                .all(|(a, b)| (a.clone() - b).abs() <= T::from_f64(1e-6))
        });
        match same {
            Some(m) => {
                if value > m.value {
                    *m = NucleationMaximum {
                        value,
                        decoder: q,
                        iterations,
                        converged,
                    };
                }
            }
            None => maxima.push(NucleationMaximum {
                value,
                decoder: q,
                iterations,
                converged,
            }),
        }
    }
    if maxima.is_empty() {
        maxima.push(NucleationMaximum {
            value: T::zero(),
            decoder: vec![T::zero(); ny],
            iterations: 0,
            converged: false,
        });
    }
    maxima.sort_by(|a, b| {
        b.value
            .partial_cmp(&a.value)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    NucleationTest { maxima }
}

/// The growth weights of a new cluster with decoder q: p(x) exp(−β d(x, q)) / Z(x), 0 where
/// d(x, q) or ln Z(x) is infinite (`ln_z[x]` = ln Z(x), the current partition function).
/// Their sum is c(q); normalised, they are the input distribution that maximises
/// β N(r) − D(r ‖ p_X) for that decoder at the trivial solution (Donsker-Varadhan).
pub(super) fn growth_weights<T: Real>(
    p: &Joint<T>,
    kind: Distortion,
    beta: &T,
    ln_z: &[T],
    q: &[T],
) -> Vec<T> {
    (0..p.nx())
        .map(|x| {
            let d = distortion(p, kind, x, q);
            if !d.is_finite() || !ln_z[x].is_finite() {
                T::zero()
            } else {
                p.p_x()[x].clone() * (-(beta.clone() * d) - &ln_z[x]).exp()
            }
        })
        .collect()
}
