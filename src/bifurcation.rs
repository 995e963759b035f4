//! Stability and onset conditions of bottleneck solutions: where clusters split.
//!
//! Two kinds of transition (spec ib §3; papers/README.md, "What ibex verified itself"):
//!
//! * **linear** (continuous): a cluster t of a fixed point becomes unstable to splitting
//!   when β·λ_2(t) = 1. For the IB, λ_2(t) = λ_2(C_t) = ρ_m² of the joint
//!   q(x|t) p(y|x) (the conditional maximal correlation of X and Y given T = t); from the
//!   trivial solution this is 1/ρ_m². For the dual IB, λ_2(t) = λ_dual(t), built from the
//!   geometric decoder.
//! * **nucleation** (first order): a new cluster of vanishing mass and finite decoder
//!   lowers the objective. From the trivial solution this happens at β = 1/s*, with
//!   s* = sup_{r ≠ p_X} D(rP ‖ p_Y) / D(r ‖ p_X) ≥ ρ_m² the strong data-processing
//!   constant of \[AGKN13\] (the spec's η_KL; a different quantity from the channel's
//!   contraction coefficient), and for the dual IB at 1/η_dual,
//!   η_dual = sup_r D(q_p ‖ q_r) / D(r ‖ p_X), q_r the normalised geometric mean under r.
//!   For |X| > 2 both are found by an f64 search and polished by Newton at the working
//!   precision ([`SupremumMethod::SearchPolished`]).
//! * **nucleation test** at any fixed point (spec ib §3.1-3.2, §3.6): a zero-mass cluster
//!   with decoder q grows under one BA step iff c(q) = Σ_x p(x) e^{−β d(x,q)} / Z(x) > 1
//!   ([`ib_nucleation_test`], [`dual_nucleation_test`], [`new_cluster_growth`]).

use nalgebra::DMatrix;

use crate::bottleneck::{cluster_marginal, members_given_cluster, Decoder};
use crate::dist::Joint;
use crate::dual_ib::geometric_decoder;
use crate::scalar::Real;
use crate::spectrum::{maximal_correlation_function, singular_values, MaximalCorrelation};

/// q(x|t) for the live clusters: `None` for clusters without mass.
fn members<T: Real>(p: &Joint<T>, q_t_given_x: &DMatrix<T>) -> Vec<Option<Vec<T>>> {
    let q_t = cluster_marginal(p, q_t_given_x);
    let q_x_given_t = members_given_cluster(p, q_t_given_x, &q_t);
    (0..q_t.len())
        .map(|t| (!q_t[t].is_zero()).then(|| q_x_given_t.row(t).iter().cloned().collect()))
        .collect()
}

/// The IB split eigenvalue of every cluster: λ_2(C_t) = ρ_m² of the joint
/// q(x|t)·p(y|x); `None` for empty clusters.
///
/// # Formula
/// C_t[x,x'] = Σ_y p(y|x) p(y|x') q(x'|t) / q(y|t); λ_2(C_t) = σ_2(B_t)²,
/// B_t\[x,y\] = q(x|t) p(y|x) / sqrt(q(x|t) q(y|t))  (spec ib §3.2, verified there and by
/// `tests/anneal.rs`).
pub fn ib_split_eigenvalues<T: Real>(p: &Joint<T>, q_t_given_x: &DMatrix<T>) -> Vec<Option<T>> {
    members(p, q_t_given_x)
        .into_iter()
        .map(|m| {
            let m = m?;
            let joint = DMatrix::from_fn(p.nx(), p.ny(), |x, y| {
                m[x].clone() * &p.p_y_given_x()[(x, y)]
            });
            let labels = |n: usize| (0..n).map(|i| i.to_string()).collect();
            let j = Joint::normalized(joint, labels(p.nx()), labels(p.ny()))
                .ok()?
                .joint;
            let rho = MaximalCorrelation::of(&j).rho_m;
            Some(rho.clone() * rho)
        })
        .collect()
}

/// The outcomes y with q0(y) > 0 and, for each x, the mean E_{q0} ln p(·|x) over them:
/// the centring of G[y,x] = sqrt(q0(y)) (ln p(y|x) − E_{q0} ln p(·|x)).
fn centred_logs<T: Real>(p: &Joint<T>, q0: &[T]) -> (Vec<usize>, Vec<T>) {
    let live_y: Vec<usize> = (0..p.ny()).filter(|&y| !q0[y].is_zero()).collect();
    let ln = p.ln_p_y_given_x();
    let means = (0..p.nx())
        .map(|x| {
            live_y
                .iter()
                .fold(T::zero(), |acc, &y| acc + q0[y].clone() * &ln[(x, y)])
        })
        .collect();
    (live_y, means)
}

/// λ_dual for weights w over x and a decoder q0 over y: the largest eigenvalue of
/// H W K W H = σ_max(G W H)², G[y,x] = sqrt(q0(y)) (ln p(y|x) − E_{q0} ln p(·|x)).
fn lambda_dual_of<T: Real>(p: &Joint<T>, w: &[T], q0: &[T]) -> T {
    let nx = p.nx();
    let (live_y, means) = centred_logs(p, q0);
    let ln = p.ln_p_y_given_x();
    let sqrt_w: Vec<T> = w.iter().map(|v| v.sqrt()).collect();
    // G W (ny_live × nx), then right-multiply by H = I − sqrt(w) sqrt(w)ᵀ.
    let gw = DMatrix::from_fn(live_y.len(), nx, |k, x| {
        let y = live_y[k];
        q0[y].sqrt() * (ln[(x, y)].clone() - &means[x]) * &sqrt_w[x]
    });
    let proj = DMatrix::from_fn(nx, nx, |a, b| {
        let id = if a == b { T::one() } else { T::zero() };
        id - sqrt_w[a].clone() * &sqrt_w[b]
    });
    let m = T::matmul(&gw, &proj);
    let s = singular_values(&m)
        .into_iter()
        .next()
        .unwrap_or_else(T::zero);
    s.clone() * s
}

/// ‖G W H‖_F² ≥ λ_dual (the matrix of [`lambda_dual_of`]), without the eigenproblem:
/// Σ_y q0(y) [ Σ_x w_x c_xy² − (Σ_x w_x c_xy)² ], c_xy = ln p(y|x) − E_{q0} ln p(·|x)
/// (each row a of G W loses (a·sqrt(w))² to the projection H, as Σ_x w_x = 1).
fn lambda_dual_bound_of<T: Real>(p: &Joint<T>, w: &[T], q0: &[T]) -> T {
    let (live_y, means) = centred_logs(p, q0);
    let ln = p.ln_p_y_given_x();
    let mut total = T::zero();
    for &y in &live_y {
        let (mut first, mut square) = (T::zero(), T::zero());
        for x in 0..p.nx() {
            let c = ln[(x, y)].clone() - &means[x];
            let wc = w[x].clone() * &c;
            square += wc.clone() * &c;
            first += wc;
        }
        total += q0[y].clone() * (square - first.clone() * &first);
    }
    total.max_of(T::zero())
}

/// For each cluster of the dual IB, `f(q(x|t), q(y|t))` with the geometric decoder;
/// `None` for dead clusters.
fn per_dual_cluster<T: Real>(
    p: &Joint<T>,
    q_t_given_x: &DMatrix<T>,
    f: impl Fn(&Joint<T>, &[T], &[T]) -> T,
) -> Vec<Option<T>> {
    let q_t = cluster_marginal(p, q_t_given_x);
    let (dec, _) = geometric_decoder(p, q_t_given_x, &q_t);
    members(p, q_t_given_x)
        .into_iter()
        .enumerate()
        .map(|(t, m)| {
            let m = m?;
            if !dec.live()[t] {
                return None;
            }
            let q0: Vec<T> = dec.q_y_given_t().row(t).iter().cloned().collect();
            Some(f(p, &m, &q0))
        })
        .collect()
}

/// The dual-IB split eigenvalue λ_dual(t) of every cluster (`None` for dead clusters).
///
/// # Formula
/// λ_dual(t) = λ_max(H W K W H), W = diag(sqrt q(x|t)), H = I − sqrt(w) sqrt(w)ᵀ,
/// K[x,x'] = Cov_{q(·|t)}(ln p(·|x), ln p(·|x')), q(y|t) the geometric decoder
/// (spec ib §3.6, derived there; checked against its closed forms in `tests/anneal.rs`).
pub fn dual_split_eigenvalues<T: Real>(p: &Joint<T>, q_t_given_x: &DMatrix<T>) -> Vec<Option<T>> {
    per_dual_cluster(p, q_t_given_x, lambda_dual_of)
}

/// An upper bound on every cluster's split eigenvalue that costs O(|X||Y|) per cluster
/// (no eigenproblem): `None` for dead clusters. A cluster with β·bound < 1 is linearly
/// stable to splitting, so [`crate::anneal`]'s up sweeps give copies only to the others.
///
/// # Formula
/// IB: λ_2(C_t) = σ_2(B_t)² ≤ Σ_{k≥2} σ_k(B_t)² = ‖B_t‖_F² − 1
///     = Σ_{x,y} q(x|t) p(y|x)² / q(y|t) − 1 (σ_1 = 1; the χ² information of the joint
///     q(x|t) p(y|x), with q(y|t) = Σ_x q(x|t) p(y|x)).
/// Dual IB: λ_dual(t) = σ_max(G W H)² ≤ ‖G W H‖_F²
///     = Σ_y q0(y) [ Σ_x w_x (g_xy − m_x)² − (Σ_x w_x (g_xy − m_x))² ],
///     w_x = q(x|t), g_xy = ln p(y|x), m_x = Σ_y q0(y) g_xy, q0 the geometric decoder
///     (the matrix of [`dual_split_eigenvalues`], each row of G W projected by H).
/// Other methods: `None` (no linear theory).
pub fn split_eigenvalue_bounds<T: Real>(
    method: &str,
    p: &Joint<T>,
    q_t_given_x: &DMatrix<T>,
) -> Option<Vec<Option<T>>> {
    let ny = p.ny();
    match method {
        "ib" => {
            // Two products (rows t): first = q(x|t)·p(y|x) = q(y|t), second = q(x|t)·p(y|x)².
            let q_t = cluster_marginal(p, q_t_given_x);
            let w = members_given_cluster(p, q_t_given_x, &q_t);
            let pyx = p.p_y_given_x();
            let first = T::matmul(&w, pyx);
            let second = T::matmul(&w, &pyx.map(|v| v.clone() * &v));
            Some(
                (0..q_t.len())
                    .map(|t| {
                        if q_t[t].is_zero() {
                            return None;
                        }
                        let total = (0..ny)
                            .filter(|&y| !first[(t, y)].is_zero())
                            .fold(T::zero(), |acc, y| {
                                acc + second[(t, y)].clone() / &first[(t, y)]
                            });
                        Some((total - T::one()).max_of(T::zero()))
                    })
                    .collect(),
            )
        }
        "dualib" => Some(per_dual_cluster(p, q_t_given_x, lambda_dual_bound_of)),
        _ => None,
    }
}

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
/// simplex steps × O(|X||Y|) f64 work; above, a fixed budget of [`BUDGET_STARTS`] starts ×
/// [`BUDGET_ITERATIONS`] steps. The polish, at the working precision: at most 3 starts × at
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

/// q_r(y) ∝ Π_x p(y|x)^{r(x)}, with q_r(y) = 0 where some x with r(x) > 0 has p(y|x) = 0.
fn geometric<T: Real>(p: &Joint<T>, r: &[T]) -> Vec<T> {
    let ln = p.ln_p_y_given_x();
    let dead: Vec<bool> = (0..p.ny())
        .map(|y| (0..p.nx()).any(|x| r[x] > T::zero() && p.p_y_given_x()[(x, y)].is_zero()))
        .collect();
    let logs: Vec<Option<T>> = (0..p.ny())
        .map(|y| {
            (!dead[y])
                .then(|| (0..p.nx()).fold(T::zero(), |acc, x| acc + r[x].clone() * &ln[(x, y)]))
        })
        .collect();
    let max = logs
        .iter()
        .flatten()
        .cloned()
        .reduce(|a, b| a.max_of(b))
        .unwrap_or_else(T::zero);
    let w: Vec<T> = logs
        .iter()
        .map(|l| {
            l.as_ref()
                .map_or_else(T::zero, |l| (l.clone() - &max).exp())
        })
        .collect();
    let total = w.iter().fold(T::zero(), |acc, v| acc + v);
    w.into_iter().map(|v| v / &total).collect()
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

/// D(a ‖ b) summed term by term in the Bregman form
/// Σ_{a>0} [a ln(1 + (a − b)/b) − (a − b)] + Σ_{a=0} b  (+inf if some b = 0 < a).
///
/// Equal to KL(a‖b) for probability vectors, but accurate near a = b: each term is
/// ≈ b·d²/2 (d = a/b − 1) and is computed to about epsilon·|d|·b, whereas Σ a ln(a/b)
/// is off by the rounding of Σ a − 1 and of ln(a/b) (≈ epsilon absolute each), which near
/// the maximiser of a nucleation ratio (D ≈ 1e-2 to 1e-4) is a relative error ≫ epsilon.
fn divergence<T: Real>(a: &[T], b: &[T]) -> T {
    let mut acc = T::zero();
    for (ai, bi) in a.iter().zip(b) {
        if ai.is_zero() {
            acc += bi;
            continue;
        }
        if bi.is_zero() {
            return T::infinity();
        }
        let diff = ai.clone() - bi;
        acc += ai.clone() * (diff.clone() / bi).ln_1p() - diff;
    }
    acc.max_of(T::zero())
}

/// rP: the output distribution (rP)_y = Σ_x r(x) P(y|x).
fn output<T: Real>(p: &Joint<T>, r: &[T]) -> Vec<T> {
    (0..p.ny())
        .map(|y| {
            (0..p.nx()).fold(T::zero(), |acc, x| {
                acc + r[x].clone() * &p.p_y_given_x()[(x, y)]
            })
        })
        .collect()
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

/// The growth weights of a new cluster with decoder q: p(x) exp(−β d(x, q)) / Z(x), 0 where
/// d(x, q) or ln Z(x) is infinite (`ln_z[x]` = ln Z(x), the current partition function).
/// Their sum is c(q); normalised, they are the input distribution that maximises
/// β N(r) − D(r ‖ p_X) for that decoder at the trivial solution (Donsker-Varadhan).
fn growth_weights<T: Real>(
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

/// p_X restricted to the inputs of `face` and renormalised (0 elsewhere); `None` if the
/// face has no mass.
fn p_x_on_face<T: Real>(p: &Joint<T>, face: &[usize]) -> Option<Vec<T>> {
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
fn support_faces<T: Real>(p: &Joint<T>) -> Vec<Vec<usize>> {
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
enum Distortion {
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
/// every row p(y|x), its midpoint with p_Y, p_Y, and every live decoder; for |X| >
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

fn distortion<T: Real>(p: &Joint<T>, kind: Distortion, x: usize, q: &[T]) -> T {
    let row: Vec<T> = p.p_y_given_x().row(x).iter().cloned().collect();
    match kind {
        Distortion::Ib => divergence(&row, q),
        Distortion::Dual => divergence(q, &row),
    }
}

fn nucleation_test<T: Real>(
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
        let half = T::from_f64(0.5);
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
        for &x in &inputs {
            let row: Vec<T> = p.p_y_given_x().row(x).iter().cloned().collect();
            starts.push(
                row.iter()
                    .zip(p.p_y())
                    .map(|(a, b)| (a.clone() + b) * &half)
                    .collect(),
            );
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

/// Golden-section search for the maximum of a unimodal `f` on [lo, hi], to the working
/// precision (undefined points count as −inf).
fn golden_max<T: Real>(f: &impl Fn(&T) -> Option<T>, lo: T, hi: T) -> T {
    let inv_phi = (T::from_f64(5.0).sqrt() - T::one()) / T::from_f64(2.0);
    let (mut a, mut b) = (lo, hi);
    let val = |x: &T| f(x).unwrap_or_else(|| -T::infinity());
    let mut c = b.clone() - (b.clone() - a.clone()) * &inv_phi;
    let mut d = a.clone() + (b.clone() - a.clone()) * &inv_phi;
    let (mut fc, mut fd) = (val(&c), val(&d));
    let tol = T::epsilon() * T::from_f64(4.0);
    for _ in 0..(4 * T::PRECISION_BITS as usize) {
        if (b.clone() - a.clone()).abs() <= tol {
            break;
        }
        if fc > fd {
            b = d;
            d = c.clone();
            fd = fc;
            c = b.clone() - (b.clone() - a.clone()) * &inv_phi;
            fc = val(&c);
        } else {
            a = c;
            c = d.clone();
            fc = fd;
            d = a.clone() + (b.clone() - a.clone()) * &inv_phi;
            fd = val(&d);
        }
    }
    (a + b) / T::from_f64(2.0)
}

/// Alphabets up to this size get the full search (8 + 4n starts, 400n iterations each);
/// larger ones a fixed budget ([`BUDGET_STARTS`] starts of [`BUDGET_ITERATIONS`]
/// iterations), since the full search costs O(n^4) and took minutes at |X| = 64.
pub const FULL_SEARCH_MAX_X: usize = 12;
/// Starts of the budgeted search: half near the vertices r ≈ δ_x with the largest ratio
/// there (r(x) ≈ 0.95), half seeded uniform points in softmax coordinates.
pub const BUDGET_STARTS: usize = 12;
/// Iterations per start of the budgeted search.
pub const BUDGET_ITERATIONS: usize = 2000;

/// Multistart Nelder-Mead maximisation of `f` over the probability simplex in R^n
/// (softmax parameterisation); returns the local maxima found (deterministic starts).
/// For n > [`FULL_SEARCH_MAX_X`] the budget is fixed (see there): the result is then a
/// lower bound found by a bounded search, which the Newton polish refines locally.
fn nelder_mead_search(n: usize, f: impl Fn(&[f64]) -> Option<f64>) -> Vec<Vec<f64>> {
    let full = n <= FULL_SEARCH_MAX_X;
    let starts = if full { 8 + 4 * n } else { BUDGET_STARTS };
    let iterations = if full { 400 * n } else { BUDGET_ITERATIONS };
    let softmax = |z: &[f64]| -> Vec<f64> {
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|v| v / s).collect()
    };
    let g = |z: &[f64]| -> f64 { -f(&softmax(z)).unwrap_or(f64::NEG_INFINITY) };
    let mut rng = crate::gen::Uniform::new(0x5eed);
    let mut out = Vec::new();
    // The budget's first half starts near the vertices r ≈ δ_x (r(x) ≈ 0.95) with the
    // largest values of f there; uniform logits alone put no mass near any vertex for
    // large n, and on a 256 x 32 Dirichlet joint a vertex already beats the local limit
    // (s* >= 0.1 against rho_m^2 = 0.057), which a search from random logits missed.
    let peak = (n as f64).ln() + 3.0;
    let near_vertex =
        |x: usize| -> Vec<f64> { (0..n).map(|i| if i == x { peak } else { 0.0 }).collect() };
    let vertices: Vec<usize> = if full {
        Vec::new()
    } else {
        let scores: Vec<f64> = (0..n).map(|x| g(&near_vertex(x))).collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
        order.truncate(BUDGET_STARTS / 2);
        order
    };
    for start in 0..starts {
        if let Some(&x) = vertices.get(start) {
            let z0 = near_vertex(x);
            out.push(nelder_mead_from(&z0, iterations, &g, &softmax));
            continue;
        }
        let z0: Vec<f64> = (0..n)
            .map(|i| {
                if full && start < n {
                    if i == start {
                        3.0
                    } else {
                        0.0
                    }
                } else {
                    6.0 * rng.next() - 3.0
                }
            })
            .collect();
        out.push(nelder_mead_from(&z0, iterations, &g, &softmax));
    }
    out
}

/// One Nelder-Mead run from logits `z0` minimising `g`; returns softmax of the best vertex.
fn nelder_mead_from(
    z0: &[f64],
    iterations: usize,
    g: &impl Fn(&[f64]) -> f64,
    softmax: &impl Fn(&[f64]) -> Vec<f64>,
) -> Vec<f64> {
    let n = z0.len();
    let mut simplex: Vec<Vec<f64>> = vec![z0.to_vec()];
    for i in 0..n {
        let mut z = z0.to_vec();
        z[i] += 1.0;
        simplex.push(z);
    }
    let mut values: Vec<f64> = simplex.iter().map(|z| g(z)).collect();
    for _ in 0..iterations {
        let mut order: Vec<usize> = (0..simplex.len()).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        simplex = order.iter().map(|&i| simplex[i].clone()).collect();
        values = order.iter().map(|&i| values[i]).collect();
        let worst = simplex.len() - 1;
        if (values[worst] - values[0]).abs() < 1e-15 * values[0].abs().max(1e-300) {
            break;
        }
        let centroid: Vec<f64> = (0..n)
            .map(|i| simplex[..worst].iter().map(|z| z[i]).sum::<f64>() / worst as f64)
            .collect();
        let along = |t: f64| -> Vec<f64> {
            (0..n)
                .map(|i| centroid[i] + t * (simplex[worst][i] - centroid[i]))
                .collect()
        };
        let reflected = along(-1.0);
        let fr = g(&reflected);
        if fr < values[0] {
            let expanded = along(-2.0);
            let fe = g(&expanded);
            if fe < fr {
                simplex[worst] = expanded;
                values[worst] = fe;
            } else {
                simplex[worst] = reflected;
                values[worst] = fr;
            }
        } else if fr < values[worst - 1] {
            simplex[worst] = reflected;
            values[worst] = fr;
        } else {
            let contracted = along(0.5);
            let fc = g(&contracted);
            if fc < values[worst] {
                simplex[worst] = contracted;
                values[worst] = fc;
            } else {
                let best = simplex[0].clone();
                for k in 1..simplex.len() {
                    simplex[k] = (0..n).map(|i| 0.5 * (best[i] + simplex[k][i])).collect();
                    values[k] = g(&simplex[k]);
                }
            }
        }
    }
    softmax(&simplex[0])
}

/// The indices of the `k` largest of `values` (ties to the lower index; incomparable
/// values count as equal), in increasing index order.
pub(crate) fn largest_indices<T: PartialOrd>(values: &[T], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        values[b]
            .partial_cmp(&values[a])
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    order.truncate(k);
    order.sort_unstable();
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joint(rows: usize, cols: usize, v: &[f64]) -> Joint<f64> {
        Joint::new(DMatrix::from_row_slice(rows, cols, v)).unwrap()
    }

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
    fn divergence_is_kl_on_the_simplex() {
        let a = [0.2, 0.3, 0.5];
        let b = [0.25, 0.25, 0.5];
        let plain: f64 = a.iter().zip(&b).map(|(x, y)| x * (x / y).ln()).sum();
        assert!((divergence(&a, &b) - plain).abs() < 1e-16);
        assert_eq!(divergence(&[0.5, 0.5], &[1.0, 0.0]), f64::INFINITY);
        assert!((divergence(&[0.0, 1.0], &[0.5, 0.5]) - 2f64.ln()).abs() < 1e-16);
    }

    #[test]
    fn dsbs_sdpi_is_the_local_limit() {
        let p = joint(2, 2, &[0.45, 0.05, 0.05, 0.45]);
        let s = sdpi_constant(&p);
        assert!((s.value - 0.64).abs() < 1e-12, "{}", s.value);
    }

    /// A random joint and encoder from a fixed linear-congruential stream.
    fn random_case(nx: usize, ny: usize, nt: usize, seed: u64) -> (Joint<f64>, DMatrix<f64>) {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            0.05 + (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let raw = DMatrix::from_fn(nx, ny, |_, _| next());
        let total = raw.sum();
        let p = Joint::new(raw / total).expect("positive normalised joint");
        let mut q = DMatrix::from_fn(nx, nt, |_, _| next());
        crate::solve::normalize_rows(&mut q);
        (p, q)
    }

    #[test]
    fn split_bounds_bound_the_eigenvalues_and_are_exact_for_two_outcomes() {
        for seed in 0..20u64 {
            let ny = 2 + (seed as usize % 4);
            let (p, q) = random_case(5, ny, 3, seed);
            for method in ["ib", "dualib"] {
                let exact = match method {
                    "ib" => ib_split_eigenvalues(&p, &q),
                    _ => dual_split_eigenvalues(&p, &q),
                };
                let bound = split_eigenvalue_bounds(method, &p, &q).unwrap();
                for (e, b) in exact.iter().zip(&bound) {
                    let (e, b) = (e.unwrap(), b.unwrap());
                    assert!(b >= e - 1e-14, "{method} seed {seed}: bound {b} < {e}");
                    // With |Y| = 2 the matrices have rank one past the trivial direction,
                    // so the bound is the eigenvalue itself.
                    if ny == 2 {
                        assert!((b - e).abs() < 1e-13 * (1.0 + e), "{method}: {b} vs {e}");
                    } else {
                        assert!(b > e * (1.0 + 1e-9), "{method} |Y| = {ny}: {b} vs {e}");
                    }
                }
            }
        }
        let (p, q) = random_case(3, 3, 2, 1);
        assert!(split_eigenvalue_bounds("dib", &p, &q).is_none());
    }
}
