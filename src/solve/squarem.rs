//! SQUAREM (scheme S3, Varadhan & Roland 2008) on the log-encoder: the driver of
//! [`Acceleration::Squarem`](super::Acceleration::Squarem).

use nalgebra::DMatrix;

use super::{driver_parts, max_abs_diff, report, Iterate, Observer, Run, Stop, Termination};
use crate::bottleneck::Bottleneck;
use crate::dist::Joint;
use crate::scalar::Real;

/// The S3 step length −‖r‖/‖v‖ in log space, r = ℓ1 − ℓ0, v = ℓ2 − 2ℓ1 + ℓ0, over the
/// entries positive in all three iterates; `None` when v vanishes.
fn step_length<T: Real>(l0: &DMatrix<T>, l1: &DMatrix<T>, l2: &DMatrix<T>) -> Option<T> {
    let (mut rr, mut vv) = (T::zero(), T::zero());
    for ((a, b), c) in l0.as_slice().iter().zip(l1.as_slice()).zip(l2.as_slice()) {
        if !(a.is_finite() && b.is_finite() && c.is_finite()) {
            continue;
        }
        let r = b.clone() - a;
        let v = c.clone() - b - b + a;
        rr.add_mul(&r, &r);
        vv.add_mul(&v, &v);
    }
    (vv > T::zero() && vv.is_finite() && rr.is_finite()).then(|| -(rr / vv).sqrt())
}

/// The SQUAREM S3 extrapolation ℓ' = ℓ0 − 2αr + α²v, each row renormalised (see
/// [`Acceleration::Squarem`]). Entries that are zero in any of the three iterates keep
/// q2's value; the others share the rest of the row's mass in proportion to exp(ℓ').
/// `None` if the result is not a finite encoder. Walks the matrices column by column
/// (their storage order), with per-row accumulators.
fn extrapolate<T: Real>(
    i0: &Iterate<T>,
    i1: &Iterate<T>,
    i2: &Iterate<T>,
    alpha: &T,
) -> Option<Iterate<T>> {
    let (nx, nt) = i0.q.shape();
    let c_r = -(T::from_f64(2.0) * alpha);
    let c_v = alpha.clone() * alpha;
    let mut q = i2.q.clone();
    let mut log = i2.log.clone();
    let mut free = DMatrix::from_element(nx, nt, false);
    let mut max: Vec<Option<T>> = vec![None; nx];
    let mut fixed_mass = vec![T::zero(); nx];
    for t in 0..nt {
        for x in 0..nx {
            let (a, b, c) = (&i0.log[(x, t)], &i1.log[(x, t)], &i2.log[(x, t)]);
            if !(a.is_finite() && b.is_finite() && c.is_finite()) {
                fixed_mass[x] += &i2.q[(x, t)];
                continue;
            }
            free[(x, t)] = true;
            let r = b.clone() - a;
            let v = c.clone() - b - b + a;
            let l = a.clone() + c_r.clone() * r + c_v.clone() * v;
            if max[x].as_ref().is_none_or(|m| l > *m) {
                max[x] = Some(l.clone());
            }
            log[(x, t)] = l;
        }
    }
    let mut total = vec![T::zero(); nx];
    // Column by column: the shifted logs of the free entries exponentiated together
    // (−inf elsewhere, e^−inf = 0, not written back).
    let mut weights = vec![T::zero(); nx];
    for t in 0..nt {
        for (x, w) in weights.iter_mut().enumerate() {
            *w = match (free[(x, t)], &max[x]) {
                (true, Some(m)) => {
                    log[(x, t)] -= m;
                    log[(x, t)].clone()
                }
                _ => -T::infinity(),
            };
        }
        T::exp_in_place(&mut weights);
        for (x, w) in weights.iter_mut().enumerate() {
            if free[(x, t)] && max[x].is_some() {
                total[x] += &*w;
                q[(x, t)] = std::mem::replace(w, T::zero());
            }
        }
    }
    let mut scale = Vec::with_capacity(nx);
    for x in 0..nx {
        let free_mass = T::one() - &fixed_mass[x];
        if max[x].is_some() && free_mass <= T::zero() {
            return None;
        }
        let s = free_mass / &total[x];
        scale.push((s.ln(), s));
    }
    for t in 0..nt {
        for x in 0..nx {
            if free[(x, t)] {
                log[(x, t)] += &scale[x].0;
                let v = std::mem::replace(&mut q[(x, t)], T::zero());
                q[(x, t)] = (v * &scale[x].1).flush_subnormal();
            }
        }
    }
    let out = Iterate::new(q, log);
    out.finite().then_some(out)
}

pub(super) fn iterate_squarem<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    init: DMatrix<T>,
    stop: &Stop<T>,
    observer: &mut impl Observer,
) -> Run<T> {
    let minus_one = -T::one();
    let growth = T::from_f64(4.0);
    let (slack, step, objective, done) = driver_parts(method, p, beta);
    let mut alpha_max = T::one();
    let mut i0 = Iterate::of(init);
    let mut f0: Option<T> = None;
    // The lowest objective of an iterate so far: candidates are measured against it, so
    // the rounding slack cannot accumulate into a drift upwards.
    let mut f_floor: Option<T> = None;
    let mut evals = 0usize;
    let mut residual = T::infinity();
    loop {
        if evals >= stop.max_iter {
            return done(i0, evals, Termination::MaxIter, residual);
        }
        let i1 = step(&i0);
        evals += 1;
        if !i1.finite() {
            return done(i0, evals, Termination::NonFinite, residual);
        }
        residual = max_abs_diff(&i1.q, &i0.q);
        if residual <= stop.tol || evals >= stop.max_iter {
            report(observer, evals, &residual, || objective(&i1));
            let termination = if residual <= stop.tol {
                Termination::Converged
            } else {
                Termination::MaxIter
            };
            return done(i1, evals, termination, residual);
        }
        let i2 = step(&i1);
        evals += 1;
        if !i2.finite() {
            return done(i1, evals, Termination::NonFinite, residual);
        }
        let residual2 = max_abs_diff(&i2.q, &i1.q);
        if residual2 <= stop.tol {
            report(observer, evals, &residual2, || objective(&i2));
            return done(i2, evals, Termination::Converged, residual2);
        }
        // α = −1 is the plain double step; at the initial cap the cap only grows.
        let raw = step_length(&i0.log, &i1.log, &i2.log);
        let at_initial_cap = alpha_max <= T::one();
        if raw.as_ref().is_some_and(|a| *a < minus_one) && at_initial_cap {
            alpha_max *= &growth;
        }
        let alpha = raw
            .filter(|a| *a < minus_one && !at_initial_cap && evals < stop.max_iter)
            .map(|a| a.max_of(-alpha_max.clone()));
        let candidate = alpha.as_ref().and_then(|a| extrapolate(&i0, &i1, &i2, a));
        let accepted = candidate.and_then(|ext| {
            let i3 = step(&ext);
            evals += 1;
            if !i3.finite() {
                return None;
            }
            let f_base = f0.take().unwrap_or_else(|| objective(&i0));
            let f3 = objective(&i3);
            f0 = Some(f_base.clone());
            let floor = f_floor
                .take()
                .map_or(f_base.clone(), |m| m.min_of(f_base.clone()));
            f_floor = Some(floor.clone());
            let r3 = max_abs_diff(&i3.q, &ext.q);
            (f3.is_finite() && f3 <= floor.clone() + slack(&floor)).then_some((i3, f3, r3))
        });
        match accepted {
            Some((i3, f3, r3)) => {
                f_floor = f_floor.map(|m| m.min_of(f3.clone()));
                if alpha.as_ref().is_some_and(|a| *a <= -alpha_max.clone()) {
                    alpha_max *= &growth;
                }
                residual = r3;
                report(observer, evals, &residual, || f3.clone());
                i0 = i3;
                f0 = Some(f3);
            }
            None => {
                if alpha.is_some() {
                    // Rejected (or infeasible): a shorter cap, and the plain double step.
                    alpha_max = (alpha_max.clone() / &growth).max_of(growth.clone());
                }
                residual = residual2;
                report(observer, evals, &residual, || objective(&i2));
                i0 = i2;
                f0 = None;
            }
        }
    }
}
