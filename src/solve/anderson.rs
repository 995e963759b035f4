//! Anderson acceleration (type II, depth 5) on the log-encoder, weighted in the
//! objective's local metric and guarded by the objective: the driver of
//! [`Acceleration::Anderson`](super::Acceleration::Anderson).

use std::collections::VecDeque;

use nalgebra::DMatrix;

use super::{driver_parts, max_abs_diff, report, Iterate, Observer, Run, Stop, Termination};
use crate::bottleneck::Bottleneck;
use crate::dist::Joint;
use crate::scalar::Real;

/// Depth of the Anderson history.
const ANDERSON_DEPTH: usize = 5;

/// Solves the small system a x = b (the Anderson normal equations, m <= 5) by Gaussian
/// elimination with partial pivoting; `None` if singular or not finite.
fn solve_small<T: Real>(mut a: Vec<Vec<T>>, mut b: Vec<T>) -> Option<Vec<T>> {
    let n = b.len();
    for c in 0..n {
        let piv = (c..n).max_by(|&i, &j| {
            a[i][c]
                .clone()
                .abs()
                .partial_cmp(&a[j][c].clone().abs())
                .unwrap_or(std::cmp::Ordering::Equal)
        })?;
        if a[piv][c].is_zero() || !a[piv][c].is_finite() {
            return None;
        }
        a.swap(c, piv);
        b.swap(c, piv);
        let (pivot_rows, rest) = a.split_at_mut(c + 1);
        let pivot = &pivot_rows[c];
        for (offset, row) in rest.iter_mut().enumerate() {
            let f = row[c].clone() / &pivot[c];
            for (entry, p) in row[c..].iter_mut().zip(&pivot[c..]) {
                *entry -= f.clone() * p;
            }
            let v = f * &b[c];
            b[c + 1 + offset] -= v;
        }
    }
    let mut x = vec![T::zero(); n];
    for c in (0..n).rev() {
        let mut acc = b[c].clone();
        for k in c + 1..n {
            acc -= a[c][k].clone() * &x[k];
        }
        x[c] = acc / &a[c][c];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Σ_i a_i b_i, summed in four interleaved partial sums (i mod 4) added at the end: a
/// fixed order (so the same result on any number of threads) that lets the f64 sums run
/// in parallel in the processor instead of waiting on one accumulator.
fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    let mut partial = [T::zero(), T::zero(), T::zero(), T::zero()];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail = a4.remainder().iter().zip(b4.remainder());
    for (x, y) in a4.zip(b4) {
        for k in 0..4 {
            partial[k].add_mul(&x[k], &y[k]);
        }
    }
    for (x, y) in tail {
        partial[0].add_mul(x, y);
    }
    let [s0, s1, s2, s3] = partial;
    (s0 + s1) + (s2 + s3)
}

/// Builds an iterate from log values on the free entries (`rows[k]` is the row of
/// `free[k]`), each row renormalised so that the free entries share the mass that
/// `fixed` gives them; the other entries are taken from `fixed`. `None` if not finite.
/// `values` is used as scratch (it holds the weights afterwards).
fn from_free_log<T: Real>(
    fixed: &Iterate<T>,
    free: &[usize],
    rows: &[usize],
    values: &mut [T],
) -> Option<Iterate<T>> {
    let nx = fixed.q.nrows();
    let mut out = Iterate::new(fixed.q.clone(), fixed.log.clone());
    let (q, log) = (out.q.as_mut_slice(), out.log.as_mut_slice());
    let fixed_q = fixed.q.as_slice();
    let mut max: Vec<Option<T>> = vec![None; nx];
    let mut free_mass = vec![T::zero(); nx];
    for ((&i, &x), v) in free.iter().zip(rows).zip(values.iter()) {
        free_mass[x] += &fixed_q[i];
        if max[x].as_ref().is_none_or(|m| v > m) {
            max[x] = Some(v.clone());
        }
    }
    // The shifted logs, kept in the iterate and exponentiated in place (the weights).
    for ((&i, &x), v) in free.iter().zip(rows).zip(values.iter_mut()) {
        *v -= max[x].as_ref().expect("row has a free entry");
        log[i] = v.clone();
    }
    T::exp_in_place(values);
    let mut total = vec![T::zero(); nx];
    for ((&i, &x), w) in free.iter().zip(rows).zip(values.iter_mut()) {
        total[x] += &*w;
        q[i] = std::mem::replace(w, T::zero());
    }
    let mut scale = Vec::with_capacity(nx);
    for x in 0..nx {
        if max[x].is_some() && free_mass[x].is_zero() {
            return None;
        }
        let s = free_mass[x].clone() / &total[x];
        scale.push((s.ln(), s));
    }
    for (&i, &x) in free.iter().zip(rows) {
        log[i] += &scale[x].0;
        let v = std::mem::replace(&mut q[i], T::zero());
        q[i] = (v * &scale[x].1).flush_subnormal();
    }
    out.finite().then_some(out)
}

/// The Anderson history: differences of (weighted) residuals and of images, with their
/// Gram matrix kept up to date. Its vectors (one entry per free entry) are recycled:
/// a difference is formed in the buffer of the value it differences against, and the
/// buffers of a forgotten step hold the next residual and image.
struct AndersonHistory<T> {
    /// Entries (column-major indices) that are positive in the iterate and its image.
    free: Vec<usize>,
    /// The row x of each free entry.
    rows: Vec<usize>,
    /// sqrt(p(x) q(t|x)) on `free`, frozen when the history starts.
    root_weight: Vec<T>,
    /// (weighted Δf, Δg) per remembered step, oldest first.
    columns: VecDeque<(Vec<T>, Vec<T>)>,
    /// gram[i][j] = ⟨Δf_i, Δf_j⟩ (weighted).
    gram: VecDeque<VecDeque<T>>,
    /// The last weighted residual and image, to difference against.
    previous: Option<(Vec<T>, Vec<T>)>,
    /// Buffers no longer in use, for the next residual, image or candidate.
    spare: Vec<Vec<T>>,
}

impl<T: Real> AndersonHistory<T> {
    fn new() -> Self {
        AndersonHistory {
            free: Vec::new(),
            rows: Vec::new(),
            root_weight: Vec::new(),
            columns: VecDeque::new(),
            gram: VecDeque::new(),
            previous: None,
            spare: Vec::new(),
        }
    }

    fn clear(&mut self) {
        for (a, b) in self.columns.drain(..).chain(self.previous.take()) {
            self.spare.push(a);
            self.spare.push(b);
        }
        self.gram.clear();
    }

    /// A buffer of `len` entries (contents unspecified): a spare one if any.
    fn buffer(&mut self, len: usize) -> Vec<T> {
        let mut v = self.spare.pop().unwrap_or_default();
        v.resize(len, T::zero());
        v
    }

    /// Records the pair (x, g = F(x)) and, when `wanted`, returns the Anderson candidate
    /// g − ΔG γ, γ = argmin ‖W^(1/2) (f − ΔF γ)‖, f = ln g − ln x; `None` when not wanted,
    /// with no history yet, or with a singular system. Restarts the history when the
    /// support changes.
    fn candidate(
        &mut self,
        p_x: &[T],
        x: &Iterate<T>,
        g: &Iterate<T>,
        wanted: bool,
    ) -> Option<Iterate<T>> {
        let nx = x.q.nrows();
        let (x_log, g_log, g_q) = (x.log.as_slice(), g.log.as_slice(), g.q.as_slice());
        let both = |i: usize| x_log[i].is_finite() && g_log[i].is_finite();
        // One pass: is the support the remembered one?
        let same_support = self.previous.is_some() && {
            let mut k = 0;
            (0..x_log.len()).all(|i| {
                let on = both(i);
                let listed = self.free.get(k) == Some(&i);
                if listed {
                    k += 1;
                }
                on == listed
            }) && k == self.free.len()
        };
        if !same_support {
            self.clear();
            self.free = (0..x_log.len()).filter(|&i| both(i)).collect();
            self.rows = self.free.iter().map(|&i| i % nx).collect();
            self.root_weight = self
                .free
                .iter()
                .zip(&self.rows)
                .map(|(&i, &r)| (p_x[r].clone() * &g_q[i]).sqrt())
                .collect();
        }
        let n = self.free.len();
        let mut f = self.buffer(n);
        let mut image = self.buffer(n);
        for (((fk, ik), &i), w) in f
            .iter_mut()
            .zip(image.iter_mut())
            .zip(&self.free)
            .zip(&self.root_weight)
        {
            *fk = (g_log[i].clone() - &x_log[i]) * w;
            *ik = g_log[i].clone();
        }
        if let Some((mut df, mut dg)) = self.previous.take() {
            // Δf = f − f_previous and Δg = image − image_previous, in the previous buffers.
            for (d, a) in df.iter_mut().zip(&f) {
                *d = a.clone() - &*d;
            }
            for (d, a) in dg.iter_mut().zip(&image) {
                *d = a.clone() - &*d;
            }
            if self.columns.len() == ANDERSON_DEPTH {
                let (a, b) = self.columns.pop_front().expect("history is full");
                self.spare.push(a);
                self.spare.push(b);
                self.gram.pop_front();
                for row in self.gram.iter_mut() {
                    row.pop_front();
                }
            }
            let row: VecDeque<T> = self
                .columns
                .iter()
                .map(|(other, _)| dot(other, &df))
                .collect();
            for (r, v) in self.gram.iter_mut().zip(&row) {
                r.push_back(v.clone());
            }
            let mut row = row;
            row.push_back(dot(&df, &df));
            self.gram.push_back(row);
            self.columns.push_back((df, dg));
        }
        let m = self.columns.len();
        let candidate = if wanted && m > 0 {
            let scale = (0..m).fold(T::zero(), |a, i| a.max_of(self.gram[i][i].clone()));
            let mut system: Vec<Vec<T>> = self
                .gram
                .iter()
                .map(|r| r.iter().cloned().collect())
                .collect();
            for (i, row) in system.iter_mut().enumerate() {
                row[i] += T::from_f64(1e-12) * &scale;
            }
            let rhs: Vec<T> = self.columns.iter().map(|(df, _)| dot(df, &f)).collect();
            solve_small(system, rhs).and_then(|gamma| {
                // image − Σ_j γ_j Δg_j, oldest first (one streaming pass per column).
                let mut values = self.buffer(n);
                values.clone_from_slice(&image);
                for (gj, (_, dg)) in gamma.iter().zip(&self.columns) {
                    for (v, d) in values.iter_mut().zip(dg) {
                        *v -= gj.clone() * d;
                    }
                }
                let built = from_free_log(g, &self.free, &self.rows, &mut values);
                self.spare.push(values);
                built
            })
        } else {
            None
        };
        self.previous = Some((f, image));
        candidate
    }
}

pub(super) fn iterate_anderson<T: Real, B: Bottleneck<T>>(
    method: &B,
    p: &Joint<T>,
    beta: &T,
    init: DMatrix<T>,
    stop: &Stop<T>,
    observer: &mut impl Observer,
) -> Run<T> {
    let (slack, step, objective, done) = driver_parts(method, p, beta);
    let mut x = Iterate::of(init);
    // The guard measures the iterate a step starts from, not its image: the objective
    // then shares the step's q(t) and decoder (one decoder per evaluation instead of two).
    // A step never raises the objective, so each image lies below its own iterate, L(F(x))
    // <= L(x); an image may lie above an earlier image, by at most that image's one-step
    // decrease.
    let mut f_x = objective(&x);
    let mut g = step(&x);
    let mut evals = 1usize;
    if !g.finite() {
        return done(x, evals, Termination::NonFinite, T::infinity());
    }
    let mut residual = max_abs_diff(&g.q, &x.q);
    // The lowest objective of an iterate stepped from so far: candidates are measured
    // against it, so the rounding slack cannot accumulate into a drift upwards.
    let mut f_floor = f_x.clone();
    report(observer, evals, &residual, || f_x.clone());
    if residual <= stop.tol {
        return done(g, evals, Termination::Converged, residual);
    }
    let mut history = AndersonHistory::new();
    // After a rejected candidate, 2^r plain steps (r consecutive rejections, r <= 6) go
    // by before the next try: near a saddle the extrapolation keeps pointing back at it.
    let mut cooldown = 0usize;
    let mut rejections = 0u32;
    loop {
        if evals >= stop.max_iter {
            return done(g, evals, Termination::MaxIter, residual);
        }
        // In a cooldown the pair is only recorded: no candidate is built.
        let wanted = cooldown == 0;
        cooldown = cooldown.saturating_sub(1);
        let candidate = history.candidate(p.p_x(), &x, &g, wanted);
        let tried = candidate.is_some();
        let accepted = candidate.and_then(|c| {
            let fc = objective(&c);
            if !(fc.is_finite() && fc <= f_floor.clone() + slack(&f_floor)) {
                return None;
            }
            let gc = step(&c);
            evals += 1;
            gc.finite().then_some((c, gc, fc))
        });
        match accepted {
            Some((c, gc, fc)) => {
                f_floor = f_floor.min_of(fc.clone());
                rejections = 0;
                x = c;
                g = gc;
                f_x = fc;
            }
            None => {
                if tried {
                    history.clear();
                    rejections = (rejections + 1).min(6);
                    cooldown = 1 << rejections;
                }
                let next = step(&g);
                evals += 1;
                if !next.finite() {
                    return done(g, evals, Termination::NonFinite, residual);
                }
                x = std::mem::replace(&mut g, next);
                f_x = objective(&x);
                f_floor = f_floor.min_of(f_x.clone());
            }
        }
        residual = max_abs_diff(&g.q, &x.q);
        report(observer, evals, &residual, || f_x.clone());
        if residual <= stop.tol {
            return done(g, evals, Termination::Converged, residual);
        }
    }
}
