//! Solving where clusters only merge (down sweeps, starts from T = X, the branches of a
//! window in [`crate::locate`]): chunks of map evaluations, with coinciding clusters
//! merged and vanishing light clusters removed between chunks, and unsettled clusters
//! resolved at convergence.

use nalgebra::DMatrix;

use super::{column_distance, decoder_distance, decoders_by_column, AnnealOptions};
use crate::bottleneck::{cluster_marginal, Bottleneck};
use crate::dist::Joint;
use crate::scalar::Real;
use crate::solve::{merged_encoder, normalize_rows, solve, Solution, Stop, Termination};

/// Solves from `start`, merging coinciding clusters as the iteration goes: the run is cut
/// into chunks of map evaluations (32, doubling after every chunk that merged nothing),
/// and after each unconverged chunk the columns are merged by [`merged_encoder`] wherever
/// the distinct clusters (decoders within `MergeTol::decoder`, masses above
/// `MergeTol::mass`) are fewer than the columns, and vanishing light clusters
/// (`vanishing_columns` in the source) are removed. Used where clusters only merge (the down
/// sweep, starts from T = X, and both branches of a window in [`crate::locate::locate`]): merging two
/// clusters whose decoders agree within the tolerance is what the final count does
/// anyway, and it removes their slowly contracting difference from the iteration and
/// their columns from every step. The result reports the total evaluations; the
/// iteration cap is the whole run's. The chunks are driven by
/// `options.stop.acceleration.for_merging()` (Anderson for
/// [`Acceleration::Auto`](crate::solve::Acceleration::Auto)).
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
pub(super) fn vanishing_columns<T: Real, B: Bottleneck<T>>(
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
pub(super) fn merged_without<T: Real>(s: &Solution<T>, vanishing: &[bool]) -> Option<DMatrix<T>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ib::Ib;
    use crate::solve::MergeTol;

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
