//! Comparing the paths of a sweep: which points make the IB curve (the upper concave
//! envelope in the information plane), where the up and down sweeps disagree
//! (hysteresis), and which path lies above the best point found at a β (metastable
//! stretches). Issue 4 item 3: the reported curve is the envelope over all branches found,
//! and metastable branches are reported, not hidden.

use crate::anneal::{Direction, Path};
use crate::locate::{Bifurcation, Kind};
use crate::scalar::Real;
use crate::solve::{Solution, Termination};

/// Two objectives at the same β differ when |L_a − L_b| > OBJECTIVES_DIFFER · max(1, |L_a|):
/// far above the error of points converged to the default tolerance 1e-10 in q(t|x), whose
/// objective is stationary, and far below the gaps between distinct fixed points.
pub const OBJECTIVES_DIFFER: f64 = 1e-7;

/// Whether `a` and `b` differ in the sense of [`OBJECTIVES_DIFFER`].
fn differ<T: Real>(a: &T, b: &T) -> bool {
    let scale = a.clone().abs().max_of(T::one());
    (a.clone() - b).abs() > T::from_f64(OBJECTIVES_DIFFER) * scale
}

/// Whether a path's point is a solution at all: its solve did not break down (termination
/// `non-finite`) and its objective is finite (a dual-IB cluster without a decoder has
/// L = +inf). Only such points can be on the envelope or set the lowest objective.
fn is_solution<T: Real>(s: &Solution<T>) -> bool {
    s.termination != Termination::NonFinite && s.objective.is_finite()
}

/// The points of all paths on the upper concave envelope of (I(X;T), I(T;Y)) (the IB
/// curve), as (path index, point index), in increasing I(X;T). Branches below the envelope
/// are metastable or sub-optimal. Points whose solve broke down (termination
/// `non-finite`, or an infinite objective: a dual-IB cluster without a decoder) are no
/// candidates: their encoder is not a solution.
pub fn envelope<T: Real>(paths: &[Path<T>]) -> Vec<(usize, usize)> {
    let mut all: Vec<(f64, f64, usize, usize)> = paths
        .iter()
        .enumerate()
        .flat_map(|(i, path)| {
            path.points
                .iter()
                .enumerate()
                .filter(|(_, s)| is_solution(s))
                .map(move |(j, s)| (s.i_xt.to_f64(), s.i_ty.to_f64(), i, j))
        })
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
    // Upper hull (monotone chain), keeping only non-decreasing I(T;Y).
    let mut hull: Vec<(f64, f64, usize, usize)> = Vec::new();
    for pt in all {
        if hull.last().is_some_and(|h| pt.1 <= h.1 + 1e-13) {
            continue;
        }
        while hull.len() >= 2 {
            let (o, a) = (hull[hull.len() - 2], hull[hull.len() - 1]);
            let cross = (a.0 - o.0) * (pt.1 - o.1) - (a.1 - o.1) * (pt.0 - o.0);
            if cross >= -1e-15 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(pt);
    }
    hull.into_iter().map(|h| (h.2, h.3)).collect()
}

/// β ranges where a metastable branch coexists with the better one: the shared grid
/// points where the up and down paths reach different objectives (by more than
/// [`OBJECTIVES_DIFFER`] · max(1, |L_up|)), and the range between
/// the same change of the cluster count located going up and going down (when they differ
/// by more than their tolerances); overlapping ranges merged.
pub fn hysteresis_ranges<T: Real>(paths: &[Path<T>], located: &[Bifurcation<T>]) -> Vec<(T, T)> {
    let (Some(up), Some(down)) = (
        paths.iter().find(|p| p.direction == Direction::Up),
        paths.iter().find(|p| p.direction == Direction::Down),
    ) else {
        return Vec::new();
    };
    let mut ranges: Vec<(T, T)> = Vec::new();
    let mut open: Option<(T, T)> = None;
    for u in &up.points {
        let Some(d) = down.points.iter().find(|d| d.beta == u.beta) else {
            continue;
        };
        match (&mut open, differ(&u.objective, &d.objective)) {
            (Some(r), true) => r.1 = u.beta.clone(),
            (None, true) => open = Some((u.beta.clone(), u.beta.clone())),
            (Some(_), false) => ranges.push(open.take().expect("open range")),
            (None, false) => {}
        }
    }
    ranges.extend(open);
    // The same change of the cluster count located at different betas going up and going
    // down: between the two the branches coexist, whether or not a grid point fell there.
    let located_change = |b: &&Bifurcation<T>| b.kind != Kind::Unlocated;
    for u in located
        .iter()
        .filter(located_change)
        .filter(|b| b.direction == Direction::Up)
    {
        let counts = (u.clusters_before, u.clusters_after);
        let nearest = located
            .iter()
            .filter(located_change)
            .filter(|d| d.direction == Direction::Down)
            .filter(|d| (d.clusters_before, d.clusters_after) == counts)
            .min_by(|a, b| {
                let (da, db) = (
                    (a.beta_located.clone() - &u.beta_located).abs(),
                    (b.beta_located.clone() - &u.beta_located).abs(),
                );
                da.partial_cmp(&db).unwrap_or(std::cmp::Ordering::Equal)
            });
        if let Some(d) = nearest {
            let (lo, hi) = if d.beta_located < u.beta_located {
                (d.beta_located.clone(), u.beta_located.clone())
            } else {
                (u.beta_located.clone(), d.beta_located.clone())
            };
            let apart = (hi.clone() - &lo) / &hi;
            if apart > u.tolerance.clone() + &d.tolerance {
                ranges.push((lo, hi));
            }
        }
    }
    // Overlapping ranges are one.
    ranges.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    let mut merged: Vec<(T, T)> = Vec::new();
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.0 <= last.1 => last.1 = last.1.clone().max_of(r.1),
            _ => merged.push(r),
        }
    }
    merged
}

/// A stretch of one path whose converged points lie above the best point any path
/// reached at the same β: the path follows a fixed point that is not the global minimum
/// there (a metastable branch, or a saddle the iteration cannot leave), while another
/// path found a lower one.
#[derive(Clone, Debug)]
pub struct Metastable<T> {
    /// The path that lies above.
    pub direction: Direction,
    /// The first and last β of the stretch (grid points shared with another path).
    pub beta_first: T,
    /// See `beta_first`.
    pub beta_last: T,
    /// How many shared grid points the stretch holds.
    pub points: usize,
    /// The largest excess L_path(β) − min_paths L(β) over the stretch, nats.
    pub max_excess: T,
    /// The β of the largest excess.
    pub beta_max_excess: T,
    /// The path that reached the lowest objective there (the first, in the order the
    /// paths were given, within [`OBJECTIVES_DIFFER`] of it).
    pub best_direction: Direction,
}

/// The metastable stretches of every path: at each β that two or more paths share, a
/// converged point whose objective L = (method's functional, nats) lies above the lowest
/// objective of any path at that β by more than [`OBJECTIVES_DIFFER`] · max(1, |L|) is
/// above the best; runs of such points along a path (not interrupted by a shared β where
/// it is not above) form one stretch. The lowest objective is taken over every point with a
/// finite objective whose solve did not break down: any encoder's objective bounds the
/// minimum from above, converged or not. Points that stopped at the cap are never flagged:
/// they may lie above only because they are unconverged (their termination says so in
/// path.csv).
///
/// Unlike [`hysteresis_ranges`] this also compares with the independent mode, and it says
/// which path is the worse one: with `--direction all` a stretch where the up and down
/// sweeps agree but both lie above an independent start is reported.
pub fn metastable_stretches<T: Real>(paths: &[Path<T>]) -> Vec<Metastable<T>> {
    // The lowest objective at a beta, if two or more paths have that beta, with the first
    // path (in the order given) that reaches it up to OBJECTIVES_DIFFER: where the down
    // sweep and the independent mode tie to rounding, the sweep is named.
    let best_at = |beta: &T| -> Option<(T, Direction)> {
        let here: Vec<(&Path<T>, &Solution<T>)> = paths
            .iter()
            .filter_map(|path| {
                path.points
                    .iter()
                    .find(|s| s.beta == *beta)
                    .map(|s| (path, s))
            })
            .collect();
        if here.len() < 2 {
            return None;
        }
        let lowest = here
            .iter()
            .filter(|(_, s)| is_solution(s))
            .map(|(_, s)| s.objective.clone())
            .reduce(|a, b| a.min_of(b))?;
        let (path, _) = here
            .iter()
            .find(|(_, s)| is_solution(s) && !differ(&s.objective, &lowest))?;
        Some((lowest, path.direction))
    };
    let mut out = Vec::new();
    for path in paths {
        let mut open: Option<Metastable<T>> = None;
        for s in &path.points {
            let Some((best, best_direction)) = best_at(&s.beta) else {
                continue;
            };
            let above = s.termination == Termination::Converged
                && is_solution(s)
                && s.objective > best
                && differ(&s.objective, &best);
            if !above {
                out.extend(open.take());
                continue;
            }
            let excess = s.objective.clone() - &best;
            match &mut open {
                Some(m) => {
                    m.beta_last = s.beta.clone();
                    m.points += 1;
                    if excess > m.max_excess {
                        m.max_excess = excess;
                        m.beta_max_excess = s.beta.clone();
                        m.best_direction = best_direction;
                    }
                }
                None => {
                    open = Some(Metastable {
                        direction: path.direction,
                        beta_first: s.beta.clone(),
                        beta_last: s.beta.clone(),
                        points: 1,
                        max_excess: excess,
                        beta_max_excess: s.beta.clone(),
                        best_direction,
                    })
                }
            }
        }
        out.extend(open);
    }
    out
}
