//! Bifurcations along a path: every change of the number of distinct clusters between
//! neighbouring points of an [`anneal`](crate::anneal::anneal) path is classified (linear
//! or nucleation), predicted from theory (spec ib §3; [`crate::bifurcation`]) and located
//! in β to a relative tolerance on converged branch solutions ([`locate`]).

use std::sync::OnceLock;

use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::anneal::{
    branch_state, continue_branch, far_enough, geometric_mid, solve_merging, AnnealOptions,
    Direction, Path,
};
use crate::bifurcation::{
    dual_nucleation_constant, dual_split_eigenvalues, ib_split_eigenvalues, sdpi_constant,
    Supremum, SupremumMethod,
};
use crate::bottleneck::Bottleneck;
use crate::dist::Joint;
use crate::scalar::Real;
use crate::solve::{merged_encoder, Solution, Stop, Termination};

/// Kind of a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A continuous split where β·λ_2(t) crosses 1 on the branch with fewer clusters.
    Linear,
    /// A first-order change (no eigenvalue crossing): new clusters appear with a finite
    /// jump, or branches exchange optimality.
    Nucleation,
    /// A change beyond [`AnnealOptions::max_located`]: not classified, only bracketed by
    /// the path (reported at the bracket's geometric midpoint, with the bracket's relative
    /// width as tolerance; it may hold several changes).
    Unlocated,
}

impl Kind {
    /// `linear` or `nucleation`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Linear => "linear",
            Kind::Nucleation => "nucleation",
            Kind::Unlocated => "unlocated",
        }
    }
}

/// A located change of the number of distinct clusters.
#[derive(Clone, Debug)]
pub struct Bifurcation<T> {
    /// Linear or nucleation.
    pub kind: Kind,
    /// Which path it was found on.
    pub direction: Direction,
    /// The prediction of theory, by kind:
    /// * linear: 1/max_t λ_2(t) at the bracket's low-β end (exact on the trivial branch,
    ///   where λ_2 does not move);
    /// * nucleation from the trivial solution: 1/s* (IB) or 1/η_dual (dual IB);
    /// * nucleation on a non-trivial branch (IB and dual IB): the β where the Blahut-style
    ///   test max_q c(q) crosses 1 on the low branch (warm-started solves), c(q) the
    ///   growth factor of a new zero-mass cluster with decoder q, maxima at the branch's
    ///   own decoders excluded ([`crate::bifurcation::new_cluster_growth`]): where the low
    ///   branch stops being stable against nucleating a cluster. Bisection to the same
    ///   tolerance, searched within the bracket ±10%;
    ///
    /// `None` where theory gives none (other methods, or no crossing in that range).
    pub beta_predicted: Option<T>,
    /// Where the condition holds: the root of β·max_t λ_2(t) = 1 on the low branch
    /// (bisection on converged branch solutions), the onset constant itself from the
    /// trivial solution, or, for nucleation on a non-trivial branch, the β where the two
    /// branches' objectives cross (where the high branch becomes the better one; it may
    /// differ from `beta_predicted`, where the low branch becomes unstable). When the high
    /// branch's new cluster is born with vanishing mass, the branches meet at the onset
    /// and it is the onset `beta_predicted` itself: recognised before any comparison when
    /// the new cluster's mass grows linearly in β − β_o just above the onset β_o (the
    /// masses at β_o(1 + 2h) and β_o(1 + h), h = 1e-4, in the ratio 2 within 5%), or
    /// after it when the crossing is not resolved.
    pub beta_located: T,
    /// Relative tolerance of `beta_located`: the width of the final bracket (bisection,
    /// or the certified bracket of the Illinois root finder for linear splits); 0 when it
    /// is a closed-form constant; the path bracket's own relative width when a
    /// first-order change could not be bracketed by the objective comparison. For an
    /// objective crossing, at least the shift implied by the branches' objective errors
    /// (re-solved from the bracket ends; rounding), and, for a birth at vanishing mass or
    /// where the crossing is not resolved (the high branch collapsed at the root, or its
    /// cluster masses differ between the two solves by more than sqrt(tol), or a solve
    /// stopped at the cap ended the comparison), the onset's bisection width plus
    /// δ/(s·β) (δ the growth difference of a continued and a cold solve of the low branch
    /// at the onset, s the growth's slope in β), or, without that estimate, the crossing's
    /// tolerance and |located − predicted|/located: see `crossing_check` in the source.
    pub tolerance: T,
    /// Distinct clusters below and above.
    pub clusters_before: usize,
    /// Distinct clusters above.
    pub clusters_after: usize,
    /// The path bracket.
    pub bracket: (T, T),
    /// The largest iteration count of the two bracketing path points.
    pub iterations_near: usize,
    /// How many of the branch solves of this location stopped at the iteration cap
    /// instead of converging (0 for unlocated rows and closed-form onsets). A capped solve
    /// either carries a condition (the split eigenvalue, the new cluster's growth), which
    /// is meant for converged solutions, or ends the objective comparison of the two
    /// branches, which uses converged solves only and is then unresolved (so the onset, or
    /// the bracket reached, is reported). Either way a non-zero count says the cap limited
    /// the location and a larger cap may sharpen it.
    pub unconverged_solves: usize,
}

/// max_t λ_2(t) of a solution, for the method (`None` for methods without a linear theory).
fn max_split_eigenvalue<T: Real>(method: &str, p: &Joint<T>, q: &DMatrix<T>) -> Option<T> {
    let values = match method {
        "ib" => ib_split_eigenvalues(p, q),
        "dualib" => dual_split_eigenvalues(p, q),
        _ => return None,
    };
    values.into_iter().flatten().reduce(|a, b| a.max_of(b))
}

/// How far (in steps of 1%) beyond the path's bracket the eigenvalue crossing of a linear
/// split is searched. The accelerated iteration lags a split by much less than this (the
/// 3x3 example: 0.1%); 10% classified a first-order change 5% below a linear instability
/// of the same branch as that instability.
const LINEAR_SEARCH_STEPS: usize = 3;

/// The trivial solution's nucleation constant of a method: s* for the IB
/// ([`sdpi_constant`]), η_dual for the dual IB ([`dual_nucleation_constant`]); `None` for
/// methods without that theory.
pub fn trivial_onset_constant<T: Real>(method: &str, p: &Joint<T>) -> Option<Supremum<T>> {
    match method {
        "ib" => Some(sdpi_constant(p)),
        "dualib" => Some(dual_nucleation_constant(p)),
        _ => None,
    }
}

/// A lower bound on s* = η_KL(X;Y) from solutions already computed, independent of the
/// supremum search behind [`trivial_onset_constant`]. Every channel T − X − Y obeys
/// I(T;Y) ≤ s* I(X;T) \[AGKN13\] (the inequality whose tight constant s* is), and every
/// IB solution is such a channel, so
///
/// s* ≥ max over the points of `paths` of I(T;Y)/I(X;T)
///
/// (points with I(X;T) ≤ sqrt(epsilon) nats are skipped: their ratio is rounding). The
/// nucleation onset 1/s* from the trivial solution is then at most 1/(that maximum); a
/// search result below the bound has missed the global supremum. Returns (the largest
/// ratio, its β, its path's direction); `None` without a usable point.
pub fn sdpi_lower_bound<T: Real>(paths: &[Path<T>]) -> Option<(T, T, Direction)> {
    let floor = T::epsilon().sqrt();
    let mut best: Option<(T, T, Direction)> = None;
    for path in paths {
        for s in path.points.iter().filter(|s| s.i_xt > floor) {
            let ratio = s.i_ty.clone() / &s.i_xt;
            if best.as_ref().is_none_or(|(r, _, _)| ratio > *r) {
                best = Some((ratio, s.beta.clone(), path.direction));
            }
        }
    }
    best
}

/// Finds and locates every change of the number of distinct clusters along `path`, to
/// relative tolerance `rel_tol` in β.
pub fn locate<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    path: &Path<T>,
    options: &AnnealOptions<T>,
    rel_tol: &T,
) -> Vec<Bifurcation<T>> {
    locate_sharing_onset(
        method,
        p,
        path,
        options,
        rel_tol,
        &OnceLock::new(),
        &|_, _| {},
    )
}

/// [`locate`] with the trivial solution's onset constant ([`trivial_onset_constant`])
/// computed at most once in `onset`, shared by every caller that passes the same cell
/// (the constant can cost seconds on large alphabets; `ibex anneal` locates on two paths
/// and prints the thresholds too). `progress(done, total)` is called as windows of the
/// refined path are finished (from any thread; `total` counts the windows with a change).
pub fn locate_sharing_onset<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    path: &Path<T>,
    options: &AnnealOptions<T>,
    rel_tol: &T,
    onset: &OnceLock<Option<Supremum<T>>>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<Bifurcation<T>> {
    let k = p.nx();
    let at_window = |w: &[&Solution<T>]| -> Option<Bifurcation<T>> {
        let (a, b) = (w[0], w[1]);
        let (ca, cb) = (a.clusters.len(), b.clusters.len());
        if ca == cb {
            return None;
        }
        // The branch with fewer clusters, and the one with more.
        let (low, high) = if ca < cb { (a, b) } else { (b, a) };
        let low_state = merged_encoder(low, low.clusters.len().max(1));
        let high_state = merged_encoder(high, high.clusters.len().max(1));
        let predicted_linear =
            max_split_eigenvalue(method.name(), p, &low_state).map(|l| T::one() / l);
        // Each branch is continued: a solve starts from the branch's converged solution
        // at the nearest β solved so far in this window (the bracket end at first), so
        // the many solves of a bisection, ever closer together, start ever closer to
        // their answer. Only solutions that kept the branch's cluster count are starting
        // points, so every start holds the branch itself.
        let low_branch = Branch::new(&low.beta, low_state.clone());
        let high_branch = Branch::new(&high.beta, high_state.clone());
        // Neither branch is split (each has one column per cluster), and either may lose
        // clusters at β (the high one then is no longer the branch with more clusters),
        // so both are solved by the merging solver, which also keeps a slowly coalescing
        // pair from taking the whole iteration budget (on the 256x32 Dirichlet joint a
        // 158-column low branch spent 100,000 evaluations on one such pair).
        // Every branch solve of this location, counted when it stops at the iteration cap.
        // The conditions (the eigenvalue, the growth) are meant for converged solutions; the
        // objective comparison and the crossing check use converged solves only, and a
        // capped one ends the comparison (unresolved) or leaves the crossing unresolved, so
        // it decides which answer is reported. Either way a count above 0 says the cap
        // limited the location, and a larger `--max-iter` may sharpen it.
        let unconverged = std::cell::Cell::new(0usize);
        let counted = |s: Solution<T>| {
            if s.termination != Termination::Converged {
                unconverged.set(unconverged.get() + 1);
            }
            s
        };
        let branch_solve = |beta: &T, start: DMatrix<T>, opts: &AnnealOptions<T>| {
            counted(solve_merging(method, p, beta, start, opts))
        };
        let on_low = |beta: &T| {
            let s = branch_solve(beta, low_branch.start(beta), options);
            low_branch.remember(&s);
            s
        };
        let on_high = |beta: &T| {
            let s = branch_solve(beta, high_branch.start(beta), options);
            high_branch.remember(&s);
            s
        };
        let g = |beta: &T| -> Option<T> {
            let s = on_low(beta);
            max_split_eigenvalue(method.name(), p, &merged_encoder(&s, k))
                .map(|l| beta.clone() * l - T::one())
        };
        let (lo, hi) = (a.beta.clone(), b.beta.clone());
        let trivial_low = low.clusters.len() == 1;
        // The path only brackets where the cluster count changed; critical slowing down
        // can put that a little past the eigenvalue crossing (up) or before it (down).
        // So the crossing is searched on the low branch within 1.01^LINEAR_SEARCH_STEPS
        // (3%) either side; a crossing farther away is another transition of that branch
        // (a first-order change happened in the bracket before the branch went linearly
        // unstable).
        let negative = |beta: &T| g(beta).is_some_and(|v| v < T::zero());
        let nonnegative = |beta: &T| g(beta).is_some_and(|v| v >= T::zero());
        let step = T::from_f64(1.01);
        let (mut g_lo_beta, mut g_hi_beta) = (lo.clone(), hi.clone());
        let mut linear = true;
        if trivial_low {
            // From the trivial solution λ_2 does not move with β: the split is linear only
            // if the bracket contains 1/λ_2 itself (within 1%, for the lag of a sweep);
            // otherwise it is the onset below. A first-order onset 1/s* inside the bracket
            // itself wins: going down, the branch with a cluster more lives on below
            // 1/λ_2 and leaves at the onset (on the 3x3 example the down path keeps 2
            // clusters at 2.1300 and has 1 at 2.1280: 1/s* = 2.12943, and 1/ρ_m² =
            // 2.14731 lies within 1% of that bracket too).
            let onset_inside = onset
                .get_or_init(|| trivial_onset_constant(method.name(), p))
                .as_ref()
                .is_some_and(|sup| {
                    let b = T::one() / sup.value.clone();
                    sup.method != SupremumMethod::LocalLimit && b >= lo && b <= hi
                });
            linear = !onset_inside
                && predicted_linear.as_ref().is_some_and(|b| {
                    *b >= lo.clone() / step.clone() && *b <= hi.clone() * step.clone()
                });
        }
        let mut k = 0;
        while linear && !negative(&g_lo_beta) {
            k += 1;
            g_lo_beta /= &step;
            if k > LINEAR_SEARCH_STEPS {
                linear = false;
                break;
            }
        }
        k = 0;
        while linear && !nonnegative(&g_hi_beta) {
            k += 1;
            g_hi_beta *= &step;
            if k > LINEAR_SEARCH_STEPS {
                linear = false;
            }
        }
        // Where a new zero-mass cluster grows on the low branch: max_q c(q) > 1 away from
        // the branch's own decoders (spec ib §3.1-3.2).
        // The growth condition changes sign with a small slope (on the 3x3 example 1.9e-3
        // per unit beta, against 0.38 for beta·λ_2), so the error of a solve moves its
        // root 200 times more: its low-branch solves are 100 times tighter than the
        // sweep's (and still counted when they stop at the cap).
        let tight = AnnealOptions {
            stop: Stop {
                tol: options.stop.tol.clone() * T::from_f64(1e-2),
                ..options.stop.clone()
            },
            ..options.clone()
        };
        let on_low_tight = |beta: &T| {
            let s = branch_solve(beta, low_branch.start(beta), &tight);
            low_branch.remember(&s);
            s
        };
        let growth_at = |s: &Solution<T>, beta: &T| {
            crate::bifurcation::new_cluster_growth(
                method.name(),
                p,
                beta,
                &s.q_t_given_x,
                &options.merge.decoder_at(beta),
            )
        };
        let grows = |beta: &T| growth_at(&on_low_tight(beta), beta).is_some_and(|g| g > T::zero());
        let linear_root = linear.then(|| {
            illinois(&g_lo_beta, &g_hi_beta, rel_tol, g)
                .unwrap_or_else(|| bisect(&g_lo_beta, &g_hi_beta, rel_tol, nonnegative))
        });
        // A branch with more clusters that the path found below the low branch's
        // eigenvalue crossing cannot be that crossing's split: the crossing is only the
        // low branch's own limit of stability. If the low branch starts to nucleate a
        // cluster (max_q c(q) crosses 1) below the crossing and near the bracket, the
        // change is that first-order onset, where the new cluster is born with vanishing
        // mass. On the 3x3 example the down path keeps a third cluster, of mass ever
        // smaller, down to 2.63300, where max_q c(q) crosses 1 on the 2-cluster branch;
        // its eigenvalue crossing is at 2.63718, to which the up path follows it.
        //
        // The window searched for the onset, (bottom, top), ends 1e-4 below the crossing,
        // so that the new maximum of c that the split itself brings is not mistaken for a
        // nucleation. Going down (and in independent solves, which find the better
        // branch) it starts 3% below the bracket, as for the crossing: near its onset the
        // new cluster's branch attracts ever fewer starts, so a step of the path can land
        // on the other branch a little above the onset. Going up the sweep follows the
        // low branch to the crossing itself, so the window is the bracket (up to the
        // crossing), and only when the crossing lies above the bracket.
        let onset_window = linear_root.as_ref().and_then(|root| {
            let below = root.0.clone() * T::from_f64(1.0 - 1e-4);
            if trivial_low {
                None
            } else if path.direction != Direction::Up {
                let allowance = step.clone() * &step * &step;
                Some((lo.clone() / allowance, below))
            } else {
                (root.0 > hi).then(|| (lo.clone(), below.min_of(hi.clone())))
            }
        });
        let onset_in_bracket = onset_window
            .as_ref()
            .is_some_and(|(bottom, top)| top > bottom && !grows(bottom) && grows(top));
        let iterations_near = a.iterations.max(b.iterations);
        let (kind, predicted, located, tolerance) =
            if let Some(root) = linear_root.filter(|_| !onset_in_bracket) {
                (Kind::Linear, predicted_linear, root.0, root.1)
            } else if let Some(sup) = trivial_low
                .then(|| {
                    onset
                        .get_or_init(|| trivial_onset_constant(method.name(), p))
                        .as_ref()
                })
                .flatten()
                // A zero constant has no onset (1/0): the crossing below decides.
                .filter(|sup| sup.value > T::zero())
            {
                // From the trivial solution the onset is a constant: 1/s* (or 1/η_dual). When
                // the supremum is the local limit it coincides with the linear threshold.
                let onset = T::one() / sup.value.clone();
                let kind = if sup.method == SupremumMethod::LocalLimit {
                    Kind::Linear
                } else {
                    Kind::Nucleation
                };
                (kind, Some(onset.clone()), onset, T::zero())
            } else {
                // The onset on the low branch: where a new zero-mass cluster first grows, by
                // bisection within the path's bracket when it is known to lie there, else
                // within the bracket ±10% when it changes there; to half the tolerance, so
                // that the bisection width and the solves' shift below fit in it.
                let half_tol = rel_tol.clone() / T::from_f64(2.0);
                let margin = T::from_f64(1.1);
                let (w_lo, w_hi) = if let Some(window) = onset_window.filter(|_| onset_in_bracket) {
                    window
                } else {
                    (lo.clone() / margin.clone(), hi.clone() * margin)
                };
                let onset = (onset_in_bracket || (!grows(&w_lo) && grows(&w_hi)))
                    .then(|| bisect(&w_lo, &w_hi, &half_tol, grows));
                let predicted = onset.as_ref().map(|o| o.0.clone());
                // A birth at vanishing mass (spec ib §3.1): the new cluster's branch exists just
                // above the onset β_o with the new mass m growing linearly in β − β_o (the
                // objective's expansion in m, −a(β − β_o)m + b m² with b > 0, is least at
                // m = a(β − β_o)/2b), and the two branches meet at β_o, so the objective
                // crossing is the onset itself and the comparison below, whose solves slow down
                // critically there, would only approach it. Recognised by solving the branch
                // with more clusters at β_o(1 + 2h) and β_o(1 + h), h = 1e-4: both converged
                // with more clusters than the low branch and their lightest masses in the ratio
                // 2 within 5%. Otherwise (a first-order change with a finite jump, whose
                // crossing lies away from the onset, or no clear linear growth) the comparison
                // decides.
                let vanishing_birth = |onset: &T| -> bool {
                    let h = T::from_f64(1e-4);
                    let lightest = |beta: T| {
                        let s = on_high(&beta);
                        (s.termination == Termination::Converged
                            && s.clusters.len() > low.clusters.len())
                        .then(|| s.clusters.last().map(|c| c.0.clone()))
                        .flatten()
                    };
                    let two = T::from_f64(2.0);
                    let far = lightest(onset.clone() * (T::one() + h.clone() * &two));
                    let near = far
                        .as_ref()
                        .and_then(|_| lightest(onset.clone() * (T::one() + h)));
                    match (far, near) {
                        (Some(far), Some(near)) if near > T::zero() => {
                            ((far / near) / &two - T::one()).abs() <= T::from_f64(0.05)
                        }
                        _ => false,
                    }
                };
                // Where the high branch becomes better than the low one; `None` when either
                // solve stopped at the iteration cap, as the high branch's new cluster does
                // near its onset, where its mass settles ever more slowly (critical slowing
                // down): objectives of unconverged iterates decide nothing, so the
                // comparison ends there, unresolved, and the onset (above) locates the change.
                let better = |beta: &T| {
                    let (l, h) = (on_low(beta), on_high(beta));
                    let converged = [&l, &h]
                        .iter()
                        .all(|s| s.termination == Termination::Converged);
                    let more = h.clusters.len() > l.clusters.len();
                    converged.then(|| more && h.objective < l.objective)
                };
                // Only a bracketed crossing is bisected; otherwise (the path's bracket holds no
                // sign change of the comparison, e.g. one branch is not reproducible there) the
                // change is reported at the bracket's geometric midpoint with the bracket's
                // width as its tolerance, not as a located root.
                // (located β, relative tolerance, whether the crossing was resolved).
                let birth = onset.as_ref().filter(|o| vanishing_birth(&o.0));
                let root = if let Some((beta_o, width)) = birth {
                    (beta_o.clone(), width.clone(), false)
                } else if better(&lo) != Some(false) || better(&hi) != Some(true) {
                    (geometric_mid(&lo, &hi), (hi.clone() - &lo) / &hi, false)
                } else {
                    let (beta_c, width, complete) = bisect_partial(&lo, &hi, rel_tol, better);
                    // The bracket is of the comparison as computed. Each branch's objective is
                    // only as exact as its solve (converged to `tol` in q, from the nearest
                    // solution of the branch), and two branches with many clusters cross at a
                    // shallow angle, so a tiny error in their difference moves the crossing
                    // far. The tolerance also covers that: both branches are solved again at
                    // the root from their bracket ends (cold), and the change of the
                    // difference Δ = L_high − L_low between the two solves, divided by
                    // β·|dΔ/dβ|, is the relative shift of the crossing it implies.
                    // A bisection ended by a capped solve is not checked: the bracket reached,
                    // unresolved.
                    let check = complete.then(|| {
                        crossing_check(
                            method,
                            p,
                            &beta_c,
                            (&on_low(&beta_c), &on_high(&beta_c)),
                            (
                                &branch_solve(&beta_c, low_state.clone(), options),
                                &branch_solve(&beta_c, high_state.clone(), options),
                            ),
                            &options.stop.tol,
                        )
                    });
                    match check {
                        Some(c) => {
                            let tolerance = c.shift.map_or(width.clone(), |s| s.max_of(width));
                            (beta_c, tolerance, c.resolved)
                        }
                        None => (beta_c, width, false),
                    }
                };
                // An unresolved crossing (the high branch collapsed into the low one at the
                // root, or its lightest cluster has not settled) is a cluster born with
                // vanishing mass, whose mass converges ever more slowly near its onset: the
                // branches meet at the onset (spec ib §3.1), so that is where the change is,
                // and the growth condition locates it far better than the objective
                // comparison of two nearly equal branches. Its tolerance is the bisection
                // width and the shift that the error of the low branch's solve implies: the
                // growth of a continued and of a cold solve at the onset differ by δ, and the
                // growth rises by s per unit β there, so the root is uncertain by δ/(s·β).
                // Without that estimate the crossing is kept, located no better than its
                // distance to the onset.
                let onset_shift = |beta: &T| -> Option<T> {
                    let warm = growth_at(&on_low_tight(beta), beta)?;
                    let cold = growth_at(&branch_solve(beta, low_state.clone(), &tight), beta)?;
                    let above = beta.clone() * T::from_f64(1.0 + 1e-4);
                    let rise = growth_at(&on_low_tight(&above), &above)? - &warm;
                    let slope = rise / (above - beta);
                    (slope > T::zero() && slope.is_finite())
                        .then(|| (warm - cold).abs() / (slope * beta))
                };
                let (located, tolerance, resolved) = root;
                let (located, tolerance) = match (onset, resolved) {
                    (Some((onset, width)), false) => match onset_shift(&onset) {
                        Some(shift) => (onset, width + shift),
                        None => {
                            let off = (located.clone() - &onset).abs() / &located;
                            (located, tolerance.max_of(off + rel_tol))
                        }
                    },
                    _ => (located, tolerance),
                };
                (Kind::Nucleation, predicted, located, tolerance)
            };
        Some(Bifurcation {
            kind,
            direction: path.direction,
            beta_predicted: predicted,
            beta_located: located,
            tolerance,
            clusters_before: ca,
            clusters_after: cb,
            bracket: (lo, hi),
            iterations_near,
            unconverged_solves: unconverged.get(),
        })
    };
    // The budget: path brackets in increasing β, each resolved while the cumulative count
    // change through it is within `max_located` (known before any solve, so the choice
    // does not depend on the number of threads).
    let mut used = 0usize;
    let located: Vec<bool> = path
        .points
        .windows(2)
        .map(|w| {
            used += w[0].clusters.len().abs_diff(w[1].clusters.len());
            options.max_located.is_none_or(|n| used <= n)
        })
        .collect();
    // Windows are independent and each is sequential: in parallel, in path order, so the
    // result does not depend on the number of threads.
    // The path with the points inserted by resolve_cascades, by reference, each window
    // marked with whether it is located.
    let inserted = resolve_cascades(method, p, path, options, &located);
    let mut windows: Vec<(&Solution<T>, &Solution<T>, bool)> = Vec::new();
    for (i, w) in path.points.windows(2).enumerate() {
        let mut previous = &w[0];
        for point in inserted[i].iter().chain(std::iter::once(&w[1])) {
            windows.push((previous, point, located[i]));
            previous = point;
        }
    }
    let total = windows
        .iter()
        .filter(|(a, b, _)| a.clusters.len() != b.clusters.len())
        .count();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let found: Vec<Option<Bifurcation<T>>> = windows
        .par_iter()
        .map(|&(a, b, locate_it)| {
            if a.clusters.len() == b.clusters.len() {
                return None;
            }
            let row = if locate_it {
                at_window(&[a, b])
            } else {
                Some(unlocated(path.direction, a, b))
            };
            progress(
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
                total,
            );
            row
        })
        .collect();
    found.into_iter().flatten().collect()
}

/// The row of a change that is not located (beyond [`AnnealOptions::max_located`]): the
/// bracket's geometric midpoint, its relative width as the tolerance.
fn unlocated<T: Real>(direction: Direction, a: &Solution<T>, b: &Solution<T>) -> Bifurcation<T> {
    Bifurcation {
        kind: Kind::Unlocated,
        direction,
        beta_predicted: None,
        beta_located: geometric_mid(&a.beta, &b.beta),
        tolerance: (b.beta.clone() - &a.beta) / &b.beta,
        clusters_before: a.clusters.len(),
        clusters_after: b.clusters.len(),
        bracket: (a.beta.clone(), b.beta.clone()),
        iterations_near: a.iterations.max(b.iterations),
        unconverged_solves: 0,
    }
}

/// Relative width in β below which a bracket whose cluster count changes by more than one
/// is no longer split by [`resolve_cascades`]: changes closer than this are reported as
/// one (e.g. a symmetric 2 → 4 split, which is one event).
const CASCADE_RESOLUTION: f64 = 1e-9;

/// The points to insert into each bracket of the path (one list per bracket, in
/// increasing β), found by continuing the path's own branch, into every bracket where the
/// cluster count changes, as the adaptive grid does ([`anneal`]):
/// until the bracket's β ratio is at most 1.001 and it holds a change of one cluster, or,
/// for a larger change, until it is narrower than [`CASCADE_RESOLUTION`].
///
/// A coarse grid (an explicit `--betas` list) can bracket several transitions, e.g. the
/// IB of the dual-IB paper example going down from 5 clusters at β = 64 to 2 at β = 8
/// loses clusters at 44.6, 28.0 and 12.7 (the last first-order); located as one window,
/// only one of them would be found, and the others misread. A wide bracket also misreads
/// a single change: the branch with fewer clusters may reach its own linear instability
/// inside it although the path changed earlier, by a first-order jump (the 2 → 3 change
/// of the same example, at 12.74, would be reported as the linear split at 13.36 of the
/// 2-cluster branch). [`locate`] searches for the linear crossing within 3% of the
/// bracket, so the bracket must be narrow. Inserted points are solved as
/// the sweep would have solved them (geometric midpoints, each continued from its
/// neighbour on the side the sweep comes from: below going up, above going down; on its
/// own in the independent mode), so the refined path is the path on a finer grid.
/// Brackets are refined in parallel, each sequentially, in path order; only those marked in
/// `wanted` (one flag per path bracket; the others get no points).
fn resolve_cascades<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    path: &Path<T>,
    options: &AnnealOptions<T>,
    wanted: &[bool],
) -> Vec<Vec<Solution<T>>> {
    let resolution = T::from_f64(CASCADE_RESOLUTION);
    let direction = path.direction;
    // The points strictly inside (a, b), in increasing β.
    fn inside<T: Real, F: Fn(&Solution<T>, &Solution<T>) -> Solution<T>>(
        a: &Solution<T>,
        b: &Solution<T>,
        resolution: &T,
        solve_between: &F,
    ) -> Vec<Solution<T>> {
        let jump = a.clusters.len().abs_diff(b.clusters.len());
        let width = (b.beta.clone() - &a.beta) / &b.beta;
        if jump == 0 || (jump == 1 && !far_enough(&a.beta, &b.beta)) || width <= *resolution {
            return Vec::new();
        }
        let mid = solve_between(a, b);
        let mut out = inside(a, &mid, resolution, solve_between);
        let right = inside(&mid, b, resolution, solve_between);
        out.push(mid);
        out.extend(right);
        out
    }
    let solve_between = |a: &Solution<T>, b: &Solution<T>| {
        let from = if direction == Direction::Up { a } else { b };
        let beta = geometric_mid(&a.beta, &b.beta);
        continue_branch(method, p, &beta, &branch_state(from), direction, options)
    };
    path.points
        .par_windows(2)
        .zip(wanted.par_iter())
        .map(|(w, &wanted)| {
            if wanted {
                inside(&w[0], &w[1], &resolution, &solve_between)
            } else {
                Vec::new()
            }
        })
        .collect()
}

/// What re-solving both branches at a located objective crossing says about it.
struct CrossingCheck<T> {
    /// The relative shift of the crossing implied by the objectives' errors, if the
    /// warm pair is a low and a high branch.
    shift: Option<T>,
    /// Whether both pairs are a low and a high branch whose masses agree within
    /// sqrt(tol) (the high branch exists at the root and is settled).
    resolved: bool,
}

/// Checks an objective crossing at `beta` with two pairs of solves (`warm` from the
/// branches' nearest solutions, `cold` from the bracket ends; each (low, high)).
///
/// The shift is how much the objective difference Δ = L_high − L_low changes between the
/// pairs, or its rounding error if that is larger, over the slope:
/// max(|Δ_warm − Δ_cold|, sqrt(|X||T|)·epsilon·max(1, |L|)) / (β |dΔ/dβ|). The slope is
/// exact for the warm solutions: with the encoders fixed each objective is affine in β,
/// L = A(q) − β B(q), and at a fixed point dL/dβ = ∂L/∂β (envelope theorem), so
/// dΔ/dβ = (Δ(β + h) − Δ(β))/h with the encoders held, for any h. No shift if the warm
/// pair did not converge with more clusters on the high branch, or the slope vanishes;
/// the rounding term alone if only the cold pair is not such a pair.
fn crossing_check<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    warm: (&Solution<T>, &Solution<T>),
    cold: (&Solution<T>, &Solution<T>),
    tol: &T,
) -> CrossingCheck<T> {
    let usable = |(l, h): (&Solution<T>, &Solution<T>)| {
        l.termination == Termination::Converged
            && h.termination == Termination::Converged
            && h.clusters.len() > l.clusters.len()
    };
    // Cluster masses (heaviest first) agree within sqrt(tol) relative.
    let same_masses = |a: &Solution<T>, b: &Solution<T>| {
        let limit = tol.sqrt();
        a.clusters.len() == b.clusters.len()
            && a.clusters.iter().zip(&b.clusters).all(|(x, y)| {
                (x.0.clone() - &y.0).abs() <= limit.clone() * x.0.clone().max_of(y.0.clone())
            })
    };
    let (warm_usable, cold_usable) = (usable(warm), usable(cold));
    let resolved =
        warm_usable && cold_usable && same_masses(warm.0, cold.0) && same_masses(warm.1, cold.1);
    if !warm_usable {
        return CrossingCheck {
            shift: None,
            resolved,
        };
    }
    let delta = |(l, h): (&Solution<T>, &Solution<T>)| h.objective.clone() - &l.objective;
    let objective_at = |s: &Solution<T>, b: &T| {
        let q = crate::bottleneck::Quantities::of(p, &s.q_t_given_x);
        method.objective(p, b, &s.q_t_given_x, &q)
    };
    let h = beta.clone();
    let shifted = beta.clone() + &h;
    let slope = ((objective_at(warm.1, &shifted) - objective_at(warm.1, beta))
        - (objective_at(warm.0, &shifted) - objective_at(warm.0, beta)))
        / &h;
    // Rounding: an objective summed over n = |X|·|T| terms carries an error of about
    // sqrt(n)·epsilon·max(1, |L|) (a random walk of roundings), which no solve removes.
    let terms = T::from_u64((p.nx() * warm.1.q_t_given_x.ncols()) as u64);
    let scale = warm
        .1
        .objective
        .abs()
        .max_of(warm.0.objective.abs())
        .max_of(T::one());
    let rounding = terms.sqrt() * T::epsilon() * scale;
    let moved = if cold_usable {
        (delta(warm) - delta(cold)).abs()
    } else {
        T::zero()
    };
    let shift = moved.max_of(rounding) / (beta.clone() * slope.abs());
    CrossingCheck {
        shift: (slope.is_finite() && !slope.is_zero() && shift.is_finite()).then_some(shift),
        resolved,
    }
}

/// The converged solutions of one branch within a located window, as starting points:
/// the bracket end's state and the last [`BRANCH_MEMORY`] solutions that kept its
/// clusters.
struct Branch<T> {
    /// (β, encoder): the bracket end first, then the remembered solutions, oldest first.
    solved: std::sync::Mutex<Vec<(T, DMatrix<T>)>>,
    /// Distinct clusters (and columns) of the branch.
    clusters: usize,
}

/// How many recent solutions a [`Branch`] keeps besides its bracket end (a bisection's
/// next query is nearest to its latest ones).
const BRANCH_MEMORY: usize = 8;

impl<T: Real> Branch<T> {
    /// The branch through `state`, solved at `beta`, one column per distinct cluster.
    fn new(beta: &T, state: DMatrix<T>) -> Self {
        let clusters = state.ncols();
        Branch {
            solved: std::sync::Mutex::new(vec![(beta.clone(), state)]),
            clusters,
        }
    }

    /// The encoder solved at the β nearest to `beta` in log β (the earliest on ties).
    fn start(&self, beta: &T) -> DMatrix<T> {
        let solved = self.solved.lock().expect("branch cache");
        let distance = |b: &T| (beta.clone() / b).ln().abs();
        let mut best = &solved[0];
        for entry in solved.iter().skip(1) {
            if distance(&entry.0) < distance(&best.0) {
                best = entry;
            }
        }
        best.1.clone()
    }

    /// Keeps `s` as a starting point if it converged with the branch's clusters, one per
    /// column.
    fn remember(&self, s: &Solution<T>) {
        if s.termination == Termination::Converged
            && s.clusters.len() == self.clusters
            && s.q_t_given_x.ncols() == self.clusters
        {
            let mut solved = self.solved.lock().expect("branch cache");
            if solved.len() > BRANCH_MEMORY {
                solved.remove(1);
            }
            solved.push((s.beta.clone(), s.q_t_given_x.clone()));
        }
    }
}

/// The root of a continuous g on [lo, hi] with g(lo) < 0 <= g(hi), by the Illinois
/// variant of regula falsi (Dowell & Jarratt 1971, BIT 11:168): superlinear for smooth g,
/// where bisection needs one evaluation per bit. Once the estimate c moves by at most a
/// quarter of the tolerance, the answer is certified by the signs of g at c(1 ∓ tol/2),
/// so the returned relative width is an honest bracket, as in [`bisect`]. `None` (the
/// caller then bisects on the sign) if g is undefined on the way, the bracket does not
/// hold at the start, or the certificate fails; `Some((c, width))` otherwise.
fn illinois<T: Real>(lo: &T, hi: &T, rel_tol: &T, g: impl Fn(&T) -> Option<T>) -> Option<(T, T)> {
    let (mut a, mut b) = (lo.clone(), hi.clone());
    let (mut ga, mut gb) = (g(&a)?, g(&b)?);
    if !(ga < T::zero() && gb >= T::zero()) {
        return None;
    }
    let half = T::from_f64(0.5);
    let quarter_tol = rel_tol.clone() * T::from_f64(0.25);
    // +1: the last iterate replaced a; -1: it replaced b.
    let mut side = 0i8;
    let mut previous: Option<T> = None;
    let mut estimate = None;
    for _ in 0..100 {
        let width = b.clone() - a.clone();
        let mut c = b.clone() - gb.clone() * &width / (gb.clone() - &ga);
        if !(c > a && c < b) {
            c = (a.clone() + &b) * &half;
        }
        let gc = g(&c)?;
        if previous
            .as_ref()
            .is_some_and(|p| (c.clone() - p).abs() <= quarter_tol.clone() * &c)
            || gc.is_zero()
        {
            estimate = Some(c);
            break;
        }
        previous = Some(c.clone());
        if gc < T::zero() {
            (a, ga) = (c, gc);
            if side == 1 {
                gb *= &half;
            }
            side = 1;
        } else {
            (b, gb) = (c, gc);
            if side == -1 {
                ga *= &half;
            }
            side = -1;
        }
    }
    let c = estimate?;
    let below = c.clone() - rel_tol.clone() * &c * &half;
    let above = c.clone() + rel_tol.clone() * &c * &half;
    (g(&below)? < T::zero() && g(&above)? >= T::zero()).then(|| {
        let width = (above.clone() - &below) / above;
        (c, width)
    })
}

/// Bisection in log β for the smallest β in [lo, hi] where `above` holds, assuming it
/// fails at lo and holds at hi; returns the midpoint of the final bracket and its
/// relative width. Stops at `rel_tol` or after 200 halvings.
fn bisect<T: Real>(lo: &T, hi: &T, rel_tol: &T, above: impl Fn(&T) -> bool) -> (T, T) {
    let (mid, width, _) = bisect_partial(lo, hi, rel_tol, |b| Some(above(b)));
    (mid, width)
}

/// [`bisect`] with a test that may have no answer (`None`): the bisection then stops
/// there and returns the bracket reached, with `false` (`true` when it reached `rel_tol`
/// or 200 halvings).
fn bisect_partial<T: Real>(
    lo: &T,
    hi: &T,
    rel_tol: &T,
    above: impl Fn(&T) -> Option<bool>,
) -> (T, T, bool) {
    let (mut a, mut b) = (lo.clone(), hi.clone());
    let mut complete = true;
    for _ in 0..200 {
        if (b.clone() - a.clone()) / b.clone() <= *rel_tol {
            break;
        }
        let m = geometric_mid(&a, &b);
        match above(&m) {
            Some(true) => b = m,
            Some(false) => a = m,
            None => {
                complete = false;
                break;
            }
        }
    }
    let width = (b.clone() - a.clone()) / b.clone();
    ((a + b) / T::from_f64(2.0), width, complete)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bisection_brackets_the_first_beta_where_the_test_holds() {
        // The root 2 of β ≥ 2 on [1, 4], to 1e-12 relative: the final bracket holds it.
        let (mid, width) = bisect(&1.0, &4.0, &1e-12, |b: &f64| *b >= 2.0);
        assert!(width <= 1e-12, "{width}");
        assert!((mid - 2.0).abs() <= width * 2.0, "{mid}");
    }

    #[test]
    fn a_test_without_answer_ends_the_bisection_at_the_bracket_reached() {
        // The first midpoint of [1, 4] in log β is 2 (the test holds: bracket [1, 2]); the
        // second, sqrt(2), has no answer, so the bracket [1, 2] is returned, unfinished.
        let (mid, width, complete) = bisect_partial(&1.0, &4.0, &1e-12, |b: &f64| {
            (*b >= 1.5).then_some(*b >= 1.75)
        });
        assert!(!complete);
        assert_eq!((mid, width), (1.5, 0.5));
        // Answered everywhere, it finishes.
        let (_, width, complete) = bisect_partial(&1.0, &4.0, &1e-12, |b: &f64| Some(*b >= 3.0));
        assert!(complete && width <= 1e-12);
    }
}
