//! The trivial solution's onset constants: s* (the IB's, \[AGKN13\]'s strong
//! data-processing constant, the spec's η_KL) and η_dual, as suprema of a ratio of
//! divergences over input distributions: an f64 multistart search with Dinkelbach steps,
//! the faces of the simplex where the dual ratio jumps, and a Newton polish at the working
//! precision with KKT checks.

use nalgebra::DMatrix;

use super::nucleation::{distortion, growth_weights, nucleation_test, Distortion};
use super::search::{golden_max, nelder_mead_search};
use super::FULL_SEARCH_MAX_X;
use super::{divergence, geometric, lambda_dual_of, output};
use crate::bottleneck::Decoder;
use crate::dist::Joint;
use crate::scalar::Real;
use crate::spectrum::maximal_correlation_function;

/// How a supremum over input distributions was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupremumMethod {
    /// Binary X: a one-dimensional search refined by golden section at the working
    /// precision (exact up to the precision).
    Exact1D,
    /// The local limit r → p_X is the largest value (s* = ρ_m², or η_dual = λ_dual).
    LocalLimit,
    /// |X| > 2: a multistart Nelder-Mead search in f64 over the simplex (full for
    /// |X| <= [`FULL_SEARCH_MAX_X`], a fixed budget above), the ratio then evaluated at
    /// the working precision at the best point found. The polish (see
    /// [`SupremumMethod::SearchPolished`]) was tried and did not converge, so the value
    /// is a lower bound whose error is about the square of the f64 argmax error
    /// (≈ 1e-16 relative, whatever the precision); [`Supremum::polish`] says why.
    Search,
    /// |X| > 2: the search's point polished at the working precision by Newton's method
    /// on the stationarity condition of the ratio on its support face, with the KKT sign
    /// conditions of the dropped coordinates checked. The value is a local maximum to the
    /// working precision; that it is the global one rests, as for `Search`, on the
    /// multistart search having found its basin.
    SearchPolished,
}

/// What the working-precision polish of a searched supremum did.
#[derive(Clone, Debug)]
pub struct Polish<T> {
    /// Newton converged (last full step below sqrt(epsilon)) to a point whose projected
    /// Hessian is negative definite and whose dropped coordinates pass the KKT check.
    pub converged: bool,
    /// Newton iterations of the attempt reported (the best converged one, or the last
    /// attempted).
    pub iterations: usize,
    /// max_x |g(x)| at the returned point, g the gradient of the ratio projected on the
    /// tangent space of the support face (Σ_x Δr(x) = 0); `NaN`-free, +inf if never
    /// evaluated.
    pub residual: T,
    /// Number of x with r(x) > 0 (the dimension of the face plus one).
    pub support: usize,
}

/// A supremum of a ratio over input distributions r.
#[derive(Clone, Debug)]
pub struct Supremum<T> {
    /// The value.
    pub value: T,
    /// Where it is attained (the local limit: p_X itself).
    pub argmax: Vec<T>,
    /// How it was found.
    pub method: SupremumMethod,
    /// For |X| > 2 (methods `Search` and `SearchPolished`): the polish report; `None`
    /// otherwise.
    pub polish: Option<Polish<T>>,
}

/// s* = sup_{r ≠ p_X} D(rP ‖ p_Y) / D(r ‖ p_X) \[AGKN13\]; the trivial IB solution is
/// the global optimum iff β ≤ 1/s*.
///
/// # Method
/// Binary X: grid plus golden section at the working precision. |X| > 2: multistart
/// Nelder-Mead in f64, then Newton at the working precision on the support face of the
/// best points (see [`SupremumMethod::SearchPolished`]), with the analytic derivatives
/// (N = D(rP‖p_Y), D = D(r‖p_X), (rP)_y = Σ_x r(x) P(y|x)):
///
/// ∂N/∂r(x) = Σ_y P(y|x) (ln((rP)_y / p_Y(y)) + 1),  ∂²N/∂r(x)∂r(x') = Σ_y P(y|x) P(y|x') / (rP)_y,
/// ∂D/∂r(x) = ln(r(x)/p(x)) + 1,  ∂²D/∂r(x)² = 1/r(x)  (off-diagonal 0).
///
/// # Cost
/// The search, up to |X| = [`FULL_SEARCH_MAX_X`]: (8 + 4|X|) starts × at most 400|X|
/// simplex steps × O(|X||Y|) f64 work; above, a fixed budget of [`BUDGET_STARTS`](super::BUDGET_STARTS) starts ×
/// [`BUDGET_ITERATIONS`](super::BUDGET_ITERATIONS) steps. The polish, at the working precision: at most 3 starts × at
/// most 100 (typically 4–6) Newton steps × O(m²|Y| + m³), m the support size, plus
/// O(|X|²|Y|) for the KKT checks. Measured once (release, one core, 2026-11): the 3x3
/// example 9 ms in f64 and 7 ms at 256 bits; a 32x8 Dirichlet(1) joint took 9.7 s in f64
/// with the full search, before the budget (no test times it: timings are not tests).
pub fn sdpi_constant<T: Real>(p: &Joint<T>) -> Supremum<T> {
    if independent_to_rounding(p) {
        return independent(p);
    }
    let rho = &p.maximal_correlation().rho_m;
    supremum(p, rho.clone() * rho, Constant::Sdpi)
}

/// Whether an eigenvalue of the trivial solution (ρ_m² or λ_dual, the square of a
/// singular value σ of a matrix of norm about 1) is at the rounding level of the working
/// precision, σ ≤ 64 (|X| + |Y|) ε, and so cannot be told from 0: the joint's entries are
/// themselves only known to ε. For ρ_m² that is independence of X and Y to the working
/// precision: independent X and Y give σ = 1e-16 to 2e-16 in f64 instead of 0 (on
/// 0.37, 0.63 × 0.21, 0.79, and a 3x3 product), which made thresholds of 1e31 to 1e33
/// and onsets of 1e27 to 1e30 out of rounding. (λ_dual can be 0 for dependent X and Y:
/// when the rows of p(y|x) share a single outcome.)
pub fn is_rounding_level<T: Real>(p: &Joint<T>, eigenvalue: &T) -> bool {
    let floor = T::from_u64(64 * (p.nx() + p.ny()) as u64) * T::epsilon();
    *eigenvalue <= floor.clone() * floor
}

/// Whether X and Y are independent to the working precision: ρ_m² (the joint's cached
/// [`Joint::maximal_correlation`]) at the rounding level, [`is_rounding_level`].
pub fn independent_to_rounding<T: Real>(p: &Joint<T>) -> bool {
    let rho = &p.maximal_correlation().rho_m;
    is_rounding_level(p, &(rho.clone() * rho))
}

/// The constant of a joint whose X and Y are independent to the working precision
/// (ρ_m² at the rounding level, [`is_rounding_level`]): 0, for s* and for η_dual alike
/// (p(y|x) = p(y) makes every numerator vanish), at the local limit. A search would only
/// return rounding (s* = 1.8e-31 for 0.3,0.2 / 0.3,0.2 in f64: an onset at 5.5e30).
fn independent<T: Real>(p: &Joint<T>) -> Supremum<T> {
    Supremum {
        value: T::zero(),
        argmax: p.p_x().to_vec(),
        method: SupremumMethod::LocalLimit,
        polish: None,
    }
}

/// η_dual = sup_{r ≠ p_X} D(q_p ‖ q_r) / D(r ‖ p_X), with q_r(y) ∝ Π_x p(y|x)^{r(x)};
/// the trivial dual-IB solution is the global optimum iff β ≤ 1/η_dual (spec ib §3.6).
///
/// # Method
/// As [`sdpi_constant`]. With a_y(r) = Σ_x r(x) ln p(y|x) and ln q_r(y) = a_y − ln Σ_y' e^{a_y'},
/// the numerator N = D(q_p‖q_r) = Σ_y q_p(y) ln q_p(y) − Σ_y q_p(y) a_y + ln Σ_y e^{a_y}, so
///
/// ∂N/∂r(x) = E_{q_r}[ln p(·|x)] − E_{q_p}[ln p(·|x)],
/// ∂²N/∂r(x)∂r(x') = Cov_{q_r}(ln p(·|x), ln p(·|x'))  (the Hessian of the log-partition function),
///
/// the expectations over the y with p(y|x) > 0 for every x of the support face (the
/// others have q_r(y) = 0, and q_p(y) = 0 there too since p_X has full support).
///
/// When p(y|x) has zeros the ratio is discontinuous: on a face of the simplex where the
/// support of q_r grows it jumps up, so each such face is searched too (`support_faces`
/// in the source; until 2026-12-04 only the interior was, and on a joint whose rows share
/// one outcome η_dual came out 0 and the onset 1/η_dual infinite).
pub fn dual_nucleation_constant<T: Real>(p: &Joint<T>) -> Supremum<T> {
    if independent_to_rounding(p) {
        return independent(p);
    }
    let q_p = geometric(p, p.p_x());
    // λ_dual = 0 does not make X and Y independent: when the rows of p(y|x) share a
    // single outcome the local limit is 0 and the supremum lies on a face.
    let local = lambda_dual_of(p, p.p_x(), &q_p);
    supremum(p, local, Constant::Dual)
}

/// Which constant a [`Ratio`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Constant {
    /// s*: N(r) = D(rP ‖ p_Y).
    Sdpi,
    /// η_dual: N(r) = D(q_p ‖ q_r).
    Dual,
}

/// The ratio N(r)/D(r ‖ p_X) of a nucleation constant, with its derivatives.
struct Ratio<'a, T: Real> {
    p: &'a Joint<T>,
    kind: Constant,
    /// The geometric decoder at p_X (dual only).
    q_p: Vec<T>,
}

impl<'a, T: Real> Ratio<'a, T> {
    fn new(p: &'a Joint<T>, kind: Constant) -> Self {
        let q_p = match kind {
            Constant::Sdpi => Vec::new(),
            Constant::Dual => geometric(p, p.p_x()),
        };
        Ratio { p, kind, q_p }
    }

    /// The ratio, `None` where the denominator is too small to be trusted
    /// ([`usable_denominator`]) or the numerator is not finite.
    fn value(&self, r: &[T]) -> Option<T> {
        let p = self.p;
        let den = divergence(r, p.p_x());
        if !usable_denominator(&den) {
            return None;
        }
        let num = match self.kind {
            Constant::Sdpi => divergence(&output(p, r), p.p_y()),
            Constant::Dual => divergence(&self.q_p, &geometric(p, r)),
        };
        num.is_finite().then(|| num / den)
    }

    /// N(r), ∂N/∂r(s_i) and ∂²N/∂r(s_i)∂r(s_j) for the support `s` (r = 0 off it).
    fn numerator(&self, r: &[T], s: &[usize]) -> Option<(T, Vec<T>, DMatrix<T>)> {
        let p = self.p;
        let pyx = p.p_y_given_x();
        let m = s.len();
        match self.kind {
            Constant::Sdpi => {
                let out = output(p, r);
                let live: Vec<usize> = (0..p.ny()).filter(|&y| !out[y].is_zero()).collect();
                let logs: Vec<T> = live
                    .iter()
                    .map(|&y| (out[y].clone() / &p.p_y()[y]).ln())
                    .collect();
                let n = divergence(&out, p.p_y());
                let grad = s
                    .iter()
                    .map(|&x| {
                        live.iter().zip(&logs).fold(T::zero(), |acc, (&y, l)| {
                            acc + pyx[(x, y)].clone() * (l.clone() + T::one())
                        })
                    })
                    .collect();
                let hess = DMatrix::from_fn(m, m, |i, j| {
                    live.iter().fold(T::zero(), |acc, &y| {
                        acc + pyx[(s[i], y)].clone() * &pyx[(s[j], y)] / &out[y]
                    })
                });
                n.is_finite().then_some((n, grad, hess))
            }
            Constant::Dual => {
                let q_r = geometric(p, r);
                let n = divergence(&self.q_p, &q_r);
                if !n.is_finite() {
                    return None;
                }
                let ln = p.ln_p_y_given_x();
                let live: Vec<usize> = (0..p.ny()).filter(|&y| !q_r[y].is_zero()).collect();
                let mean = |q: &[T], x: usize| {
                    live.iter()
                        .fold(T::zero(), |acc, &y| acc + q[y].clone() * &ln[(x, y)])
                };
                let m_r: Vec<T> = s.iter().map(|&x| mean(&q_r, x)).collect();
                let grad = s
                    .iter()
                    .zip(&m_r)
                    .map(|(&x, mr)| mr.clone() - mean(&self.q_p, x))
                    .collect();
                let hess = DMatrix::from_fn(m, m, |i, j| {
                    live.iter().fold(T::zero(), |acc, &y| {
                        acc + q_r[y].clone()
                            * (ln[(s[i], y)].clone() - &m_r[i])
                            * (ln[(s[j], y)].clone() - &m_r[j])
                    })
                });
                Some((n, grad, hess))
            }
        }
    }
}

/// Near r = p_X both divergences are O(|r − p|²) and the ratio is lost to cancellation
/// (spec ib pitfall 11); there the local limit (ρ_m² or λ_dual) is used instead. A
/// denominator below 1e4·sqrt(epsilon) is not used.
fn usable_denominator<T: Real>(den: &T) -> bool {
    den.is_finite() && *den > T::from_f64(1e4) * T::epsilon().sqrt()
}

fn supremum<T: Real>(p: &Joint<T>, local: T, kind: Constant) -> Supremum<T> {
    let nx = p.nx();
    let ratio = Ratio::new(p, kind);
    let mut best: Option<(T, Vec<T>)> = None;
    let consider = |r: Vec<T>, best: &mut Option<(T, Vec<T>)>| {
        if let Some(v) = ratio.value(&r) {
            if v.is_finite() && best.as_ref().is_none_or(|(b, _)| v > *b) {
                *best = Some((v, r));
            }
        }
    };
    let mut polish = None;
    let mut method = if nx == 2 {
        // Dense grid in a, then golden section around the best grid point.
        let n = 4000;
        let point = |a: T| vec![T::one() - a.clone(), a];
        let mut best_k: Option<usize> = None;
        for k in 0..=n {
            let a = T::from_u64(k as u64) / T::from_u64(n as u64);
            let before = best.as_ref().map(|(b, _)| b.clone());
            consider(point(a), &mut best);
            if best.as_ref().map(|(b, _)| b.clone()) != before {
                best_k = Some(k);
            }
        }
        if let Some(k) = best_k {
            let f = |a: &T| ratio.value(&point(a.clone()));
            let lo = T::from_u64(k.saturating_sub(1) as u64) / T::from_u64(n as u64);
            let hi = T::from_u64((k + 1).min(n) as u64) / T::from_u64(n as u64);
            let a = golden_max(&f, lo, hi);
            consider(point(a), &mut best);
        }
        SupremumMethod::Exact1D
    } else {
        // The search runs in f64 on the f64 copy of the joint (cheap at any precision);
        // its points are then evaluated and polished at the working precision.
        let p64 = p.convert::<f64>();
        let ratio64 = Ratio::new(&p64, kind);
        let mut found: Vec<(f64, Vec<f64>)> = nelder_mead_search(nx, |r| ratio64.value(r))
            .into_iter()
            .filter_map(|r| ratio64.value(&r).map(|v| (v, r)))
            .collect();
        let full = nx <= FULL_SEARCH_MAX_X;
        if full && kind == Constant::Dual && p64.has_zero_conditionals() {
            // The ratio jumps on the faces where q_r gains support: searched on each.
            for face in support_faces(&p64) {
                let embed = |rs: &[f64]| {
                    let mut r = vec![0.0; nx];
                    for (&x, v) in face.iter().zip(rs) {
                        r[x] = *v;
                    }
                    r
                };
                let points = if face.len() == 1 {
                    vec![embed(&[1.0])]
                } else {
                    nelder_mead_search(face.len(), |rs| ratio64.value(&embed(rs)))
                        .iter()
                        .map(|rs| embed(rs))
                        .collect()
                };
                found.extend(
                    points
                        .into_iter()
                        .filter_map(|r| ratio64.value(&r).map(|v| (v, r))),
                );
                // And Dinkelbach steps from the face's own p_X (as the nucleation test
                // starts from its geometric mean): on the 32x32 discretised Gaussian, whose
                // tails have exact zeros, they found a larger ratio than the simplex search.
                if let Some(r) = p_x_on_face(&p64, &face) {
                    if let Some(v) = ratio64.value(&r) {
                        found.push(dinkelbach(&p64, &ratio64, v, r));
                    }
                }
            }
        }
        found.sort_by(|a, b| b.0.total_cmp(&a.0));
        // The best few distinct points, improved by Dinkelbach steps.
        let mut refined: Vec<(f64, Vec<f64>)> = Vec::new();
        for (v, r) in &found {
            if refined.len() == POLISH_STARTS {
                break;
            }
            if refined
                .iter()
                .all(|(_, c)| c.iter().zip(r).any(|(a, b)| (a - b).abs() > 1e-6))
            {
                refined.push(dinkelbach(&p64, &ratio64, *v, r.clone()));
            }
        }
        found.extend(refined);
        found.sort_by(|a, b| b.0.total_cmp(&a.0));
        // Renormalised at the working precision: an f64 point sums to 1 only to ~1e-16,
        // which would shift D(r‖p_X) (and the ratio) by as much.
        let at_working = |r: &[f64]| -> Vec<T> {
            let r: Vec<T> = r.iter().map(|v| T::from_f64(*v)).collect();
            let total = r.iter().fold(T::zero(), |acc, v| acc + v);
            r.into_iter().map(|v| v / &total).collect()
        };
        for (_, r) in &found {
            consider(at_working(r), &mut best);
        }
        // Polish the best few distinct local maxima.
        let mut candidates: Vec<&Vec<f64>> = Vec::new();
        for (_, r) in &found {
            let distinct = candidates
                .iter()
                .all(|c| c.iter().zip(r).any(|(a, b)| (a - b).abs() > 1e-6));
            if distinct {
                candidates.push(r);
            }
            if candidates.len() == POLISH_STARTS {
                break;
            }
        }
        let mut polished: Option<(T, Vec<T>, Polish<T>)> = None;
        let mut last_report: Option<Polish<T>> = None;
        for r64 in candidates {
            let r0 = at_working(r64);
            for outcome in polish_from(&ratio, &r0) {
                match outcome {
                    Ok((v, r, rep)) => {
                        if polished.as_ref().is_none_or(|(b, _, _)| v > *b) {
                            polished = Some((v, r, rep));
                        }
                        break;
                    }
                    Err(rep) => last_report = Some(rep),
                }
            }
        }
        match (polished, best.as_ref()) {
            // The polished local maximum must be at least the searched value (up to
            // rounding); otherwise it is a lesser maximum and the search's point stays.
            (Some((v, r, rep)), Some((b, _)))
                if v.clone() >= b.clone() - T::from_f64(1e6) * T::epsilon() * b.abs() =>
            {
                // The polished value, not the larger of the two: at the search's point the
                // ratio is only a rounded evaluation near the maximum (its excess over the
                // polished value is rounding noise, selected for by the search).
                polish = Some(rep);
                best = Some((v, r));
                SupremumMethod::SearchPolished
            }
            (Some((_, _, rep)), _) => {
                polish = Some(Polish {
                    converged: false,
                    ..rep
                });
                SupremumMethod::Search
            }
            (None, _) => {
                polish = last_report;
                SupremumMethod::Search
            }
        }
    };
    match best {
        Some((v, r)) if v > local => Supremum {
            value: v,
            argmax: r,
            method,
            polish,
        },
        _ => {
            method = SupremumMethod::LocalLimit;
            Supremum {
                value: local,
                argmax: p.p_x().to_vec(),
                method,
                polish: None,
            }
        }
    }
}

/// Dinkelbach steps of [`dinkelbach`] at most.
const DINKELBACH_MAX: usize = 50;
/// Iterations per start of the nucleation test inside a Dinkelbach step. A step needs a
/// decoder that improves the ratio, not a converged maximum (the step checks the
/// improvement), and near the local limit β = 1/v is critical, where the test converges
/// at a rate within 1e-4 of 1: on the 32x32 discretised Gaussian with label noise 1e-6,
/// uncapped (100,000 per start), the s* search did not finish in 5 minutes.
const DINKELBACH_TEST_MAX_ITER: usize = 2_000;

/// Improves a search point (ratio `v` at `r`) of a nucleation constant by Dinkelbach's
/// method for fractional programs (Dinkelbach 1967, Management Science 13:492): with
/// β = 1/v, maximise β N(r') − D(r' ‖ p_X) over r', and if that is positive the ratio at
/// the maximiser exceeds v; repeat until it no longer grows (relative 1e-14).
///
/// The inner maximum is the nucleation function at the trivial solution:
/// ln max_q c(q) = max_r [β N(r) − D(r ‖ p_X)] (Donsker-Varadhan; spec ib §3.6), maximised
/// by the minorise-maximise iteration of the nucleation test ([`dual_nucleation_test`]) from
/// the decoder of r (q_r, or rP for the IB); the maximising r' is then the Gibbs weight
/// r'(x) ∝ p(x) exp(−β (d(x, q) − d(x, q_0))) of its decoder q (q_0 the trivial decoder),
/// for which β N(r') − D(r' ‖ p_X) ≥ ln c(q). Inputs with d(x, q) = +inf get r'(x) = 0, so
/// the steps also move onto the faces where the dual ratio jumps. Each step is a local
/// search: the global supremum still rests on the starts.
fn dinkelbach(p: &Joint<f64>, ratio: &Ratio<'_, f64>, v0: f64, r0: Vec<f64>) -> (f64, Vec<f64>) {
    let (nx, ny) = (p.nx(), p.ny());
    let (kind, trivial) = match ratio.kind {
        Constant::Sdpi => (Distortion::Ib, p.p_y().to_vec()),
        Constant::Dual => (Distortion::Dual, ratio.q_p.clone()),
    };
    let trivial_decoder = Decoder::new(DMatrix::from_row_slice(1, ny, &trivial), vec![true]);
    // One Dinkelbach step at the ratio v (β = 1/v) from the decoder of r, or (`wide`) from
    // the nucleation test's own starts (the rows, their midpoints with p_Y, p_Y) and from
    // inputs moved off p_X along the maximal-correlation direction: near the local limit
    // r ≈ p_X the decoder of r is close to the trivial one, a stationary point of c, while
    // where the onset is first order the supremum sits at a finite distance from p_X, near
    // that direction (on the bundled 32x16 sparse joint the search returned the local
    // limit ρ_m² = 0.84383 although an up path has I(T;Y)/I(X;T) = 0.84501 at β = 1.1851).
    let decoder_of = |r: &[f64]| match ratio.kind {
        Constant::Sdpi => output(p, r),
        Constant::Dual => geometric(p, r),
    };
    // Functions of p alone, computed once per call rather than in every step: the decoders
    // of the inputs moved along the maximal-correlation direction (an SVD; only if a wide
    // step is tried) and each input's distortion to the trivial decoder.
    let along = std::cell::OnceCell::new();
    let d_trivial: Vec<f64> = (0..nx).map(|x| distortion(p, kind, x, &trivial)).collect();
    let step = |v: f64, r: &[f64], wide: bool| -> Option<(f64, Vec<f64>)> {
        let beta = 1.0 / v;
        let test_from = |starts| {
            nucleation_test(
                p,
                &beta,
                &[1.0],
                &trivial_decoder,
                kind,
                starts,
                DINKELBACH_TEST_MAX_ITER,
            )
        };
        let test = if wide {
            let along: &Vec<Vec<f64>> = along.get_or_init(|| {
                off_p_x_along_max_correlation(p)
                    .iter()
                    .map(|r| decoder_of(r))
                    .collect()
            });
            let (a, b) = (test_from(None), test_from(Some(along.clone())));
            if a.value() >= b.value() {
                a
            } else {
                b
            }
        } else {
            test_from(Some(vec![decoder_of(r)]))
        };
        // At the trivial solution ln Z(x) = −β d(x, q_0).
        let ln_z: Vec<f64> = d_trivial.iter().map(|d| -beta * d).collect();
        let weights = growth_weights(p, kind, &beta, &ln_z, test.decoder());
        let total: f64 = weights.iter().sum();
        if !(total.is_finite() && total > 0.0) {
            return None;
        }
        let next: Vec<f64> = weights.iter().map(|w| w / total).collect();
        ratio
            .value(&next)
            .filter(|w| *w > v * (1.0 + 1e-14))
            .map(|w| (w, next))
    };
    let (mut v, mut r) = (v0, r0);
    for _ in 0..DINKELBACH_MAX {
        if !(v.is_finite() && v > 0.0) {
            break;
        }
        match step(v, &r, false).or_else(|| step(v, &r, true)) {
            Some((w, next)) => {
                v = w;
                r = next;
            }
            None => break,
        }
    }
    (v, r)
}

/// Inputs r = p_X·(1 ± a·f), a ∈ {0.05, 0.2, 0.5, 0.9}, with f the maximal-correlation
/// function of X scaled to max|f| = 1 ([`maximal_correlation_function`]; Σ_x p(x) f(x) = 0,
/// so each r sums to 1). Empty if the SVD fails or ρ_m is 0.
fn off_p_x_along_max_correlation(p: &Joint<f64>) -> Vec<Vec<f64>> {
    let Some(f) = maximal_correlation_function(p) else {
        return Vec::new();
    };
    let nx = p.nx();
    let mut out = Vec::new();
    for a in [0.05, 0.2, 0.5, 0.9] {
        for sign in [1.0, -1.0] {
            let r: Vec<f64> = (0..nx)
                .map(|x| (p.p_x()[x] * (1.0 + sign * a * f[x])).max(0.0))
                .collect();
            let total: f64 = r.iter().sum();
            out.push(r.into_iter().map(|v| v / total).collect());
        }
    }
    out
}

/// p_X restricted to the inputs of `face` and renormalised (0 elsewhere); `None` if the
/// face has no mass.
pub(super) fn p_x_on_face<T: Real>(p: &Joint<T>, face: &[usize]) -> Option<Vec<T>> {
    let mut r = vec![T::zero(); p.nx()];
    for &x in face {
        r[x] = p.p_x()[x].clone();
    }
    let total = r.iter().fold(T::zero(), |acc, v| acc + v);
    (total > T::zero()).then(|| r.into_iter().map(|v| v / &total).collect())
}

/// At most this many distinct supports of q_r are searched by [`support_faces`].
const MAX_SUPPORT_FACES: usize = 64;

/// The proper faces {r : r(x) = 0 for x ∉ S} of the simplex on which the geometric mean
/// q_r(y) ∝ Π_x p(y|x)^{r(x)} has a support of its own, for the dual IB's η_dual when
/// p(y|x) has zeros: as sets S of inputs, with at least one x each.
///
/// The support of q_r is Y_S = ∩_{x ∈ S} supp p(·|x), S = supp r. Inside a face it is
/// constant and the ratio D(q_p ‖ q_r)/D(r ‖ p_X) continuous, but on a face where Y_S grows
/// the ratio jumps up (q_r spreads over more outcomes), so the supremum can sit on a face
/// that no interior search reaches (a softmax point never has r(x) = 0; on a joint whose
/// rows share only one outcome the ratio is 0 in the whole interior). Every Y_S is an
/// intersection of rows' supports; for each such nonempty Y' (generated by intersecting
/// with one row at a time, at most [`MAX_SUPPORT_FACES`] of them) the face searched is the
/// largest S with Y_S ⊇ Y', S = {x : supp p(·|x) ⊇ Y'}, unless it is all of X.
pub(super) fn support_faces<T: Real>(p: &Joint<T>) -> Vec<Vec<usize>> {
    let (nx, ny) = (p.nx(), p.ny());
    let supp: Vec<Vec<bool>> = (0..nx)
        .map(|x| {
            (0..ny)
                .map(|y| !p.p_y_given_x()[(x, y)].is_zero())
                .collect()
        })
        .collect();
    let mut family: Vec<Vec<bool>> = Vec::new();
    for row in &supp {
        if !family.contains(row) {
            family.push(row.clone());
        }
    }
    let mut i = 0;
    while i < family.len() && family.len() < MAX_SUPPORT_FACES {
        for row in &supp {
            let meet: Vec<bool> = family[i].iter().zip(row).map(|(a, b)| *a && *b).collect();
            if meet.contains(&true) && !family.contains(&meet) && family.len() < MAX_SUPPORT_FACES {
                family.push(meet);
            }
        }
        i += 1;
    }
    let mut faces: Vec<Vec<usize>> = Vec::new();
    for ys in &family {
        let face: Vec<usize> = (0..nx)
            .filter(|&x| ys.iter().zip(&supp[x]).all(|(need, has)| !need || *has))
            .collect();
        if !face.is_empty() && face.len() < nx && !faces.contains(&face) {
            faces.push(face);
        }
    }
    faces
}

/// Distinct search points polished.
const POLISH_STARTS: usize = 3;
/// Entries of the f64 search point below this are taken as 0 (the support face).
const SUPPORT_THRESHOLD: f64 = 1e-9;
/// Newton iteration cap of one polish.
const NEWTON_MAX: usize = 100;

/// The polish attempts from a search point: first on its support face (entries below
/// [`SUPPORT_THRESHOLD`] set to 0), then, if that face is proper and its polish fails, on
/// the full simplex. Lazily evaluated: the caller stops at the first success.
fn polish_from<'b, T: Real>(
    ratio: &'b Ratio<'_, T>,
    r0: &'b [T],
) -> impl Iterator<Item = Result<(T, Vec<T>, Polish<T>), Polish<T>>> + 'b {
    let threshold = T::from_f64(SUPPORT_THRESHOLD);
    let face: Vec<usize> = (0..r0.len()).filter(|&x| r0[x] > threshold).collect();
    let full: Vec<usize> = (0..r0.len()).filter(|&x| r0[x] > T::zero()).collect();
    let mut supports = vec![face.clone()];
    if full.len() > face.len() {
        supports.push(full);
    }
    supports
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(move |s| newton_on_face(ratio, r0, &s))
}

/// Newton's method for a local maximum of R = N/D on the face {r : r(x) = 0 off `s`}.
///
/// # Formula
/// ∇R = (∇N − R ∇D)/D, ∇²R = (∇²N − R ∇²D − ∇R ∇Dᵀ − ∇D ∇Rᵀ)/D (exact). In the tangent
/// basis b_k = e_{s_k} − e_{s_{m−1}} (k < m−1) the projected gradient is
/// g_k = ∂_k R − ∂_{m−1} R and the projected Hessian H = Bᵀ ∇²R B; the step solves
/// (−H) u = g by Cholesky (failing if −H is not positive definite: not a maximum), is
/// halved while it would leave the open face, and Newton stops once a full step has
/// max |Δr| ≤ sqrt(epsilon) (the next error is then O(epsilon)). Then the KKT check:
/// for every x off the face, moving mass ε ∈ {2⁻²⁰, sqrt(epsilon)} onto x must not
/// increase R (at the boundary ∂D/∂r(x) = −∞, so this is a sign condition on the
/// ε ln ε terms).
fn newton_on_face<T: Real>(
    ratio: &Ratio<'_, T>,
    r0: &[T],
    s: &[usize],
) -> Result<(T, Vec<T>, Polish<T>), Polish<T>> {
    let p = ratio.p;
    let nx = r0.len();
    let m = s.len();
    let mut report = Polish {
        converged: false,
        iterations: 0,
        residual: T::infinity(),
        support: m,
    };
    let mut r = vec![T::zero(); nx];
    let total = s.iter().fold(T::zero(), |acc, &x| acc + &r0[x]);
    for &x in s {
        r[x] = r0[x].clone() / &total;
    }
    let tol_step = T::epsilon().sqrt();
    let mut small_step = m == 1;
    let value = loop {
        let Some((n, gn, hn)) = ratio.numerator(&r, s) else {
            return Err(report);
        };
        let px = p.p_x();
        let d = divergence(&r, px);
        if !usable_denominator(&d) {
            return Err(report);
        }
        let rv = n / &d;
        let gd: Vec<T> = s
            .iter()
            .map(|&x| (r[x].clone() / &px[x]).ln() + T::one())
            .collect();
        let gr: Vec<T> = (0..m)
            .map(|i| (gn[i].clone() - rv.clone() * &gd[i]) / &d)
            .collect();
        let hr = DMatrix::from_fn(m, m, |i, j| {
            let mut h = hn[(i, j)].clone() - gr[i].clone() * &gd[j] - gd[i].clone() * &gr[j];
            if i == j {
                h -= rv.clone() / &r[s[i]];
            }
            h / &d
        });
        let k = m - 1;
        let g: Vec<T> = (0..k).map(|i| gr[i].clone() - &gr[k]).collect();
        report.residual = g.iter().fold(T::zero(), |a, v| a.max_of(v.abs()));
        if !report.residual.is_finite() {
            return Err(report);
        }
        if small_step {
            break rv;
        }
        if report.iterations == NEWTON_MAX {
            return Err(report);
        }
        report.iterations += 1;
        let neg_h = DMatrix::from_fn(k, k, |i, j| {
            -(hr[(i, j)].clone() - &hr[(i, k)] - &hr[(k, j)] + &hr[(k, k)])
        });
        let Some(u) = cholesky_solve(neg_h, g) else {
            return Err(report);
        };
        let mut dr = vec![T::zero(); nx];
        for i in 0..k {
            dr[s[i]] = u[i].clone();
            dr[s[k]] -= &u[i];
        }
        let step = dr.iter().fold(T::zero(), |a, v| a.max_of(v.abs()));
        if !step.is_finite() {
            return Err(report);
        }
        let mut t = T::one();
        let mut halvings = 0;
        while s
            .iter()
            .any(|&x| r[x].clone() + t.clone() * &dr[x] <= T::zero())
        {
            t /= T::from_f64(2.0);
            halvings += 1;
            if halvings > 60 {
                return Err(report);
            }
        }
        for &x in s {
            r[x] += t.clone() * &dr[x];
        }
        small_step = halvings == 0 && step <= tol_step;
    };
    // KKT sign conditions for the coordinates off the face.
    let slack = T::from_f64(64.0) * T::epsilon() * value.abs();
    for x in (0..nx).filter(|x| !s.contains(x)) {
        for eps in [T::from_f64(2f64.powi(-20)), T::epsilon().sqrt()] {
            let moved: Vec<T> = (0..nx)
                .map(|z| {
                    let keep = r[z].clone() * (T::one() - eps.clone());
                    if z == x {
                        keep + &eps
                    } else {
                        keep
                    }
                })
                .collect();
            if ratio
                .value(&moved)
                .is_some_and(|v| v > value.clone() + &slack)
            {
                return Err(report);
            }
        }
    }
    report.converged = true;
    Ok((value, r, report))
}

/// Solves A u = b for a symmetric positive definite A by Cholesky; `None` when a pivot
/// is not positive (A not positive definite) or not finite.
fn cholesky_solve<T: Real>(a: DMatrix<T>, b: Vec<T>) -> Option<Vec<T>> {
    let n = b.len();
    let mut l = DMatrix::from_element(n, n, T::zero());
    for j in 0..n {
        let mut diag = a[(j, j)].clone();
        for k in 0..j {
            diag -= l[(j, k)].clone() * &l[(j, k)];
        }
        if diag.partial_cmp(&T::zero()) != Some(std::cmp::Ordering::Greater) || !diag.is_finite() {
            return None;
        }
        let ljj = diag.sqrt();
        for i in (j + 1)..n {
            let mut v = a[(i, j)].clone();
            for k in 0..j {
                v -= l[(i, k)].clone() * &l[(j, k)];
            }
            l[(i, j)] = v / &ljj;
        }
        l[(j, j)] = ljj;
    }
    let mut y = b;
    for i in 0..n {
        for k in 0..i {
            let t = l[(i, k)].clone() * &y[k];
            y[i] -= t;
        }
        y[i] /= &l[(i, i)];
    }
    for i in (0..n).rev() {
        for k in (i + 1)..n {
            let t = l[(k, i)].clone() * &y[k];
            y[i] -= t;
        }
        y[i] /= &l[(i, i)];
    }
    Some(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bifurcation::tests::joint;

    #[test]
    fn binary_x_hysteresis_constants() {
        // spec ib §3.1: rho_m^2 = 49/219, s* = 0.3907806968453705.
        let p = joint(2, 2, &[0.72, 0.18, 0.01, 0.09]);
        let s = sdpi_constant(&p);
        assert_eq!(s.method, SupremumMethod::Exact1D);
        assert!((s.value - 0.3907806968453705).abs() < 1e-14, "{}", s.value);
    }

    #[test]
    fn cholesky_rejects_indefinite_matrices() {
        let a = DMatrix::from_row_slice(2, 2, &[2.0, 1.0, 1.0, 2.0]);
        let u = cholesky_solve(a, vec![3.0, 3.0]).unwrap();
        assert!((u[0] - 1.0).abs() < 1e-15 && (u[1] - 1.0).abs() < 1e-15);
        let b = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]);
        assert!(cholesky_solve(b, vec![1.0, 1.0]).is_none());
    }

    #[test]
    fn polish_fails_honestly_at_the_local_limit() {
        // Started at r = p_X the denominator is unusable: the polish reports failure
        // rather than a value.
        let p = joint(
            3,
            3,
            &[0.15, 0.025, 0.025, 0.05, 0.2, 0.05, 0.025, 0.075, 0.4],
        );
        let ratio = Ratio::new(&p, Constant::Sdpi);
        let rep = newton_on_face(&ratio, p.p_x(), &[0, 1, 2]).unwrap_err();
        assert!(!rep.converged);
        // From a vertex the face is a point, the KKT check fails (moving mass inwards
        // raises the ratio), and so does the polish.
        let vertex = [0.0, 0.0, 1.0];
        assert!(newton_on_face(&ratio, &vertex, &[2]).is_err());
    }

    #[test]
    fn dsbs_sdpi_is_the_local_limit() {
        let p = joint(2, 2, &[0.45, 0.05, 0.05, 0.45]);
        let s = sdpi_constant(&p);
        assert!((s.value - 0.64).abs() < 1e-12, "{}", s.value);
    }
}
