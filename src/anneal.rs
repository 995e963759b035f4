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
//! precisely by [`crate::locate::locate`]). Each run is sequential and the parallel mode keeps the input
//! order, so results do not depend on the number of threads.

use std::collections::VecDeque;

use nalgebra::DMatrix;

use crate::bottleneck::{Bottleneck, Decoder};
use crate::dist::Joint;
use crate::info::{h_x, mutual_information};
use crate::scalar::Real;
use crate::solve::{
    escape_support_trap, keep_lower, max_correlation_split, merged_encoder, solve, Acceleration,
    Init, MergeTol, Solution, Stop,
};

mod merging;
mod splitting;

pub use merging::solve_merging;
use splitting::solve_splitting;

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
    /// At most this many changes of the cluster count are located by [`crate::locate::locate`], lowest β
    /// first (the path brackets whose cumulative count change, counted from the lowest β,
    /// is at most this); the brackets beyond are reported as [`crate::locate::Kind::Unlocated`]. `None`:
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

/// The state a continuation carries on from a solution: one column per distinct cluster
/// (merged duplicates, no empty columns), so that a step costs O(|X||Y| live) rather than
/// O(|X||Y||X|).
pub(crate) fn branch_state<T: Real>(s: &Solution<T>) -> DMatrix<T> {
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
pub(crate) fn continue_branch<T: Real, B: Bottleneck<T>>(
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

/// Whether two neighbouring points are too far apart (see the module docs).
fn needs_refinement<T: Real>(a: &Solution<T>, b: &Solution<T>, h_x: &T, i_xy: &T) -> bool {
    let frac = T::from_f64(0.05);
    a.clusters.len() != b.clusters.len()
        || (a.i_xt.clone() - &b.i_xt).abs() > frac.clone() * h_x
        || (a.i_ty.clone() - &b.i_ty).abs() > frac * i_xy
}

/// Whether two grid points are far enough apart to refine between them: hi/lo > 1 + 1e-3,
/// the adaptive grid's finest ratio (see the module docs). [`crate::locate`] refines a
/// bracket holding a single change of the cluster count down to the same ratio.
pub(crate) fn far_enough<T: Real>(lo: &T, hi: &T) -> bool {
    hi.clone() / lo > T::from_f64(1.001)
}

/// sqrt(a b): the point a refinement inserts between a and b (the grid is log-spaced).
pub(crate) fn geometric_mid<T: Real>(a: &T, b: &T) -> T {
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
