//! `solve`: the one iteration driver for every bottleneck method, with stopping rules,
//! observers and termination as data (argmin's executor, cut down to a function).
//!
//! `solve` never fails: its inputs were checked when they were built, and "did not
//! converge" or "became non-finite" is a [`Termination`] inside the [`Solution`].

use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::bottleneck::{effective_clusters, Bottleneck, Quantities};
use crate::dist::Joint;
use crate::error::{Error, Result};
use crate::scalar::{tol, Real};

/// When to stop iterating.
#[derive(Clone, Debug)]
pub struct Stop<T> {
    /// Iteration cap.
    pub max_iter: usize,
    /// Converged when the largest change of the encoder in one step,
    /// max_{x,t} |q_{n+1}(t|x) − q_n(t|x)|, is at most `tol`.
    pub tol: T,
}

impl<T: Real> Default for Stop<T> {
    /// 100,000 iterations; tol = epsilon^(2/3) (3.7e-11 for f64, about 6e-52 at 256 bits).
    fn default() -> Self {
        Stop {
            max_iter: 100_000,
            tol: tol::default_tol::<T>(),
        }
    }
}

/// How a run ended. Data, never an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Termination {
    /// The encoder changed by at most `tol` in the last step.
    Converged,
    /// The iteration cap was reached first (common near bifurcations: critical slowing
    /// down).
    MaxIter,
    /// A step produced a non-finite encoder (for example an x for which every cluster
    /// has infinite distortion); the solution is the last finite encoder.
    NonFinite,
}

impl Termination {
    /// `converged`, `max-iterations` or `non-finite`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Termination::Converged => "converged",
            Termination::MaxIter => "max-iterations",
            Termination::NonFinite => "non-finite",
        }
    }
}

/// Tolerances for counting distinct clusters (see
/// [`crate::bottleneck::effective_clusters`]).
#[derive(Clone, Debug)]
pub struct MergeTol<T> {
    /// Clusters with q(t) at most this are empty.
    pub mass: T,
    /// Clusters whose decoders differ by at most this (max over y) are one.
    pub decoder: T,
}

impl<T: Real> MergeTol<T> {
    /// Defaults tied to the convergence tolerance: mass = tol, decoder = sqrt(tol)
    /// (the decoder tolerance must be much larger than tol; spec ib §3.5).
    pub fn for_stop(stop: &Stop<T>) -> Self {
        MergeTol {
            mass: stop.tol.clone(),
            decoder: stop.tol.sqrt(),
        }
    }
}

/// One iteration, reported to an [`Observer`] as `f64`s.
#[derive(Clone, Debug)]
pub struct IterEvent {
    /// 1-based iteration number.
    pub iteration: usize,
    /// max_{x,t} |q_{n+1}(t|x) − q_n(t|x)|.
    pub residual: f64,
    /// The objective of the new encoder, when the observer asked for it.
    pub objective: Option<f64>,
}

/// Watches an iteration (for logging, progress, or tests of monotonicity).
pub trait Observer {
    /// Whether [`IterEvent::objective`] should be computed (it costs a full evaluation).
    fn wants_objective(&self) -> bool {
        false
    }
    /// Called after each iteration.
    fn iter(&mut self, _event: &IterEvent) {}
}

impl Observer for () {}

/// A solution at one β.
#[derive(Clone, Debug)]
pub struct Solution<T: Real> {
    /// The method's name (`ib`, `dualib`, `dib`).
    pub method: &'static str,
    /// β.
    pub beta: T,
    /// The encoder q(t|x), rows x, columns t.
    pub q_t_given_x: DMatrix<T>,
    /// q(t).
    pub q_t: Vec<T>,
    /// The method's decoder q(y|t), rows t (Markov for IB/DIB, geometric for the dual IB).
    pub q_y_given_t: DMatrix<T>,
    /// I(X;T), nats.
    pub i_xt: T,
    /// I(T;Y) of the joint the encoder induces (Markov decoder), nats.
    pub i_ty: T,
    /// H(T), nats.
    pub h_t: T,
    /// H(T|X), nats.
    pub h_t_given_x: T,
    /// The method's objective, nats.
    pub objective: T,
    /// Distinct clusters: mass above `MergeTol::mass`, decoders merged within
    /// `MergeTol::decoder`; each with its mass and member columns, heaviest first.
    pub clusters: Vec<(T, Vec<usize>)>,
    /// Iterations performed.
    pub iterations: usize,
    /// How the iteration ended.
    pub termination: Termination,
    /// The last step's max_{x,t} |Δq(t|x)|.
    pub residual: T,
}

/// Iterates `method` from `init` until converged, the cap, or a non-finite step.
///
/// # Panics
/// If `init` does not have one row per x of `p` (shapes the caller controls).
pub fn solve<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    init: DMatrix<T>,
    stop: &Stop<T>,
    merge: &MergeTol<T>,
    observer: &mut impl Observer,
) -> Solution<T> {
    assert_eq!(init.nrows(), p.nx(), "initial encoder needs one row per x");
    let mut q = init;
    let mut residual = T::infinity();
    let mut termination = Termination::MaxIter;
    let mut iterations = 0;
    for n in 1..=stop.max_iter {
        let next = method.step(p, beta, &q);
        iterations = n;
        if next.iter().any(|v| !v.is_finite()) {
            termination = Termination::NonFinite;
            break;
        }
        residual = next
            .iter()
            .zip(q.iter())
            .fold(T::zero(), |acc, (a, b)| acc.max_of((a.clone() - b).abs()));
        q = next;
        let objective = observer.wants_objective().then(|| {
            let quantities = Quantities::of(p, &q);
            method.objective(p, beta, &q, &quantities).to_f64()
        });
        observer.iter(&IterEvent {
            iteration: n,
            residual: residual.to_f64(),
            objective,
        });
        if residual <= stop.tol {
            termination = Termination::Converged;
            break;
        }
    }
    finish(method, p, beta, q, merge, iterations, termination, residual)
}

/// Assembles a [`Solution`] for the encoder `q`.
#[allow(clippy::too_many_arguments)]
pub fn finish<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    q: DMatrix<T>,
    merge: &MergeTol<T>,
    iterations: usize,
    termination: Termination,
    residual: T,
) -> Solution<T> {
    let quantities = Quantities::of(p, &q);
    let decoder = method.decoder(p, &q, &quantities.q_t);
    let objective = method.objective(p, beta, &q, &quantities);
    let clusters = effective_clusters(
        &quantities.q_t,
        &decoder.q_y_given_t,
        &merge.mass,
        &merge.decoder,
    );
    Solution {
        method: method.name(),
        beta: beta.clone(),
        q_t_given_x: q,
        q_t: quantities.q_t,
        q_y_given_t: decoder.q_y_given_t,
        i_xt: quantities.i_xt,
        i_ty: quantities.i_ty,
        h_t: quantities.h_t,
        h_t_given_x: quantities.h_t_given_x,
        objective,
        clusters,
        iterations,
        termination,
        residual,
    }
}

/// How to start the iteration.
#[derive(Clone, Debug)]
pub enum Init<T: Real> {
    /// Rows drawn uniformly from (0, 1) by ChaCha20 with this seed, then normalised.
    Random {
        /// The seed.
        seed: u64,
    },
    /// The hard encoder q(t|x) = [t = x mod K].
    Identity,
    /// Everything in the first cluster, q(t|x) = [t = 0]: the trivial solution (a fixed
    /// point of every method, with I(X;T) = I(T;Y) = 0).
    SingleCluster,
    /// A given encoder (rows x, columns t).
    Encoder(DMatrix<T>),
}

impl<T: Real> Init<T> {
    /// The initial encoder for `nx` inputs and `clusters` clusters.
    ///
    /// # Errors
    /// `InvalidParameter` if a given encoder has the wrong shape, a negative or
    /// non-finite entry, or a row without mass.
    pub fn encoder(&self, nx: usize, clusters: usize) -> Result<DMatrix<T>> {
        match self {
            Init::Random { seed } => {
                let mut rng = crate::gen::Uniform::new(*seed);
                let mut m = DMatrix::from_fn(nx, clusters, |_, _| T::from_f64(rng.next()));
                normalize_rows(&mut m);
                Ok(m)
            }
            Init::Identity => Ok(DMatrix::from_fn(nx, clusters, |x, t| {
                if x % clusters == t {
                    T::one()
                } else {
                    T::zero()
                }
            })),
            Init::SingleCluster => Ok(DMatrix::from_fn(nx, clusters, |_, t| {
                if t == 0 {
                    T::one()
                } else {
                    T::zero()
                }
            })),
            Init::Encoder(m) => {
                if m.nrows() != nx || m.ncols() != clusters {
                    return Err(Error::parameter(
                        "--init",
                        format!("an encoder of {} x {}", m.nrows(), m.ncols()),
                        format!("{nx} rows (one per x) and {clusters} columns (clusters)"),
                    ));
                }
                if m.iter().any(|v| !v.is_finite() || *v < T::zero()) {
                    return Err(Error::parameter(
                        "--init",
                        "a negative or non-finite entry",
                        "non-negative finite weights",
                    ));
                }
                let mut m = m.clone();
                for x in 0..nx {
                    if m.row(x).iter().all(|v| v.is_zero()) {
                        return Err(Error::parameter(
                            "--init",
                            format!("row {} (x = {x}) of zeros", x + 1),
                            "every row with positive mass",
                        ));
                    }
                }
                normalize_rows(&mut m);
                Ok(m)
            }
        }
    }
}

/// Divides each row by its sum.
pub fn normalize_rows<T: Real>(m: &mut DMatrix<T>) {
    for x in 0..m.nrows() {
        let total = m.row(x).iter().fold(T::zero(), |acc, v| acc + v);
        for t in 0..m.ncols() {
            m[(x, t)] /= &total;
        }
    }
}

/// Solves from each of `starts` in parallel (rayon) and returns the solution with the
/// lowest objective and the index of its start. Ties go to the lowest index, and each run
/// is sequential, so the answer does not depend on the number of threads.
///
/// # Panics
/// If `starts` is empty or a start has the wrong number of rows.
pub fn solve_best<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    starts: Vec<DMatrix<T>>,
    stop: &Stop<T>,
    merge: &MergeTol<T>,
) -> (Solution<T>, usize) {
    assert!(!starts.is_empty(), "at least one start");
    let runs: Vec<Solution<T>> = starts
        .into_par_iter()
        .map(|init| solve(method, p, beta, init, stop, merge, &mut ()))
        .collect();
    runs.into_iter()
        .enumerate()
        .reduce(|best, next| {
            if next.1.objective < best.1.objective {
                next
            } else {
                best
            }
        })
        .map(|(i, s)| (s, i))
        .expect("at least one run")
}

/// Solves from `restarts` random initialisations (seeds `seed`, `seed + 1`, ...) with
/// [`solve_best`] and returns the best solution and its seed.
///
/// # Panics
/// If `restarts` is 0.
#[allow(clippy::too_many_arguments)]
pub fn solve_restarts<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    clusters: usize,
    seed: u64,
    restarts: usize,
    stop: &Stop<T>,
    merge: &MergeTol<T>,
) -> (Solution<T>, u64) {
    assert!(restarts > 0, "at least one restart");
    let starts = (0..restarts as u64)
        .map(|k| {
            Init::<T>::Random {
                seed: seed.wrapping_add(k),
            }
            .encoder(p.nx(), clusters)
            .expect("random initial encoders are valid")
        })
        .collect();
    let (solution, index) = solve_best(method, p, beta, starts, stop, merge);
    (solution, seed.wrapping_add(index as u64))
}
