//! `solve`: the one iteration driver for every bottleneck method, with stopping rules,
//! observers and termination as data (argmin's executor, cut down to a function).
//!
//! `solve` never fails: its inputs were checked when they were built, and "did not
//! converge" or "became non-finite" is a [`Termination`] inside the [`Solution`].

use std::cell::OnceCell;

use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::bottleneck::{cluster_marginal, effective_clusters, Bottleneck, Decoder, Quantities};
use crate::dist::Joint;
use crate::error::{Error, Result};
use crate::scalar::{tol, Real};

mod anderson;
mod squarem;

use anderson::iterate_anderson;
use squarem::iterate_squarem;

/// When to stop iterating.
#[derive(Clone, Debug)]
pub struct Stop<T> {
    /// Cap on the number of evaluations of the iteration map F (one full
    /// encoder → decoder → encoder step each, also inside accelerated cycles).
    pub max_iter: usize,
    /// Converged when one plain step of the map moves the encoder by at most `tol`:
    /// max_{x,t} |F(q)(t|x) − q(t|x)| <= tol. The same test with and without
    /// acceleration; the returned encoder is then F(q).
    pub tol: T,
    /// How the iteration is driven (plain, or accelerated by squared extrapolation).
    pub acceleration: Acceleration,
}

impl<T: Real> Stop<T> {
    /// `max_iter` and `tol` with the default acceleration ([`Acceleration::Auto`]).
    pub fn new(max_iter: usize, tol: T) -> Self {
        Stop {
            max_iter,
            tol,
            acceleration: Acceleration::default(),
        }
    }

    /// The same rule with another acceleration.
    pub fn with_acceleration(mut self, acceleration: Acceleration) -> Self {
        self.acceleration = acceleration;
        self
    }
}

impl<T: Real> Default for Stop<T> {
    /// 100,000 map evaluations; tol = epsilon^(2/3) (3.7e-11 for f64, about 6e-52 at 256
    /// bits); [`Acceleration::Auto`].
    fn default() -> Self {
        Stop::new(100_000, tol::default_tol::<T>())
    }
}

/// How the fixed-point iteration q ← F(q) is driven. Both reach the same fixed points
/// (the stopping test is a plain step either way); acceleration changes only how many
/// evaluations of F it takes, which matters where F contracts slowly (near bifurcations
/// and on smooth joints, where plain iteration needs up to 10^5 steps).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Acceleration {
    /// q_{n+1} = F(q_n): the textbook Blahut-Arimoto iteration \[TPB99\]. Every iterate
    /// lowers the objective.
    None,
    /// SQUAREM, scheme S3 of Varadhan & Roland (2008, Scand. J. Stat. 35:335, "Simple and
    /// globally convergent methods for accelerating the convergence of any EM
    /// algorithm"), applied to the log-encoder ℓ = ln q(t|x):
    ///
    /// ℓ1 = ln F(q0), ℓ2 = ln F(q1), r = ℓ1 − ℓ0, v = ℓ2 − 2ℓ1 + ℓ0,
    /// α = −‖r‖/‖v‖ (clamped to [−α_max, −1]), ℓ' = ℓ0 − 2αr + α²v,
    /// rows of exp(ℓ') renormalised, then one stabilising step q'' = F(q').
    ///
    /// The cycle is accepted only if the objective of q'' is no larger than that of q0,
    /// and than the lowest objective of any iterate so far, up to a rounding slack of
    /// 1e3·epsilon·max(1, |L|) (measured against the lowest, so that the slack cannot
    /// accumulate into a climb where a plain step lowers L by less than it); otherwise
    /// the plain iterate q2 = F(F(q0)) is taken. So, like the
    /// plain iteration, the objective never increases from one accepted iterate to the
    /// next. α = −1 is the plain double step; α_max starts at 1 and grows fourfold each
    /// time the clamp binds and the cycle is accepted (the package defaults of
    /// Varadhan's SQUAREM); a rejected cycle divides it by 4, to no less than 4. Entries
    /// that are 0 in any of q0, q1, q2 (a cluster missing the support, or a dead cluster)
    /// take q2's value.
    Squarem,
    /// Anderson acceleration, type II (Anderson 1965, J. ACM 12:547; Walker & Ni 2011,
    /// SIAM J. Numer. Anal. 49:1715), of depth m = 5 on the log-encoder ℓ = ln q(t|x):
    ///
    /// f_k = ln F(q_k) − ℓ_k, γ = argmin ‖W^(1/2)(f_k − ΔF γ)‖₂,
    /// ℓ_{k+1} = ln F(q_k) − ΔG γ, rows of exp(ℓ_{k+1}) renormalised,
    ///
    /// where ΔF, ΔG hold the last m differences of f and of ln F(q), and W = p(x) q(t|x)
    /// (frozen when the history starts) weights the least squares in the local metric of
    /// the objective, so that entries with q(t|x) ≈ 0, whose logarithms move a lot and
    /// matter little, do not steer it (the normal equations carry a 1e-12 relative ridge).
    /// A candidate is accepted only if its objective is no larger than the lowest
    /// objective of any iterate stepped from so far (up to the rounding slack, as for
    /// SQUAREM); otherwise the history restarts and 2^r plain
    /// steps follow (r consecutive rejections, r <= 6), since near a saddle (a split that
    /// is slowly taking off) the extrapolation keeps pointing back to it. The history also
    /// restarts when the support of the encoder changes. The guard measures the candidate
    /// itself, not its image F(q_{k+1}) (until 2026-12-04 it did): the objective then
    /// shares the q(t) and decoder of the step taken from the candidate, one decoder per
    /// evaluation instead of two, and a rejected candidate costs no evaluation (15% less
    /// time on the 256x32 down sweep, 561 -> 520 evaluations, the same solutions). Like
    /// every driver here, the objective never increases between accepted iterates (the
    /// iterates are the points stepped from, whose objectives an [`Observer`] sees; each
    /// image lies below its own, since a plain step never raises the objective). Much faster than SQUAREM
    /// where the iterate approaches a stable fixed point along several slow directions
    /// (clusters coalescing from T = X), slower where splits must take off (up sweeps).
    Anderson,
    /// [`Acceleration::Squarem`] for a solve on its own and in up sweeps;
    /// [`Acceleration::Anderson`] in solves where clusters only merge (down sweeps and the
    /// identity start of independent sweeps, see [`Acceleration::for_merging`]). Default.
    #[default]
    Auto,
}

impl Acceleration {
    /// `none`, `squarem`, `anderson` or `auto`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Acceleration::None => "none",
            Acceleration::Squarem => "squarem",
            Acceleration::Anderson => "anderson",
            Acceleration::Auto => "auto",
        }
    }

    /// The driver for a solve where clusters only merge: [`Acceleration::Anderson`] for
    /// [`Acceleration::Auto`], the choice itself otherwise.
    pub fn for_merging(self) -> Acceleration {
        match self {
            Acceleration::Auto => Acceleration::Anderson,
            other => other,
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
    /// Clusters whose decoders differ by at most this (max over y) are one, at
    /// β ≤ [`MERGE_BETA_SCALE`]/decoder; above, [`MergeTol::decoder_at`] shrinks it.
    pub decoder: T,
}

/// The decoder distance up to which two clusters count as one at β is at most
/// `MERGE_BETA_SCALE`/β ([`MergeTol::decoder_at`]).
///
/// Why: at a fixed point two clusters t, u have encoder columns in the ratio
/// q(t|x)/q(u|x) = q(t)/q(u)·exp(−β·[KL(p(·|x)‖q(·|t)) − KL(p(·|x)‖q(·|u))]), and the
/// bracket is of the order of the decoder distance d. Merging is right only while β·d is
/// small (the columns are then nearly proportional, spec ib §3.5). A fixed sqrt(tol)
/// merged clusters that large β keeps apart: on a joint with rows that differ by 1e-11
/// (`ibex solve` at β = 1e12) the iteration separates them, and the merged count gave
/// H(T) = 0.118 bits below I(X;T) = 1.046. With 1e-2 the default tol (1e-10, so
/// sqrt(tol) = 1e-5) is unchanged up to β = 1000.
pub const MERGE_BETA_SCALE: f64 = 1e-2;

impl<T: Real> MergeTol<T> {
    /// Defaults tied to the convergence tolerance: mass = tol, decoder = sqrt(tol)
    /// (the decoder tolerance must be much larger than tol; spec ib §3.5).
    pub fn for_stop(stop: &Stop<T>) -> Self {
        MergeTol {
            mass: stop.tol.clone(),
            decoder: stop.tol.sqrt(),
        }
    }

    /// The decoder tolerance at β: min(decoder, [`MERGE_BETA_SCALE`]/β).
    pub fn decoder_at(&self, beta: &T) -> T {
        let scaled = T::from_f64(MERGE_BETA_SCALE) / beta;
        if beta > &T::zero() && scaled < self.decoder {
            scaled
        } else {
            self.decoder.clone()
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
    /// [`MergeTol::decoder_at`] β; each with its mass and member columns, heaviest first.
    pub clusters: Vec<(T, Vec<usize>)>,
    /// Iterations performed.
    pub iterations: usize,
    /// How the iteration ended.
    pub termination: Termination,
    /// The last step's max_{x,t} |Δq(t|x)|.
    pub residual: T,
}

impl<T: Real> Solution<T> {
    /// The decoder of each distinct cluster (in the order of [`Solution::clusters`]): its
    /// members' decoders averaged by mass, q(y|t) = Σ_{s in t} q(s) q(y|s) / q(t), rows t.
    /// For the IB and the DIB this is exactly the Markov decoder of the merged column
    /// Σ_{s in t} q(s|x). Every member's decoder is within [`MergeTol::decoder_at`] β of the
    /// heaviest member's (the merge rule), and so is the average.
    pub fn distinct_decoders(&self) -> DMatrix<T> {
        let ny = self.q_y_given_t.ncols();
        let mut out = DMatrix::from_element(self.clusters.len(), ny, T::zero());
        for (t, (mass, members)) in self.clusters.iter().enumerate() {
            for y in 0..ny {
                let weighted = members.iter().fold(T::zero(), |acc, &m| {
                    acc + self.q_t[m].clone() * &self.q_y_given_t[(m, y)]
                });
                out[(t, y)] = weighted / mass;
            }
        }
        out
    }
}

/// Iterates `method` from `init` until converged, the cap, or a non-finite step, plainly
/// or with SQUAREM ([`Stop::acceleration`]). `iterations` in the result counts
/// evaluations of the map; the observer sees every accepted iterate.
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
    let run = match stop.acceleration {
        Acceleration::None => iterate_plain(method, p, beta, init, stop, observer),
        Acceleration::Squarem | Acceleration::Auto => {
            iterate_squarem(method, p, beta, init, stop, observer)
        }
        Acceleration::Anderson => iterate_anderson(method, p, beta, init, stop, observer),
    };
    finish_prepared(
        method,
        p,
        beta,
        run.q,
        run.log.as_ref(),
        run.prepared,
        merge,
        run.iterations,
        run.termination,
        run.residual,
    )
}

/// Where an iteration ended.
struct Run<T: Real> {
    q: DMatrix<T>,
    /// ln q (−inf at zeros) when the driver has it, so that [`finish`] need not take it.
    log: Option<DMatrix<T>>,
    /// q(t) and the decoder of `q` when the driver computed them.
    prepared: Option<Prepared<T>>,
    iterations: usize,
    termination: Termination,
    residual: T,
}

/// max_{x,t} |a − b|.
fn max_abs_diff<T: Real>(a: &DMatrix<T>, b: &DMatrix<T>) -> T {
    // Contiguous slices: nalgebra's strided matrix iterator costs more than the work.
    a.as_slice()
        .iter()
        .zip(b.as_slice())
        .fold(T::zero(), |acc, (x, y)| acc.max_of((x.clone() - y).abs()))
}

fn objective_of<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    q: &DMatrix<T>,
) -> T {
    let quantities = Quantities::of(p, q);
    method.objective(p, beta, q, &quantities)
}

/// Tells the observer about an accepted iterate; `objective` is evaluated only if the
/// observer wants it.
fn report<T: Real>(
    observer: &mut impl Observer,
    iteration: usize,
    residual: &T,
    objective: impl FnOnce() -> T,
) {
    let objective = observer.wants_objective().then(|| objective().to_f64());
    observer.iter(&IterEvent {
        iteration,
        residual: residual.to_f64(),
        objective,
    });
}

fn iterate_plain<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    init: DMatrix<T>,
    stop: &Stop<T>,
    observer: &mut impl Observer,
) -> Run<T> {
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
        residual = max_abs_diff(&next, &q);
        q = next;
        report(observer, n, &residual, || objective_of(method, p, beta, &q));
        if residual <= stop.tol {
            termination = Termination::Converged;
            break;
        }
    }
    Run {
        q,
        log: None,
        prepared: None,
        iterations,
        termination,
        residual,
    }
}

/// q(t) and the method's decoder of one iterate. The step from the iterate needs them,
/// and so does its objective when the method's decoder is the Markov one
/// ([`Bottleneck::decoder_is_markov`]): an iterate computes them at most once.
struct Prepared<T: Real> {
    q_t: Vec<T>,
    decoder: Decoder<T>,
}

impl<T: Real> Prepared<T> {
    /// q(t) = Σ_x p(x) q(t|x) and `method`'s decoder of `q`.
    fn of<B: Bottleneck<T>>(method: &B, p: &Joint<T>, q: &DMatrix<T>) -> Self {
        let q_t = cluster_marginal(p, q);
        let decoder = method.decoder(p, q, &q_t);
        Prepared { q_t, decoder }
    }
}

/// The quantities of `q` (with ln q when given), from the prepared q(t) and decoder when
/// they are given and the decoder is the Markov one the quantities need; computed afresh
/// otherwise.
fn quantities_of<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    q: &DMatrix<T>,
    ln_q: Option<&DMatrix<T>>,
    prepared: Option<&Prepared<T>>,
) -> Quantities<T> {
    match prepared.filter(|_| method.decoder_is_markov()) {
        Some(pr) => Quantities::of_parts(p, q, ln_q, pr.q_t.clone(), &pr.decoder),
        None => Quantities::of_with_log(p, q, ln_q),
    }
}

/// An iterate with its logarithm (−inf at zeros), and its [`Prepared`] parts once needed.
struct Iterate<T: Real> {
    q: DMatrix<T>,
    log: DMatrix<T>,
    prepared: OnceCell<Prepared<T>>,
}

impl<T: Real> Iterate<T> {
    fn new(q: DMatrix<T>, log: DMatrix<T>) -> Self {
        Iterate {
            q,
            log,
            prepared: OnceCell::new(),
        }
    }

    fn of(q: DMatrix<T>) -> Self {
        let log = q.map(|v| if v.is_zero() { -T::infinity() } else { v.ln() });
        Iterate::new(q, log)
    }

    /// q(t) and `method`'s decoder of this iterate, computed on first use.
    fn prepared<B: Bottleneck<T>>(&self, method: &B, p: &Joint<T>) -> &Prepared<T> {
        self.prepared
            .get_or_init(|| Prepared::of(method, p, &self.q))
    }

    fn finite(&self) -> bool {
        self.q.as_slice().iter().all(|v| v.is_finite())
    }
}

/// The pieces both accelerated drivers share: the objective slack for rounding
/// (1e3·epsilon·max(1, |f|)), one step of the map with its logarithm, the objective of an
/// iterate (reusing its logarithm), and the assembly of a [`Run`].
#[allow(clippy::type_complexity)]
fn driver_parts<'a, T: Real, B: Bottleneck<T>>(
    method: &'a B,
    p: &'a Joint<T>,
    beta: &'a T,
) -> (
    impl Fn(&T) -> T,
    impl Fn(&Iterate<T>) -> Iterate<T> + 'a,
    impl Fn(&Iterate<T>) -> T + 'a,
    impl Fn(Iterate<T>, usize, Termination, T) -> Run<T>,
) {
    let slack = |f: &T| T::from_f64(1e3) * T::epsilon() * f.abs().max_of(T::one());
    let step = move |it: &Iterate<T>| {
        let prepared = it.prepared(method, p);
        let (q, log) = method.step_from_decoder(p, beta, &prepared.q_t, &prepared.decoder);
        Iterate::new(q, log)
    };
    let objective = move |it: &Iterate<T>| {
        // The prepared parts only when they serve: a dual-IB objective needs the Markov
        // decoder, not the iterate's own.
        let prepared = method.decoder_is_markov().then(|| it.prepared(method, p));
        let quantities = quantities_of(method, p, &it.q, Some(&it.log), prepared);
        method.objective(p, beta, &it.q, &quantities)
    };
    let done = |it: Iterate<T>, iterations, termination, residual| Run {
        q: it.q,
        log: Some(it.log),
        prepared: it.prepared.into_inner(),
        iterations,
        termination,
        residual,
    };
    (slack, step, objective, done)
}

/// Assembles a [`Solution`] for the encoder `q`, reusing ln q (−inf at zeros) when the
/// caller has it.
#[allow(clippy::too_many_arguments)]
pub fn finish<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    q: DMatrix<T>,
    ln_q: Option<&DMatrix<T>>,
    merge: &MergeTol<T>,
    iterations: usize,
    termination: Termination,
    residual: T,
) -> Solution<T> {
    finish_prepared(
        method,
        p,
        beta,
        q,
        ln_q,
        None,
        merge,
        iterations,
        termination,
        residual,
    )
}

/// [`finish`], reusing q(t) and the decoder of `q` when the driver has them.
#[allow(clippy::too_many_arguments)]
fn finish_prepared<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    q: DMatrix<T>,
    ln_q: Option<&DMatrix<T>>,
    prepared: Option<Prepared<T>>,
    merge: &MergeTol<T>,
    iterations: usize,
    termination: Termination,
    residual: T,
) -> Solution<T> {
    let prepared = prepared.unwrap_or_else(|| Prepared::of(method, p, &q));
    let quantities = quantities_of(method, p, &q, ln_q, Some(&prepared));
    let decoder = prepared.decoder;
    let objective = method.objective(p, beta, &q, &quantities);
    let clusters = effective_clusters(
        &quantities.q_t,
        decoder.q_y_given_t(),
        &merge.mass,
        &merge.decoder_at(beta),
    );
    Solution {
        method: method.name(),
        beta: beta.clone(),
        q_t_given_x: q,
        q_t: quantities.q_t,
        q_y_given_t: decoder.into_q_y_given_t(),
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

/// The encoder with one column per distinct cluster (members' columns summed), padded with
/// zero columns to `k` columns.
pub fn merged_encoder<T: Real>(s: &Solution<T>, k: usize) -> DMatrix<T> {
    let nx = s.q_t_given_x.nrows();
    let mut out = DMatrix::from_element(nx, k, T::zero());
    for (c, (_, members)) in s.clusters.iter().enumerate().take(k) {
        for x in 0..nx {
            for &t in members {
                out[(x, c)] += &s.q_t_given_x[(x, t)];
            }
        }
    }
    // Mass of dropped (near-empty) clusters goes back to the heaviest cluster, so rows
    // still sum to 1.
    for x in 0..nx {
        let total = out.row(x).iter().fold(T::zero(), |a, v| a + v);
        if !total.is_zero() {
            for c in 0..k {
                out[(x, c)] /= &total;
            }
        } else {
            out[(x, 0)] = T::one();
        }
    }
    out
}

/// Amplitude a of [`max_correlation_split`].
pub const SPLIT_AMPLITUDE: f64 = 0.5;

/// The trivial solution split in two along the maximal-correlation function f of X
/// ([`Joint::maximal_correlation_function`], max|f| = 1, computed once per joint):
/// q(t=0|x) = (1 + a f(x))/2, q(t=1|x) = (1 − a f(x))/2, a = [`SPLIT_AMPLITUDE`], padded
/// with empty clusters to `columns` columns. Above β = 1/ρ_m² the trivial solution is a
/// saddle whose unstable direction is f (spec ib §3.1), so this start leaves it where the
/// single-cluster start stays and where T = X, on a joint with zeros, can end (a 2x3 joint
/// in `tests/support_trap.rs`). `None` if ρ_m = 0, the SVD fails or `columns` < 2.
pub fn max_correlation_split<T: Real>(p: &Joint<T>, columns: usize) -> Option<DMatrix<T>> {
    if columns < 2 {
        return None;
    }
    let f = p.maximal_correlation_function()?;
    Some(DMatrix::from_fn(p.nx(), columns, |x, t| match t {
        0 => T::from_f64(0.5 * (1.0 + SPLIT_AMPLITUDE * f[x])),
        1 => T::from_f64(0.5 * (1.0 - SPLIT_AMPLITUDE * f[x])),
        _ => T::zero(),
    }))
}

/// Share δ of every x's mass that [`escape_support_trap`] spreads over the clusters.
pub const SUPPORT_ESCAPE_SHARE: f64 = 1e-6;

/// Whether a live cluster's decoder vanishes at an outcome the joint gives mass:
/// q(t) > 0, p(y) > 0 and q(y|t) = 0.
pub fn has_decoder_zero<T: Real>(p: &Joint<T>, s: &Solution<T>) -> bool {
    s.q_t.iter().enumerate().any(|(t, q_t)| {
        !q_t.is_zero()
            && p.p_y()
                .iter()
                .enumerate()
                .any(|(y, p_y)| !p_y.is_zero() && s.q_y_given_t[(t, y)].is_zero())
    })
}

/// A solution whose clusters are not support-frozen ([`Bottleneck::decoder_zeros_trap`]).
///
/// If `s` converged and has a live cluster whose decoder vanishes where p(y) > 0
/// ([`has_decoder_zero`]), every x gives a share δ = [`SUPPORT_ESCAPE_SHARE`] of its mass
/// to every distinct cluster, q'(t|x) = (1 − δ) q(t|x) + δ/K on [`merged_encoder`], and
/// `solve_from` runs the iteration from there. Its result replaces `s` if its objective is
/// lower by more than `tol`·max(1, |L|) ([`keep_lower`]); a fixed point that is a local minimum draws the
/// shared mass back and is kept. Repeated while the result converged and still has such a zero, at most 4
/// times; the returned iteration count includes these solves. A point stopped by the
/// iteration cap is returned as it is: it is not a fixed point, and another solve would
/// only lift the cap.
///
/// Why: in the IB, q(y|t) = 0 with p(y|x) > 0 makes KL[p(y|x) || q(y|t)] infinite, so
/// q(t|x) = 0 at every later step. On a joint with zeros in p(y|x), the start T = X (and
/// any start whose tails underflow) can then stop at a hard fixed point far above the
/// optimum: on random 2-to-5-letter joints with zeros, the reverse anneal stayed up to 0.2
/// nats above the best solution found from random starts; on the 100x100 discretised
/// Gaussian it stayed up to 0.014 nats above. A no-op for methods whose decoder zeros do
/// not trap (the dual IB, whose geometric decoder a share of an x with zeros would kill)
/// and for solutions without decoder zeros (every solution on a joint without zeros in
/// p(y|x)).
pub fn escape_support_trap<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    mut s: Solution<T>,
    tol: &T,
    mut solve_from: impl FnMut(DMatrix<T>) -> Solution<T>,
) -> Solution<T> {
    if !method.decoder_zeros_trap() {
        return s;
    }
    let share = T::from_f64(SUPPORT_ESCAPE_SHARE);
    let keep = T::one() - &share;
    for _ in 0..4 {
        if s.termination != Termination::Converged || !has_decoder_zero(p, &s) {
            break;
        }
        let k = s.clusters.len().max(1);
        let spread = share.clone() / T::from_u64(k as u64);
        let mut start = merged_encoder(&s, k);
        for v in start.iter_mut() {
            *v = v.clone() * &keep + &spread;
        }
        let (kept, freed) = keep_lower(s, solve_from(start), tol);
        s = kept;
        if !freed {
            break;
        }
    }
    s
}

/// Of a solution `s` and a second solve `other` of the same problem, `other` if its
/// objective is lower by more than tol·max(1, |L_s|), else `s`; the kept one counts the
/// iterations of both. The flag says whether `other` was kept.
pub fn keep_lower<T: Real>(
    mut s: Solution<T>,
    mut other: Solution<T>,
    tol: &T,
) -> (Solution<T>, bool) {
    let margin = tol.clone() * s.objective.clone().abs().max_of(T::one());
    let total = s.iterations + other.iterations;
    if other.objective < s.objective.clone() - margin {
        other.iterations = total;
        (other, true)
    } else {
        s.iterations = total;
        (s, false)
    }
}

/// Solves from each of `starts` in parallel (rayon) and returns the solution with the
/// lowest objective and the index of its start. Each run is freed from support traps by
/// [`escape_support_trap`] (the IB on joints with zeros in p(y|x)). Ties go to the lowest
/// index, and each run is sequential, so the answer does not depend on the number of
/// threads.
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
        .map(|init| {
            let s = solve(method, p, beta, init, stop, merge, &mut ());
            escape_support_trap(method, p, s, &stop.tol, |start| {
                solve(method, p, beta, start, stop, merge, &mut ())
            })
        })
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
