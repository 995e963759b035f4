//! Solving going up in β, where clusters split: every cluster that may be unstable gets a
//! copy with a small deterministic nudge, and copies that take off count as split (spec ib
//! §3.3, pitfall 4).

use nalgebra::DMatrix;

use super::{decoder_distance, decoders_by_column, AnnealOptions};
use crate::bifurcation::split_eigenvalue_bounds;
use crate::bottleneck::{cluster_marginal, Bottleneck};
use crate::dist::Joint;
use crate::scalar::Real;
use crate::solve::{finish, solve, Solution, Stop, Termination};

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
pub(super) fn solve_splitting<T: Real, B: Bottleneck<T>>(
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
    let merged_within = options.merge.decoder_at(beta);
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
        let ran = s.iterations;
        used += s.iterations;
        s.iterations = used;
        if s.termination == Termination::NonFinite {
            return s;
        }
        let now = pair_distances(method, p, &s.q_t_given_x, &pairs);
        let split: Vec<bool> = now
            .iter()
            .zip(&born)
            .map(|(d, d0)| d.is_finite() && *d > merged_within && *d > takeoff.clone() * d0)
            .collect();
        if used >= options.stop.max_iter {
            // A takeoff is judged after a whole round: in fewer evaluations the twins
            // move with the transient of an unconverged state, not with a split.
            let judged: Vec<bool> = split
                .iter()
                .map(|&moved| moved && ran >= SPLIT_ROUND)
                .collect();
            return rejoin_twins(method, p, beta, s, &pairs, &judged, options);
        }
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

/// The capped end of [`solve_splitting`]: the twins that have not taken off (`split`
/// false for their pair; the caller counts no takeoff in a round cut short by the cap,
/// shorter than [`SPLIT_ROUND`]) are put back together, the copy's column added to its
/// original's, and the result is assembled for that encoder (termination and evaluations
/// as the run ended).
///
/// Why: a copy that has not taken off is the nudge of [`duplicate`], not a cluster the
/// iteration found, but a few dozen evaluations leave twins about 1e-4 apart, beyond the
/// merging tolerance, so they counted as distinct clusters and the next β copied both
/// again. With `--max-iter 30` the up sweep on the DSBS (|X| = 2) reported 87 distinct
/// clusters, and at `--max-iter 10` its columns doubled at every grid point (14,046 of
/// them) until the command ran for minutes. In a round of 10 evaluations, twins of an
/// unconverged state moved threefold apart with its transient, and counting that as a
/// split still doubled the clusters at every grid point (24 on the DSBS).
fn rejoin_twins<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    s: Solution<T>,
    pairs: &[(usize, usize)],
    split: &[bool],
    options: &AnnealOptions<T>,
) -> Solution<T> {
    if !split.contains(&false) {
        return s;
    }
    let k = s.q_t_given_x.ncols();
    let mut keep = vec![true; k];
    let mut q = s.q_t_given_x.clone();
    for (&(t, u), &moved) in pairs.iter().zip(split) {
        if !moved {
            for x in 0..q.nrows() {
                let copy = q[(x, u)].clone();
                q[(x, t)] += copy;
            }
            keep[u] = false;
        }
    }
    let kept: Vec<usize> = (0..k).filter(|&t| keep[t]).collect();
    let q = DMatrix::from_fn(q.nrows(), kept.len(), |x, c| q[(x, kept[c])].clone());
    finish(
        method,
        p,
        beta,
        q,
        None,
        &options.merge,
        s.iterations,
        s.termination,
        s.residual,
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ib::Ib;

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

    /// A capped up sweep must not pile up copies. On the DSBS (E = 0.1, |X| = 2) with
    /// `--max-iter 10` twins of unconverged states counted as split and the columns doubled
    /// at every grid point (14,046 of them; the command ran for minutes); with 30, 87
    /// distinct clusters were reported. Now a capped solve rejoins twins that no whole
    /// round saw take off, so no point of the sweep has more than 2|X| columns.
    #[test]
    fn a_capped_up_sweep_rejoins_unjudged_twins() {
        let labels = |n: usize| (0..n).map(|i| i.to_string()).collect();
        let p = Joint::normalized(
            DMatrix::from_row_slice(2, 2, &[0.45, 0.05, 0.05, 0.45]),
            labels(2),
            labels(2),
        )
        .expect("a joint")
        .joint;
        let betas: Vec<f64> = (0..6).map(|i| 5f64.powf(i as f64 / 5.0)).collect();
        for cap in [10, 30] {
            let stop = Stop {
                max_iter: cap,
                ..Stop::default()
            };
            let options = AnnealOptions {
                adaptive: true,
                max_points: 400,
                ..AnnealOptions::new(stop)
            };
            let path = crate::anneal::anneal(
                &Ib,
                &p,
                &betas,
                crate::anneal::Direction::Up,
                &options,
                &|_| {},
            );
            let widest = path.points.iter().map(|s| s.q_t_given_x.ncols()).max();
            assert!(widest <= Some(4), "cap {cap}: {widest:?} columns");
            assert!(path
                .points
                .iter()
                .any(|s| s.termination == Termination::MaxIter));
        }
    }
}
