//! Continuation in β: the whole IB (or dual-IB) curve, its branches and its
//! bifurcations.
//!
//! * [`Direction::Up`]: forward deterministic annealing from the trivial solution. At each
//!   β every live cluster that may be unstable (β times a cheap upper bound on its split
//!   eigenvalue ≥ 1) is duplicated into two copies of half its mass with a small
//!   deterministic relative nudge (1e-3), the iteration runs, and clusters whose decoders
//!   coincide are merged again; a split shows up as copies that stay apart (spec ib §3.3,
//!   pitfall 4: a copy for *every* cluster that can split is what lets the right one
//!   split).
//! * [`Direction::Down`]: reverse annealing from the identity encoder T = X at the largest
//!   β, warm-starting each β from the previous solution; clusters only merge.
//! * [`Direction::Independent`]: every β solved on its own from the identity, the single
//!   cluster, the maximal-correlation split ([`max_correlation_split`]) and
//!   [`AnnealOptions::restarts`] seeded random starts (the best one kept), in parallel
//!   with rayon.
//!
//! In every direction a point with support-frozen clusters (the IB on zeros of p(y|x): a
//! decoder zero where p(y) > 0) is freed by [`escape_support_trap`] before the sweep goes
//! on from it.
//!
//! With `adaptive`, the grid is refined (geometric midpoints) wherever the number of
//! distinct clusters changes or I(X;T) or I(T;Y) jump by more than 5% of H(X) or I(X;Y)
//! between neighbours, down to a β ratio of 1 + 1e-3 (the bifurcations are then located
//! precisely by [`locate`]). Each run is sequential and the parallel mode keeps the input
//! order, so results do not depend on the number of threads.

use std::collections::VecDeque;
use std::sync::OnceLock;

use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::bifurcation::{
    dual_nucleation_constant, dual_split_eigenvalues, ib_split_eigenvalues, sdpi_constant,
    split_eigenvalue_bounds, Supremum, SupremumMethod,
};
use crate::bottleneck::{cluster_marginal, Bottleneck, Decoder};
pub use crate::branches::envelope;
use crate::dist::Joint;
use crate::info::{h_x, mutual_information};
use crate::scalar::Real;
pub use crate::solve::merged_encoder;
use crate::solve::{
    escape_support_trap, keep_lower, max_correlation_split, normalize_rows, solve, Acceleration,
    Init, MergeTol, Solution, Stop, Termination,
};

/// Which way the continuation runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Increasing β from the trivial solution, duplicating clusters.
    Up,
    /// Decreasing β from T = X.
    Down,
    /// Each β on its own.
    Independent,
}

impl Direction {
    /// `up`, `down` or `independent`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Independent => "independent",
        }
    }
}

/// Settings of a sweep.
#[derive(Clone, Debug)]
pub struct AnnealOptions<T> {
    /// Stopping rule of every solve.
    pub stop: Stop<T>,
    /// Cluster counting.
    pub merge: MergeTol<T>,
    /// Refine the grid where the curve jumps or the cluster count changes.
    pub adaptive: bool,
    /// Largest number of points of a path (adaptive refinement stops there).
    pub max_points: usize,
    /// At most this many changes of the cluster count are located by [`locate`], lowest β
    /// first (the path brackets whose cumulative count change, counted from the lowest β,
    /// is at most this); the brackets beyond are reported as [`Kind::Unlocated`]. `None`:
    /// every change is located. Each location costs tens of solves near a critical point,
    /// and a 256-letter X can have 255 changes (hours of work).
    pub max_located: Option<usize>,
    /// Random starts per β in the independent mode, besides the identity and the single
    /// cluster: [`Init::Random`] encoders with |T| = |X| columns and seeds `seed`,
    /// `seed + 1`, ... (the same seeds at every β, so results do not depend on the order
    /// or the threads). The fixed starts can stop at a saddle or a metastable branch
    /// where a random start finds the better one: over 300 random 2-to-5-letter joints,
    /// three random starts cut the independent mode's points more than 1e-3 nats above the
    /// best known objective from 98 (the fixed starts: identity, single cluster,
    /// maximal-correlation split) to 46 (IB), and its misses from 251 to 212 (dual IB
    /// without label noise).
    /// Each costs about what the identity start costs, or more on large smooth joints
    /// (256x32 Dirichlet: 1.06 s without random starts, 7.1 s with 3).
    pub restarts: usize,
    /// Seed of the first random start.
    pub seed: u64,
}

/// Random starts per β of the independent mode by default ([`AnnealOptions::new`], the
/// CLI's `--restarts`).
pub const DEFAULT_RESTARTS: usize = 3;

impl<T: Real> AnnealOptions<T> {
    /// The defaults around a stopping rule: cluster counting from `stop`
    /// ([`MergeTol::for_stop`]), a fixed grid (no refinement), at most 400 points, every
    /// change of the cluster count located, [`DEFAULT_RESTARTS`] random starts per β in
    /// the independent mode from seed 0.
    pub fn new(stop: Stop<T>) -> Self {
        AnnealOptions {
            merge: MergeTol::for_stop(&stop),
            stop,
            adaptive: false,
            max_points: 400,
            max_located: None,
            restarts: DEFAULT_RESTARTS,
            seed: 0,
        }
    }
}

/// A solved path: solutions in increasing β.
#[derive(Clone, Debug)]
pub struct Path<T: Real> {
    /// How it was computed.
    pub direction: Direction,
    /// The solutions, increasing in β.
    pub points: Vec<Solution<T>>,
}

/// Appends a copy of every selected column (`selected[t]`, one flag per column of `enc`):
/// the two copies share the column's mass with a deterministic relative nudge
/// ±1e-3·s(x), s(x) in [−1, 1] pseudo-random. Returns the widened encoder and the pairs
/// (column, its copy).
fn duplicate<T: Real>(enc: &DMatrix<T>, selected: &[bool]) -> (DMatrix<T>, Vec<(usize, usize)>) {
    let (nx, k) = enc.shape();
    let chosen: Vec<usize> = (0..k).filter(|&t| selected[t]).collect();
    let pairs: Vec<(usize, usize)> = chosen
        .iter()
        .enumerate()
        .map(|(i, &t)| (t, k + i))
        .collect();
    let mut out = enc.clone().resize_horizontally(k + chosen.len(), T::zero());
    let half = T::from_f64(0.5);
    for &(t, f) in &pairs {
        for x in 0..nx {
            let s =
                ((x as u64 * 2_654_435_761 + t as u64 * 40_503 + 17) % 2001) as f64 / 1000.0 - 1.0;
            let nudge = T::from_f64(1e-3 * s);
            let v = enc[(x, t)].clone() * &half;
            out[(x, t)] = v.clone() * (T::one() + nudge.clone());
            out[(x, f)] = v * (T::one() - nudge);
        }
    }
    (out, pairs)
}

/// Solves from `start`, merging coinciding clusters as the iteration goes: the run is cut
/// into chunks of map evaluations (32, doubling after every chunk that merged nothing),
/// and after each unconverged chunk the columns are merged by [`merged_encoder`] wherever
/// the distinct clusters (decoders within `MergeTol::decoder`, masses above
/// `MergeTol::mass`) are fewer than the columns, and vanishing light clusters
/// (`vanishing_columns` in the source) are removed. Used where clusters only merge (the down
/// sweep, starts from T = X, and both branches of a window in [`locate`]): merging two
/// clusters whose decoders agree within the tolerance is what the final count does
/// anyway, and it removes their slowly contracting difference from the iteration and
/// their columns from every step. The result reports the total evaluations; the
/// iteration cap is the whole run's. The chunks are driven by
/// `options.stop.acceleration.for_merging()` (Anderson for
/// [`Acceleration::Auto`]).
pub fn solve_merging<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    start: DMatrix<T>,
    options: &AnnealOptions<T>,
) -> Solution<T> {
    let mut state = start;
    let mut used = 0usize;
    let mut chunk = 32usize;
    loop {
        let remaining = options.stop.max_iter.saturating_sub(used);
        let stop = Stop {
            max_iter: chunk.min(remaining).max(1),
            acceleration: options.stop.acceleration.for_merging(),
            ..options.stop.clone()
        };
        let start_mass = cluster_marginal(p, &state);
        let mut s = solve(method, p, beta, state, &stop, &options.merge, &mut ());
        used += s.iterations;
        s.iterations = used;
        let distinct = s.clusters.len().max(1);
        let finished = s.termination != Termination::MaxIter || used >= options.stop.max_iter;
        if s.termination == Termination::Converged && distinct == s.q_t_given_x.ncols() {
            used += 1;
            // A converged point may still hold remnants: resolve them and polish.
            if let Some(settled) = settle(method, p, beta, &s.q_t_given_x, &options.stop.tol) {
                s.iterations = used;
                if used >= options.stop.max_iter {
                    return s;
                }
                state = settled;
                continue;
            }
            s.iterations = used;
        }
        if finished
            && (distinct == s.q_t_given_x.ncols() || s.termination != Termination::Converged)
        {
            return s;
        }
        // Vanishing clusters are removed at the same time as coinciding ones merge: on the
        // 256x32 benchmark joint going down, every chunk near a transition merges some
        // pair, and a light cluster decaying geometrically alongside was left to die
        // slowly, chunk after chunk.
        let vanishing = vanishing_columns(
            method,
            p,
            beta,
            &start_mass,
            &s,
            &options.stop.tol,
            &mut used,
        );
        let pruned = vanishing.as_ref().and_then(|v| merged_without(&s, v));
        if let Some(pruned) = pruned {
            state = pruned;
        } else if distinct < s.q_t_given_x.ncols() {
            // Also after convergence: the merged encoder is polished by the next chunk
            // (a step or two), so the result has one column per distinct cluster.
            state = merged_encoder(&s, distinct);
        } else {
            state = s.q_t_given_x;
            chunk = chunk.saturating_mul(2);
        }
    }
}

/// Which columns of `end` are vanishing light clusters, or `None` if none is. Only
/// once the iteration has nearly settled (the chunk that ended in `end` moved q(t|x) by at
/// most sqrt(tol) in its last step); then a cluster t is vanishing when it is light,
/// q(t) < sqrt(tol), and shrinking, both over the chunk (q_end(t) < (1 − sqrt(tol))
/// q_start(t)) and under one more plain step (q'(t) < (1 − tol) q_end(t)); that step is
/// counted in `evaluations`.
///
/// A light cluster barely changes the others, so its mass evolves as q'(t) = c·q(t),
/// with c = Σ_x p(x) e^{−β d(x,t)} / Z(x) the growth factor of spec ib §3.1; c < 1 means
/// it dies out, but only geometrically: at c = 1 − 2e-5 (the discretised Gaussian near
/// β = 4) that takes 10^6 steps, during which every step moves q(t|x) by more than tol, so
/// the iteration does not converge. Its limit is the fixed point without the cluster,
/// which removing it reaches at once.
fn vanishing_columns<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    start_mass: &[T],
    end: &Solution<T>,
    tol: &T,
    evaluations: &mut usize,
) -> Option<Vec<bool>> {
    let q = &end.q_t_given_x;
    let k = q.ncols();
    if k < 2 || start_mass.len() != k || end.residual > tol.sqrt() {
        return None;
    }
    let next = method.step(p, beta, q);
    *evaluations += 1;
    if next.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let (m0, m1, m2) = (
        start_mass,
        cluster_marginal(p, q),
        cluster_marginal(p, &next),
    );
    let light = tol.sqrt();
    let over_chunk = T::one() - tol.sqrt();
    let at_end = T::one() - tol;
    let vanishing: Vec<bool> = (0..k)
        .map(|t| {
            m1[t] > T::zero()
                && m1[t] < light
                && m1[t] < m0[t].clone() * &over_chunk
                && m2[t] < m1[t].clone() * &at_end
        })
        .collect();
    let kept = vanishing.iter().filter(|&&v| !v).count();
    if kept == k || kept == 0 {
        return None;
    }
    Some(vanishing)
}

/// The encoder with one column per distinct cluster of `s` (members' columns summed, as
/// [`merged_encoder`]), leaving out the `vanishing` columns, rows renormalised; `None` if a
/// row would be left empty.
fn merged_without<T: Real>(s: &Solution<T>, vanishing: &[bool]) -> Option<DMatrix<T>> {
    let q = &s.q_t_given_x;
    let nx = q.nrows();
    let groups: Vec<Vec<usize>> = s
        .clusters
        .iter()
        .map(|(_, members)| members.iter().copied().filter(|&t| !vanishing[t]).collect())
        .filter(|members: &Vec<usize>| !members.is_empty())
        .collect();
    if groups.is_empty() {
        return None;
    }
    rows_renormalized(DMatrix::from_fn(nx, groups.len(), |x, c| {
        groups[c].iter().fold(T::zero(), |acc, &t| acc + &q[(x, t)])
    }))
}

/// `m` with every row divided by its sum ([`normalize_rows`]); `None` if a row sums to
/// zero (a row whose clusters were all removed).
fn rows_renormalized<T: Real>(mut m: DMatrix<T>) -> Option<DMatrix<T>> {
    let empty_row = (0..m.nrows()).any(|x| m.row(x).iter().all(|v| v.is_zero()));
    if empty_row {
        return None;
    }
    normalize_rows(&mut m);
    Some(m)
}

/// The encoder with its unsettled clusters resolved, or `None` if it has none, judged by
/// one plain step of the map q → q' from a converged encoder:
///
/// * a vanishing cluster, whose mass shrinks: q'(t) < (1 − sqrt(tol)) q(t), is removed
///   (the rest of each row renormalised);
/// * two coalescing clusters, whose decoders move together:
///   max_y |q'(y|t) − q'(y|u)| < (1 − sqrt(tol)) max_y |q(y|t) − q(y|u)|, are merged
///   (their columns summed).
///
/// At a fixed point masses and decoders stay put. Below its nucleation threshold a cluster
/// instead decays geometrically, q'(t) = c q(t) with the growth factor c < 1 of spec ib
/// §3.1, and below a split two clusters approach each other at the rate β λ_2 < 1
/// (spec ib §3.2); both reach the fixed point only in the limit. The stopping test bounds
/// |q'(t|x) − q(t|x)| by `tol`, not relatively, so near a transition (rate close to 1) a
/// remnant of mass 1e-9, or a pair whose decoders still differ by more than the merging
/// tolerance, passes it; counted as clusters they would shift the located change. A settled
/// cluster at a converged point moves by O(tol), far below the sqrt(tol) relative margin.
fn settle<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    q_t_given_x: &DMatrix<T>,
    tol: &T,
) -> Option<DMatrix<T>> {
    let (nx, k) = q_t_given_x.shape();
    if k < 2 {
        return None;
    }
    let next = method.step(p, beta, q_t_given_x);
    if next.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let (mass, mass_next) = (cluster_marginal(p, q_t_given_x), cluster_marginal(p, &next));
    let limit = T::one() - tol.sqrt();
    let vanishing: Vec<bool> = (0..k)
        .map(|t| mass[t] > T::zero() && mass_next[t] < mass[t].clone() * &limit)
        .collect();
    let (dec, dec_next) = (
        method.decoder(p, q_t_given_x, &mass),
        method.decoder(p, &next, &mass_next),
    );
    // Groups of coalescing clusters (union-find over the pairs), vanishing ones left out.
    let mut group: Vec<usize> = (0..k).collect();
    fn root(group: &mut [usize], t: usize) -> usize {
        let mut r = t;
        while group[r] != r {
            r = group[r];
        }
        group[t] = r;
        r
    }
    let alive = |t: usize| !vanishing[t] && dec.live()[t] && dec_next.live()[t];
    let (by_cluster, by_cluster_next) = (decoders_by_column(&dec), decoders_by_column(&dec_next));
    // How far each decoder moved in the step: the pair distance changes by at most
    // moved[t] + moved[u], so a pair whose distance d has d·sqrt(tol) > moved[t] + moved[u]
    // cannot have come closer by the factor `limit`, and its distance need not be finished
    // (a factor 2 covers rounding). At a converged point that skips nearly every pair after
    // one or two outcomes y: the pair loop over 256 clusters took 13% of a 256x32 down
    // sweep.
    let moved: Vec<T> = (0..k)
        .map(|t| {
            column_distance(&by_cluster, t, &by_cluster_next, t, &T::infinity())
                .unwrap_or_else(T::infinity)
        })
        .collect();
    let reach = T::from_f64(2.0) / tol.sqrt();
    for t in (0..k).filter(|&t| alive(t)) {
        for u in (t + 1..k).filter(|&u| alive(u)) {
            let cutoff = (moved[t].clone() + &moved[u]) * &reach;
            let Some(distance) = column_distance(&by_cluster, t, &by_cluster, u, &cutoff) else {
                continue;
            };
            if decoder_distance(&by_cluster_next, t, u) < distance * &limit {
                let (a, b) = (root(&mut group, t), root(&mut group, u));
                group[b.max(a)] = a.min(b);
            }
        }
    }
    let roots: Vec<usize> = (0..k)
        .filter(|&t| !vanishing[t] && root(&mut group, t) == t)
        .collect();
    if roots.len() == k || roots.is_empty() {
        return None;
    }
    let mut out = DMatrix::from_element(nx, roots.len(), T::zero());
    for t in (0..k).filter(|&t| !vanishing[t]) {
        let c = roots
            .iter()
            .position(|&r| r == root(&mut group, t))
            .expect("every kept cluster has a root");
        for x in 0..nx {
            out[(x, c)] += &q_t_given_x[(x, t)];
        }
    }
    rows_renormalized(out)
}

/// The state a continuation carries on from a solution: one column per distinct cluster
/// (merged duplicates, no empty columns), so that a step costs O(|X||Y| live) rather than
/// O(|X||Y||X|).
fn branch_state<T: Real>(s: &Solution<T>) -> DMatrix<T> {
    merged_encoder(s, s.clusters.len().max(1))
}

/// [`escape_support_trap`] for a sweep: the freed start is solved by [`solve_merging`].
fn escape_in_sweep<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    s: Solution<T>,
    options: &AnnealOptions<T>,
) -> Solution<T> {
    escape_support_trap(method, p, s, &options.stop.tol, |start| {
        solve_merging(method, p, beta, start, options)
    })
}

/// [`solve_merging`] from `start`, then freed from support traps ([`escape_in_sweep`]).
fn solve_merging_freed<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    start: DMatrix<T>,
    options: &AnnealOptions<T>,
) -> Solution<T> {
    let s = solve_merging(method, p, beta, start, options);
    escape_in_sweep(method, p, beta, s, options)
}

/// One step of the down sweep: [`solve_merging_freed`] from the previous point's state.
/// When that collapses a branch of two or more clusters to a single cluster (the trivial
/// solution) and the solve was Anderson-accelerated, the same start is solved again with
/// SQUAREM, and its result kept if its objective is lower by more than
/// tol · max(1, |L|) ([`keep_lower`]; its evaluations are counted either way). Anderson's extrapolation
/// can jump from a weakly first-order branch into the trivial solution's basin while the
/// branch still exists: on a 4x3 joint (`tests/anneal.rs`) at β = 1.20999, between
/// 1/s* = 1.20961 and 1/ρ_m² = 1.21100, Anderson from the down state at β = 1.21111 ends
/// at L = 0, while plain iteration and SQUAREM stay on the branch, L = −5.26e-7, and the
/// down path then missed the first-order onset. Only the collapse to one cluster is
/// checked: it happens once per down sweep, so the check costs one extra solve with few
/// columns.
fn down_step<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    state: &DMatrix<T>,
    options: &AnnealOptions<T>,
) -> Solution<T> {
    let s = solve_merging_freed(method, p, beta, state.clone(), options);
    let collapsed = s.clusters.len() == 1 && state.ncols() >= 2;
    if !collapsed || options.stop.acceleration.for_merging() != Acceleration::Anderson {
        return s;
    }
    let squarem = AnnealOptions {
        stop: options
            .stop
            .clone()
            .with_acceleration(Acceleration::Squarem),
        ..options.clone()
    };
    let other = solve_merging_freed(method, p, beta, state.clone(), &squarem);
    keep_lower(s, other, &options.stop.tol).0
}

/// One β of an independent sweep: from T = X (clusters only merge, so that start merges as
/// it goes, [`solve_merging`]), from the single cluster (a fixed point, one step), from the
/// maximal-correlation split ([`max_correlation_split`]) and from `options.restarts` random
/// encoders with |X| columns (merging too); the lowest objective wins, the earliest start
/// (identity, single, split, random in seed order) on ties.
fn solve_independent<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    options: &AnnealOptions<T>,
) -> Solution<T> {
    let nx = p.nx();
    let identity = Init::<T>::Identity.encoder(nx, nx).expect("identity start");
    let mut best = solve_merging_freed(method, p, beta, identity, options);
    let mut keep_better = |s: Solution<T>| {
        // Strictly lower (ties keep the earlier start); a finite objective beats NaN.
        if s.objective < best.objective || (best.objective.is_nan() && !s.objective.is_nan()) {
            best = s;
        }
    };
    let single = Init::<T>::SingleCluster
        .encoder(nx, 1)
        .expect("single start");
    keep_better(solve(
        method,
        p,
        beta,
        single,
        &options.stop,
        &options.merge,
        &mut (),
    ));
    if let Some(split) = max_correlation_split(p, 2) {
        keep_better(solve_merging_freed(method, p, beta, split, options));
    }
    for k in 0..options.restarts as u64 {
        let random = Init::<T>::Random {
            seed: options.seed.wrapping_add(k),
        }
        .encoder(nx, nx)
        .expect("random start");
        keep_better(solve_merging_freed(method, p, beta, random, options));
    }
    best
}

/// One step of a sweep in `direction`: the solution at `beta` continued from `state` (a
/// [`branch_state`] of the neighbouring point the sweep came from). Going up, clusters
/// split ([`solve_splitting`]); going down, they only merge ([`solve_merging`]); the
/// independent mode ignores `state` ([`solve_independent`]). Up and down, the point is
/// freed from support traps ([`escape_in_sweep`]) before it is returned.
fn continue_branch<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    state: &DMatrix<T>,
    direction: Direction,
    options: &AnnealOptions<T>,
) -> Solution<T> {
    match direction {
        Direction::Up => {
            let s = solve_splitting(method, p, beta, state, options);
            escape_in_sweep(method, p, beta, s, options)
        }
        Direction::Down => down_step(method, p, beta, state, options),
        Direction::Independent => solve_independent(method, p, beta, options),
    }
}

/// The decoders q(y|t) as columns (one per cluster t), so that each is contiguous in
/// memory for [`decoder_distance`] (the decoder's rows are strided: the pair loop of
/// [`settle`] over all pairs of 256 clusters took 13% of a 256x32 down sweep).
fn decoders_by_column<T: Real>(dec: &Decoder<T>) -> DMatrix<T> {
    dec.q_y_given_t().transpose()
}

/// max_y |a[(y, t)] − b[(y, u)]|, the distance between column t of `a` and column u of
/// `b`, if it is below `cutoff`; `None` as soon as one y shows that it is not.
fn column_distance<T: Real>(
    a: &DMatrix<T>,
    t: usize,
    b: &DMatrix<T>,
    u: usize,
    cutoff: &T,
) -> Option<T> {
    let mut distance = T::zero();
    for (x, y) in a.column(t).iter().zip(b.column(u).iter()) {
        distance = distance.max_of((x.clone() - y).abs());
        if distance >= *cutoff {
            return None;
        }
    }
    Some(distance)
}

/// max_y |q(y|t) − q(y|u)|: how far apart the decoders of clusters t and u are, from the
/// decoders as columns ([`decoders_by_column`]).
fn decoder_distance<T: Real>(by_column: &DMatrix<T>, t: usize, u: usize) -> T {
    column_distance(by_column, t, by_column, u, &T::infinity()).unwrap_or_else(T::infinity)
}

/// The largest difference max_y |q(y|t) − q(y|u)| of the decoders of each pair (t, u) of
/// columns of `q` (+inf where either is dead).
fn pair_distances<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    q: &DMatrix<T>,
    pairs: &[(usize, usize)],
) -> Vec<T> {
    let dec = method.decoder(p, q, &cluster_marginal(p, q));
    let by_cluster = decoders_by_column(&dec);
    pairs
        .iter()
        .map(|&(t, u)| {
            if !(dec.live()[t] && dec.live()[u]) {
                return T::infinity();
            }
            decoder_distance(&by_cluster, t, u)
        })
        .collect()
}

/// How many map evaluations an intermediate round of [`solve_splitting`] runs before the
/// twins are judged.
const SPLIT_ROUND: usize = 24;

/// How far (relative to where they started) twins must have moved apart before an
/// intermediate round of [`solve_splitting`] counts them as split.
const SPLIT_TAKEOFF: f64 = 3.0;

/// Solves from `state` (one column per cluster) going up in β: every cluster that may be
/// unstable at β gets a copy ([`duplicate`]; spec ib pitfall 4: a cluster without one
/// cannot split), and the copies of a cluster that is unstable move apart while the others
/// fall back together. "May be unstable" is β·bound ≥ 1 for a cheap upper bound on the
/// split eigenvalue ([`splittable`]); a cluster below it is linearly stable and would only
/// carry a copy that falls back.
///
/// A cluster that split may split again at the same β (a coarse grid crosses several
/// transitions at once), so the iteration goes in rounds of [`SPLIT_ROUND`] evaluations.
/// After a round, twins whose decoders moved apart to [`SPLIT_TAKEOFF`] times their
/// distance at birth (and beyond the merging tolerance) count as split and are twins no
/// more; then every column without a twin that may be unstable gets a copy of its own
/// (the halves of a split, and clusters that the others' moves made unstable); all other
/// columns carry on as they are. When a round sees no split, the iteration runs to
/// convergence (the rounds go on if twins take off meanwhile, or a cluster without a twin
/// still may be unstable); otherwise that fixed point is the result, its coinciding twins
/// merged as in every count of clusters. Twins that converged apart without taking off
/// are distinct clusters of the result (a split of small amplitude just above its
/// threshold, or twins on a neutral direction), but their halves get no copies: on a
/// continuum of fixed points (at β = 1 on a joint with Y = X every encoder is one, and
/// just above it the twins move apart by a factor 1 + 1e-7 per step) the residual test
/// passes with the twins still where they were born, and copying the halves of such
/// twins again and again doubled the columns without end.
///
/// Why a takeoff of threefold and not merely "moving apart": the halves of a split in
/// its linear regime (near a threshold, where twins move apart by a factor β·λ_2 ≈ 1 per
/// step) are as unstable as the cluster they came from, so their own copies move apart
/// too. Counted at once, every generation of copies would split again, without end (on
/// the 3x3 example at β 0.4% above a split: 120,000 columns after 32 rounds). Each
/// generation must now grow threefold along a mode whose whole growth, from the nudge
/// (decoder distances of about 1e-4) to a finite split (about 0.1), is bounded, so there
/// are about six generations at most. (Tenfold took 2.5 times the evaluations on the
/// 256x32 benchmark sweep: splits that have taken off wait longer for their copies.) The
/// result reports the total evaluations; the iteration cap is the whole run's.
fn solve_splitting<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    state: &DMatrix<T>,
    options: &AnnealOptions<T>,
) -> Solution<T> {
    let mut used = 0usize;
    let (mut current, mut pairs) = duplicate(state, &splittable(method, p, beta, state, &[]));
    // Each pair's decoder distance when its copy was made.
    let mut born = pair_distances(method, p, &current, &pairs);
    let mut converging = false;
    let takeoff = T::from_f64(SPLIT_TAKEOFF);
    loop {
        let remaining = options.stop.max_iter.saturating_sub(used);
        let max_iter = if converging {
            remaining
        } else {
            SPLIT_ROUND.min(remaining)
        };
        let stop = Stop {
            max_iter: max_iter.max(1),
            ..options.stop.clone()
        };
        let mut s = solve(method, p, beta, current, &stop, &options.merge, &mut ());
        used += s.iterations;
        s.iterations = used;
        if s.termination == Termination::NonFinite || used >= options.stop.max_iter {
            return s;
        }
        let now = pair_distances(method, p, &s.q_t_given_x, &pairs);
        let split: Vec<bool> = now
            .iter()
            .zip(&born)
            .map(|(d, d0)| d.is_finite() && *d > options.merge.decoder && *d > takeoff.clone() * d0)
            .collect();
        // Twins that split are twins no more; every column without a twin that may
        // split gets a copy (the halves of a split, and clusters that became unstable).
        let (mut kept, mut kept_born) = (Vec::new(), Vec::new());
        for ((&(t, u), d0), &moved) in pairs.iter().zip(&born).zip(&split) {
            if !moved {
                kept.push((t, u));
                kept_born.push(d0.clone());
            }
        }
        let selected = splittable(method, p, beta, &s.q_t_given_x, &kept);
        let any_new = selected.contains(&true);
        if converging && s.termination == Termination::Converged && !any_new {
            return s;
        }
        let (next, new_pairs) = duplicate(&s.q_t_given_x, &selected);
        kept_born.extend(pair_distances(method, p, &next, &new_pairs));
        kept.extend(new_pairs);
        current = next;
        pairs = kept;
        born = kept_born;
        converging = !split.contains(&true);
    }
}

/// Which columns of `q` [`solve_splitting`] gives a copy: live columns that are in none of
/// `pairs` and may be unstable at β, β·bound ≥ 1 for the method's cheap bound on the split
/// eigenvalue ([`split_eigenvalue_bounds`]; every live unpaired column for a method
/// without one). A cluster with β·bound < 1 is linearly stable (β·λ_2 < 1): its copy would
/// only fall back onto it, slowly near the threshold, and cost a column in every step
/// (at β ≥ 33 on the 256x32 benchmark joint every one of the 256 single-x clusters is
/// stable, and copies doubled the width of each step).
fn splittable<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    q: &DMatrix<T>,
    pairs: &[(usize, usize)],
) -> Vec<bool> {
    let k = q.ncols();
    let mut paired = vec![false; k];
    for &(t, u) in pairs {
        paired[t] = true;
        paired[u] = true;
    }
    let mass = cluster_marginal(p, q);
    let candidates: Vec<usize> = (0..k)
        .filter(|&t| !paired[t] && mass[t] > T::zero())
        .collect();
    let mut selected = vec![false; k];
    if candidates.is_empty() {
        return selected;
    }
    // Each column's bound depends on that column alone: only the candidates' are computed.
    let columns = DMatrix::from_fn(q.nrows(), candidates.len(), |x, c| {
        q[(x, candidates[c])].clone()
    });
    let bounds = split_eigenvalue_bounds(method.name(), p, &columns);
    for (c, &t) in candidates.iter().enumerate() {
        selected[t] = bounds
            .as_ref()
            .is_none_or(|b| b[c].as_ref().is_some_and(|l| beta.clone() * l >= T::one()));
    }
    selected
}

/// Whether two neighbouring points are too far apart (see the module docs).
fn needs_refinement<T: Real>(a: &Solution<T>, b: &Solution<T>, h_x: &T, i_xy: &T) -> bool {
    let frac = T::from_f64(0.05);
    a.clusters.len() != b.clusters.len()
        || (a.i_xt.clone() - &b.i_xt).abs() > frac.clone() * h_x
        || (a.i_ty.clone() - &b.i_ty).abs() > frac * i_xy
}

fn far_enough<T: Real>(lo: &T, hi: &T) -> bool {
    hi.clone() / lo > T::from_f64(1.001)
}

fn geometric_mid<T: Real>(a: &T, b: &T) -> T {
    (a.clone() * b).sqrt()
}

/// Runs a sweep over `betas` (any order; positive) in `direction`, calling `progress` with
/// the number of points done.
///
/// # Panics
/// If `betas` is empty.
pub fn anneal<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    betas: &[T],
    direction: Direction,
    options: &AnnealOptions<T>,
    progress: &(dyn Fn(usize) + Sync),
) -> Path<T> {
    assert!(!betas.is_empty(), "at least one beta");
    let mut grid: Vec<T> = betas.to_vec();
    grid.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    grid.dedup();
    let (hx, ixy) = (h_x(p), mutual_information(p));
    let k = p.nx();
    let mut points = match direction {
        Direction::Independent => {
            let solve_at = |b: &T| solve_independent(method, p, b, options);
            let mut points: Vec<Solution<T>> = map_largest_beta_first(&grid, solve_at);
            progress(points.len());
            while options.adaptive && points.len() < options.max_points {
                let mids: Vec<T> = points
                    .windows(2)
                    .filter(|w| {
                        needs_refinement(&w[0], &w[1], &hx, &ixy)
                            && far_enough(&w[0].beta, &w[1].beta)
                    })
                    .map(|w| geometric_mid(&w[0].beta, &w[1].beta))
                    .take(options.max_points - points.len())
                    .collect();
                if mids.is_empty() {
                    break;
                }
                points.extend(map_largest_beta_first(&mids, solve_at));
                points.sort_by(|a, b| {
                    a.beta
                        .partial_cmp(&b.beta)
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
                progress(points.len());
            }
            points
        }
        Direction::Up | Direction::Down => {
            let up = direction == Direction::Up;
            let mut queue: VecDeque<T> = if up {
                grid.into_iter().collect()
            } else {
                grid.into_iter().rev().collect()
            };
            let mut state = if up {
                Init::<T>::SingleCluster
                    .encoder(p.nx(), 1)
                    .expect("single start")
            } else {
                Init::<T>::Identity
                    .encoder(p.nx(), k)
                    .expect("identity start")
            };
            let mut points: Vec<Solution<T>> = Vec::new();
            while let Some(b) = queue.pop_front() {
                let s = continue_branch(method, p, &b, &state, direction, options);
                if let Some(prev) = points.last() {
                    let (lo, hi) = if up {
                        (&prev.beta, &b)
                    } else {
                        (&b, &prev.beta)
                    };
                    // Refining adds one point: the midpoint (b, popped, goes back).
                    if options.adaptive
                        && points.len() + queue.len() + 1 < options.max_points
                        && needs_refinement(prev, &s, &hx, &ixy)
                        && far_enough(lo, hi)
                    {
                        queue.push_front(b.clone());
                        queue.push_front(geometric_mid(lo, hi));
                        continue;
                    }
                }
                state = branch_state(&s);
                points.push(s);
                progress(points.len());
            }
            if !up {
                points.reverse();
            }
            points
        }
    };
    points.sort_by(|a, b| {
        a.beta
            .partial_cmp(&b.beta)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    Path { direction, points }
}

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
    /// branch's new cluster is born with vanishing mass (the crossing is not resolved:
    /// the branches meet at the onset), it is the onset `beta_predicted` itself.
    pub beta_located: T,
    /// Relative tolerance of `beta_located`: the width of the final bracket (bisection,
    /// or the certified bracket of the Illinois root finder for linear splits); 0 when it
    /// is a closed-form constant; the path bracket's own relative width when a
    /// first-order change could not be bracketed by the objective comparison. For an
    /// objective crossing, at least the shift implied by the branches' objective errors
    /// (re-solved from the bracket ends; rounding), and, where the crossing is not
    /// resolved (the high branch collapsed at the root, or its cluster masses differ
    /// between the two solves by more than sqrt(tol)), the onset's bisection width plus
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
    /// How many of the branch solves that this location used stopped at the iteration
    /// cap instead of converging (0 for unlocated rows and closed-form onsets): the
    /// conditions are meant to be evaluated on converged solutions only, so a non-zero
    /// count says the located β rests partly on unconverged ones.
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

/// `solve` at every β of `betas` (increasing) on the rayon pool, results in the order of
/// `betas`. The threads take the β's one at a time, the largest first (greedy list
/// scheduling): a solve from T = X keeps more columns at larger β, and an evaluation costs
/// in proportion to its columns, so the expensive solves tend to start early instead of
/// one of them starting last, as rayon's split of the index range can arrange (on the
/// 256x32 benchmark one β, 13.3, is a third of the work). A heuristic: the number of
/// evaluations, which peaks near transitions, is not known in advance. Measured there on
/// 2 threads, 10 runs each interleaved with the range split: 0.62-0.70 s (median 0.66)
/// against 0.68-0.80 s (0.72). Each result depends on its β only, so the output is the
/// same for any number of threads.
fn map_largest_beta_first<T: Sync, R: Send>(betas: &[T], solve: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let taken = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<R>>> =
        std::sync::Mutex::new(betas.iter().map(|_| None).collect());
    let workers = rayon::current_num_threads().min(betas.len());
    rayon::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|_| loop {
                let n = taken.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(i) = betas.len().checked_sub(n + 1) else {
                    break;
                };
                let r = solve(&betas[i]);
                // A panic in another worker poisons the lock; the scope re-raises it.
                if let Ok(mut slots) = results.lock() {
                    slots[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .into_iter()
        .map(|r| r.expect("every beta was taken by a worker"))
        .collect()
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
        // Every branch solve of this location, counted when it stops at the iteration cap:
        // the conditions are evaluated on converged solutions, and a location that had to
        // use others says so.
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
                &options.merge.decoder,
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
                // Where the high branch becomes better than the low one.
                let better = |beta: &T| {
                    let (l, h) = (on_low(beta), on_high(beta));
                    h.clusters.len() > l.clusters.len() && h.objective < l.objective
                };
                // Only a bracketed crossing is bisected; otherwise (the path's bracket holds no
                // sign change of the comparison, e.g. one branch is not reproducible there) the
                // change is reported at the bracket's geometric midpoint with the bracket's
                // width as its tolerance, not as a located root.
                // (located β, relative tolerance, whether the crossing was resolved).
                let root = if !better(&lo) && better(&hi) {
                    let (beta_c, width) = bisect(&lo, &hi, rel_tol, better);
                    // The bracket is of the comparison as computed. Each branch's objective is
                    // only as exact as its solve (converged to `tol` in q, from the nearest
                    // solution of the branch), and two branches with many clusters cross at a
                    // shallow angle, so a tiny error in their difference moves the crossing
                    // far. The tolerance also covers that: both branches are solved again at
                    // the root from their bracket ends (cold), and the change of the
                    // difference Δ = L_high − L_low between the two solves, divided by
                    // β·|dΔ/dβ|, is the relative shift of the crossing it implies.
                    let check = crossing_check(
                        method,
                        p,
                        &beta_c,
                        (&on_low(&beta_c), &on_high(&beta_c)),
                        (
                            &branch_solve(&beta_c, low_state.clone(), options),
                            &branch_solve(&beta_c, high_state.clone(), options),
                        ),
                        &options.stop.tol,
                    );
                    let tolerance = check.shift.map_or(width.clone(), |s| s.max_of(width));
                    (beta_c, tolerance, check.resolved)
                } else {
                    (geometric_mid(&lo, &hi), (hi.clone() - &lo) / &hi, false)
                };
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
    let (mut a, mut b) = (lo.clone(), hi.clone());
    for _ in 0..200 {
        if (b.clone() - a.clone()) / b.clone() <= *rel_tol {
            break;
        }
        let m = geometric_mid(&a, &b);
        if above(&m) {
            b = m;
        } else {
            a = m;
        }
    }
    let width = (b.clone() - a.clone()) / b.clone();
    ((a + b) / T::from_f64(2.0), width)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ib::Ib;

    /// The binary-X hysteresis example of spec ib §3.1, whose trivial solution learns at
    /// 1/eta_KL = 2.558980031697148 (mpmath): a light cluster at the trivial solution
    /// dies out below that onset and grows above it.
    fn binary_x() -> Joint<f64> {
        let labels = |n: usize| (0..n).map(|i| i.to_string()).collect();
        Joint::normalized(
            DMatrix::from_row_slice(2, 2, &[0.72, 0.18, 0.01, 0.09]),
            labels(2),
            labels(2),
        )
        .expect("a joint")
        .joint
    }

    /// The trivial encoder with a nucleus of mass ~2e-6 at the rare input's decoder, after
    /// one chunk of 64 evaluations: (mass at the chunk's start, its end).
    fn nucleus_chunk(p: &Joint<f64>, beta: f64, stop: &Stop<f64>) -> (Vec<f64>, Solution<f64>) {
        let decoder = [0.1, 0.9];
        let weight = |x: usize| {
            let kl: f64 = (0..2)
                .map(|y| {
                    let v = p.p_y_given_x()[(x, y)];
                    v * (v / decoder[y]).ln()
                })
                .sum();
            1e-5 * (-beta * kl).exp()
        };
        let start = DMatrix::from_fn(
            2,
            2,
            |x, t| if t == 1 { weight(x) } else { 1.0 - weight(x) },
        );
        let mass = cluster_marginal(p, &start);
        let chunk = Stop {
            max_iter: 64,
            ..stop.clone()
        };
        let end = solve(
            &Ib,
            p,
            &beta,
            start,
            &chunk,
            &MergeTol::for_stop(stop),
            &mut (),
        );
        (mass, end)
    }

    /// At β = 1 on a joint with Y = X every encoder is a fixed point (L = (1 − β)·I(X;T)):
    /// twins keep the distance they were born with. They must not count as split, or
    /// each converged round copies the copies again (the columns doubled without end).
    /// With a cap of 40 evaluations that wrongly loop stops after about 40 rounds, far
    /// wider than the two columns of the answer.
    #[test]
    fn twins_on_a_neutral_direction_do_not_split_again() {
        let labels = |n: usize| (0..n).map(|i| i.to_string()).collect();
        let p = Joint::normalized(
            DMatrix::from_row_slice(2, 2, &[0.5, 0.0, 0.0, 0.5]),
            labels(2),
            labels(2),
        )
        .expect("a joint")
        .joint;
        let stop = Stop {
            max_iter: 40,
            ..Stop::default()
        };
        let options = AnnealOptions {
            max_points: 10,
            ..AnnealOptions::new(stop)
        };
        let single = DMatrix::from_element(2, 1, 1.0);
        let s = solve_splitting(&Ib, &p, &1.0, &single, &options);
        assert_eq!(s.termination, Termination::Converged);
        assert!(
            s.q_t_given_x.ncols() <= 2,
            "{} columns",
            s.q_t_given_x.ncols()
        );
        assert!(s.objective.abs() < 1e-15, "L = {}", s.objective);
    }

    /// The rule agrees with the onset to within 0.2% on either side.
    #[test]
    fn a_light_cluster_is_pruned_below_its_onset_and_kept_above() {
        let p = binary_x();
        let stop = Stop::default();
        for (beta, dies) in [(2.5, true), (2.555, true), (2.565, false), (2.65, false)] {
            let (mass, end) = nucleus_chunk(&p, beta, &stop);
            // Independently of the pruning rule: the nucleus shrank below the onset (and
            // is light), and grew above it.
            assert_eq!(
                end.q_t[1] < mass[1],
                dies,
                "beta {beta}: {mass:?} -> {:?}",
                end.q_t
            );
            assert!(!dies || end.q_t[1] < stop.tol.sqrt());
            let vanishing = vanishing_columns(&Ib, &p, &beta, &mass, &end, &stop.tol, &mut 0);
            let pruned = vanishing.and_then(|v| merged_without(&end, &v));
            assert_eq!(
                pruned.is_some(),
                dies,
                "beta {beta}: {:?} -> {:?}",
                mass,
                end.q_t
            );
            if let Some(q) = pruned {
                assert_eq!(q.ncols(), 1);
                assert!(q.iter().all(|v| *v == 1.0));
            }
        }
    }
}
