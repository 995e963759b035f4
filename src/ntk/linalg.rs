//! Dense symmetric linear algebra written once over [`Real`]: products, Cholesky with
//! triangular solves, and the symmetric eigen-decomposition. The same code runs in
//! `f64` and in MPFR; nalgebra's matrix product dispatches `f64` to `matrixmultiply`,
//! and the O(n³) loops are split across threads with rayon.
//!
//! No routine forms an inverse: systems are solved with triangular substitutions on a
//! Cholesky factor, and functions of a symmetric matrix are applied in its eigenbasis.
//!
//! References: Golub & Van Loan, *Matrix Computations*, 4th ed. (2013), §4.2 (Cholesky),
//! §8.3 (Householder tridiagonalisation and the implicit symmetric QR/QL step) \[GVL13\];
//! the EISPACK/JAMA `tred2`/`tql2` routines (Bowdler, Martin, Reinsch & Wilkinson 1968),
//! whose QL sweep is transcribed here. \[GVL13\] is recalled, not re-read for this code.

use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::scalar::Real;

/// Below this many rows the loops run on one thread (rayon's overhead would dominate).
const PAR_MIN: usize = 96;

/// The symmetric part (A + Aᵀ)/2 of a square matrix.
///
/// # Formula
/// S_ij = (A_ij + A_ji)/2; the diagonal is copied unchanged.
pub fn symmetrize<T: Real>(a: &DMatrix<T>) -> DMatrix<T> {
    let n = a.nrows();
    let half = T::from_f64(0.5);
    DMatrix::from_fn(n, n, |i, j| {
        if i == j {
            a[(i, i)].clone()
        } else {
            (a[(i, j)].clone() + &a[(j, i)]) * &half
        }
    })
}

/// The product A·B, with the columns of B shared among rayon's threads when the product
/// is large. Each part is nalgebra's product (for `f64`, `matrixmultiply`'s dgemm).
pub fn matmul<T: Real>(a: &DMatrix<T>, b: &DMatrix<T>) -> DMatrix<T> {
    assert_eq!(a.ncols(), b.nrows(), "matmul: inner dimensions differ");
    let (m, n) = (a.nrows(), b.ncols());
    let threads = rayon::current_num_threads().max(1);
    let work = m.saturating_mul(a.ncols()).saturating_mul(n);
    if threads == 1 || n < 2 * 16 || work < 1 << 22 {
        return a * b;
    }
    let parts = (2 * threads).min(n / 16).max(1);
    let width = n.div_ceil(parts);
    let blocks: Vec<(usize, DMatrix<T>)> = (0..parts)
        .into_par_iter()
        .filter_map(|p| {
            let j0 = p * width;
            let j1 = (j0 + width).min(n);
            (j0 < j1).then(|| (j0, a * b.columns(j0, j1 - j0)))
        })
        .collect();
    let mut c = DMatrix::zeros(m, n);
    for (j0, block) in blocks {
        c.columns_mut(j0, block.ncols()).copy_from(&block);
    }
    c
}

/// The product Aᵀ·B (through an explicit transpose, so that the product is a dgemm).
pub fn matmul_tn<T: Real>(a: &DMatrix<T>, b: &DMatrix<T>) -> DMatrix<T> {
    matmul(&a.transpose(), b)
}

/// The trace Σ_i A_ii.
pub fn trace<T: Real>(a: &DMatrix<T>) -> T {
    (0..a.nrows().min(a.ncols())).fold(T::zero(), |acc, i| acc + &a[(i, i)])
}

/// `y ← y − alpha·x` on equal-length slices.
#[inline]
fn axpy_neg<T: Real>(y: &mut [T], alpha: &T, x: &[T]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi -= alpha.clone() * xi;
    }
}

/// Σ x_i y_i.
#[inline]
fn dot<T: Real>(x: &[T], y: &[T]) -> T {
    x.iter()
        .zip(y)
        .fold(T::zero(), |acc, (a, b)| acc + a.clone() * b)
}

/// sqrt(a² + b²) without overflow or underflow in the squares.
fn hypot<T: Real>(a: &T, b: &T) -> T {
    let (x, y) = (a.abs(), b.abs());
    let big = x.clone().max_of(y.clone());
    if big.is_zero() {
        return T::zero();
    }
    let (p, q) = (x / &big, y / &big);
    big * (p.clone() * &p + q.clone() * &q).sqrt()
}

/// A Cholesky factor A = L·Lᵀ (L lower triangular with a positive diagonal) of a
/// symmetric positive-definite matrix, with the solves and the log-determinant it gives.
///
/// # Formula
/// Right-looking column Cholesky \[GVL13 alg. 4.2.1\]: for j = 0..n: L_jj = sqrt(A_jj),
/// L_ij = A_ij / L_jj (i > j), then A_ic ← A_ic − L_ij L_cj for c > j, i ≥ c.
/// ln det A = 2 Σ_i ln L_ii.
#[derive(Clone, Debug)]
pub struct Cholesky<T: Real> {
    l: DMatrix<T>,
    jitter: Option<T>,
}

impl<T: Real> Cholesky<T> {
    /// Factors the lower triangle of `a` (the upper triangle is not read). `None` when a
    /// pivot is not positive (or not a number): `a` is not positive definite at the
    /// working precision.
    pub fn new(a: &DMatrix<T>) -> Option<Self> {
        let n = a.nrows();
        assert_eq!(n, a.ncols(), "Cholesky: the matrix is not square");
        let mut w = a.clone();
        {
            let data = w.as_mut_slice();
            for j in 0..n {
                let (left, right) = data.split_at_mut((j + 1) * n);
                let col = &mut left[j * n..];
                let pivot = col[j].clone();
                if pivot.partial_cmp(&T::zero()) != Some(std::cmp::Ordering::Greater)
                    || !pivot.is_finite()
                {
                    return None;
                }
                let d = pivot.sqrt();
                for v in col[j + 1..].iter_mut() {
                    *v /= &d;
                }
                col[j] = d;
                let colj: &[T] = col;
                let update = |(idx, c): (usize, &mut [T])| {
                    let cc = j + 1 + idx;
                    let f = colj[cc].clone();
                    if !f.is_zero() {
                        axpy_neg(&mut c[cc..], &f, &colj[cc..]);
                    }
                };
                if n - j > PAR_MIN {
                    right.par_chunks_mut(n).enumerate().for_each(update);
                } else {
                    right.chunks_mut(n).enumerate().for_each(update);
                }
            }
        }
        for j in 1..n {
            for i in 0..j {
                w[(i, j)] = T::zero();
            }
        }
        Some(Cholesky { l: w, jitter: None })
    }

    /// Factors `a`, and when it is not positive definite retries with a growing jitter
    /// a + δ·mean(diag a)·I, δ = 16·n·ε·10^j (j = 0, 1, ...) while δ ≤ 1e-6 (the ladder
    /// of spec ntk-math D.2, started at the working precision). [`Cholesky::jitter`]
    /// reports the absolute δ·mean(diag a) that was added. `None` when even the largest
    /// jitter fails.
    pub fn with_jitter(a: &DMatrix<T>) -> Option<Self> {
        if let Some(c) = Self::new(a) {
            return Some(c);
        }
        let n = a.nrows();
        let scale = trace(a) / T::from_u64(n.max(1) as u64);
        if scale.partial_cmp(&T::zero()) != Some(std::cmp::Ordering::Greater) {
            return None;
        }
        let cap = T::parse("1e-6").expect("a decimal constant");
        let ten = T::from_f64(10.0);
        let mut delta = T::from_u64(16 * n.max(1) as u64) * T::epsilon();
        while delta <= cap {
            let add = delta.clone() * &scale;
            let mut b = a.clone();
            for i in 0..n {
                b[(i, i)] += &add;
            }
            if let Some(mut c) = Self::new(&b) {
                c.jitter = Some(add);
                return Some(c);
            }
            delta *= &ten;
        }
        None
    }

    /// The factor L (lower triangular).
    pub fn l(&self) -> &DMatrix<T> {
        &self.l
    }

    /// The absolute jitter added to the diagonal by [`Cholesky::with_jitter`], if any.
    pub fn jitter(&self) -> Option<&T> {
        self.jitter.as_ref()
    }

    /// ln det A = 2 Σ ln L_ii.
    pub fn ln_det(&self) -> T {
        let two = T::from_f64(2.0);
        (0..self.l.nrows()).fold(T::zero(), |acc, i| acc + self.l[(i, i)].ln()) * two
    }

    /// X = L⁻¹·B by forward substitution (column-oriented, columns of B in parallel).
    pub fn solve_lower(&self, b: &DMatrix<T>) -> DMatrix<T> {
        let n = self.l.nrows();
        assert_eq!(b.nrows(), n, "solve_lower: row count differs");
        let mut x = b.clone();
        if n == 0 || b.ncols() == 0 {
            return x;
        }
        let l = self.l.as_slice();
        let block = |cols: &mut [T]| {
            for k in 0..n {
                let lk = &l[k * n..(k + 1) * n];
                for col in cols.chunks_mut(n) {
                    let xk = col[k].clone() / &lk[k];
                    if !xk.is_zero() {
                        axpy_neg(&mut col[k + 1..], &xk, &lk[k + 1..]);
                    }
                    col[k] = xk;
                }
            }
        };
        run_column_blocks(x.as_mut_slice(), n, block);
        x
    }

    /// X = L⁻ᵀ·B by back substitution.
    pub fn solve_upper_t(&self, b: &DMatrix<T>) -> DMatrix<T> {
        let n = self.l.nrows();
        assert_eq!(b.nrows(), n, "solve_upper_t: row count differs");
        let mut x = b.clone();
        if n == 0 || b.ncols() == 0 {
            return x;
        }
        let l = self.l.as_slice();
        let block = |cols: &mut [T]| {
            for k in (0..n).rev() {
                let lk = &l[k * n..(k + 1) * n];
                for col in cols.chunks_mut(n) {
                    let s = dot(&lk[k + 1..], &col[k + 1..]);
                    col[k] = (col[k].clone() - s) / &lk[k];
                }
            }
        };
        run_column_blocks(x.as_mut_slice(), n, block);
        x
    }

    /// X = A⁻¹·B = L⁻ᵀ(L⁻¹ B).
    pub fn solve(&self, b: &DMatrix<T>) -> DMatrix<T> {
        self.solve_upper_t(&self.solve_lower(b))
    }
}

/// Runs `f` on groups of 16 columns (each `n` long) of a column-major buffer, in parallel.
fn run_column_blocks<T: Real, F>(data: &mut [T], n: usize, f: F)
where
    F: Fn(&mut [T]) + Sync + Send,
{
    let group = 16 * n;
    if data.len() > group && n > PAR_MIN {
        data.par_chunks_mut(group).for_each(f);
    } else {
        data.chunks_mut(group).for_each(f);
    }
}

/// The eigen-decomposition A = V·diag(λ)·Vᵀ of a real symmetric matrix, eigenvalues in
/// increasing order and orthonormal eigenvectors in the columns of V.
///
/// # Method
/// Householder reduction to tridiagonal form T = QᵀAQ \[GVL13 alg. 8.3.1\], then the
/// implicit QL iteration with Wilkinson-type shifts on T (EISPACK `tql2`), whose plane
/// rotations are recorded and then applied to the rows of Q in parallel blocks. Each
/// eigenvalue is converged when its off-diagonal element is below ε·max_l(|d_l| + |e_l|);
/// [`SymmetricEigen::converged`] is false when some eigenvalue needed more than 60
/// sweeps (it never happens for finite input) or the input was not finite.
/// The eigenvalues are accurate to a few ε·‖A‖ at the working precision. The matrix is
/// first divided by the power of two nearest below max |a_ij| (exact), so that entries
/// near either end of the exponent range (a regulariser of 1e300 in `f64`) neither
/// overflow nor underflow in the squares of the reduction; the eigenvalues are
/// multiplied back.
#[derive(Clone, Debug)]
pub struct SymmetricEigen<T: Real> {
    /// Eigenvalues, increasing.
    pub values: Vec<T>,
    /// Orthonormal eigenvectors, one per column, in the order of `values`.
    pub vectors: DMatrix<T>,
    /// Whether the QL iteration converged for every eigenvalue.
    pub converged: bool,
}

impl<T: Real> SymmetricEigen<T> {
    /// Decomposes the symmetric part (A + Aᵀ)/2 of `a`.
    pub fn new(a: &DMatrix<T>) -> Self {
        let n = a.nrows();
        assert_eq!(n, a.ncols(), "SymmetricEigen: the matrix is not square");
        if n == 0 {
            return SymmetricEigen {
                values: Vec::new(),
                vectors: DMatrix::zeros(0, 0),
                converged: true,
            };
        }
        if a.iter().any(|v| !v.is_finite()) {
            return SymmetricEigen {
                values: vec![T::zero() / T::zero(); n],
                vectors: DMatrix::identity(n, n),
                converged: false,
            };
        }
        // Scaled by a power of two near max |a_ij| (exact), so that no intermediate of
        // the reduction overflows or underflows for entries near the ends of the
        // exponent range; the eigenvalues are scaled back, the vectors do not change.
        let big = a.iter().fold(0.0f64, |m, x| m.max(x.to_f64().abs()));
        let scale = if big > 0.0 && big.is_finite() {
            T::from_f64(2f64.powi(big.log2().floor() as i32))
        } else {
            T::one()
        };
        let mut w = symmetrize(a);
        if !scale.is_one() {
            w.iter_mut().for_each(|x| *x /= &scale);
        }
        let (mut d, mut e, taus) = tridiagonalize(&mut w);
        let q = form_q(&w, &taus);
        let (rotations, converged) = tql(&mut d, &mut e);
        let z = apply_rotations(q, &rotations);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&i, &j| d[i].partial_cmp(&d[j]).unwrap_or(std::cmp::Ordering::Equal));
        let values = order.iter().map(|&i| d[i].clone() * &scale).collect();
        let mut vectors = DMatrix::zeros(n, n);
        for (new, &old) in order.iter().enumerate() {
            vectors.column_mut(new).copy_from(&z.column(old));
        }
        SymmetricEigen {
            values,
            vectors,
            converged,
        }
    }
}

/// Householder tridiagonalisation of the full symmetric `w` (overwritten). Returns the
/// diagonal d, the subdiagonal e (e\[i\] = T[i+1, i], e[n−1] = 0) and the reflector
/// scalars τ_k; reflector k is u_k = (0,…,0, 1, w[k+2.., k]) with its 1 at row k+1.
#[allow(clippy::type_complexity)]
fn tridiagonalize<T: Real>(w: &mut DMatrix<T>) -> (Vec<T>, Vec<T>, Vec<T>) {
    let n = w.nrows();
    let mut d = vec![T::zero(); n];
    let mut e = vec![T::zero(); n];
    let mut taus = Vec::with_capacity(n.saturating_sub(2));
    let half = T::from_f64(0.5);
    for k in 0..n.saturating_sub(2) {
        let m = n - k - 1;
        let data = w.as_mut_slice();
        d[k] = data[k * n + k].clone();
        // The Householder vector of x = w[k+1.., k] (LAPACK dlarfg).
        let x = &mut data[k * n + k + 1..(k + 1) * n];
        let alpha = x[0].clone();
        let xnorm = dot(&x[1..], &x[1..]).sqrt();
        if xnorm.is_zero() {
            e[k] = alpha;
            taus.push(T::zero());
            continue;
        }
        let mut beta = hypot(&alpha, &xnorm);
        if alpha >= T::zero() {
            beta = -beta;
        }
        let tau = (beta.clone() - &alpha) / &beta;
        let scale = T::one() / (alpha - &beta);
        for v in x[1..].iter_mut() {
            *v *= &scale;
        }
        e[k] = beta;
        let mut v = Vec::with_capacity(m);
        v.push(T::one());
        v.extend(x[1..].iter().cloned());
        // p = τ S v, S = w[k+1.., k+1..] (columns are contiguous; S is symmetric).
        let trailing = &mut data[(k + 1) * n..];
        let col_dot = |c: &[T]| tau.clone() * dot(&c[k + 1..], &v);
        let p: Vec<T> = if m > PAR_MIN {
            trailing.par_chunks(n).map(col_dot).collect()
        } else {
            trailing.chunks(n).map(col_dot).collect()
        };
        // w = p − (τ/2)(pᵀv) v;  S ← S − v wᵀ − w vᵀ.
        let kcoef = tau.clone() * &half * dot(&p, &v);
        let wv: Vec<T> = p
            .iter()
            .zip(&v)
            .map(|(pi, vi)| pi.clone() - kcoef.clone() * vi)
            .collect();
        let update = |(j, c): (usize, &mut [T])| {
            let (wj, vj) = (&wv[j], &v[j]);
            for ((s, vi), wi) in c[k + 1..].iter_mut().zip(&v).zip(&wv) {
                *s -= vi.clone() * wj + wi.clone() * vj;
            }
        };
        if m > PAR_MIN {
            trailing.par_chunks_mut(n).enumerate().for_each(update);
        } else {
            trailing.chunks_mut(n).enumerate().for_each(update);
        }
        taus.push(tau);
    }
    if n >= 2 {
        d[n - 2] = w[(n - 2, n - 2)].clone();
        e[n - 2] = w[(n - 1, n - 2)].clone();
    }
    d[n - 1] = w[(n - 1, n - 1)].clone();
    (d, e, taus)
}

/// Q = H_0 H_1 ⋯ H_{n−3} explicitly. Column j is H_0 ⋯ H_{j−1} e_j (H_k leaves e_j alone
/// for k ≥ j), so the columns are formed independently, in parallel.
fn form_q<T: Real>(w: &DMatrix<T>, taus: &[T]) -> DMatrix<T> {
    let n = w.nrows();
    let mut q = DMatrix::<T>::zeros(n, n);
    let wd = w.as_slice();
    let column = |(j, col): (usize, &mut [T])| {
        col[j] = T::one();
        let last = j.min(taus.len());
        for k in (0..last).rev() {
            let tau = &taus[k];
            if tau.is_zero() {
                continue;
            }
            // u = (1 at row k+1, wd[k*n + k+2 ..]).
            let tail = &wd[k * n + k + 2..(k + 1) * n];
            let s = tau.clone() * (col[k + 1].clone() + dot(tail, &col[k + 2..]));
            if s.is_zero() {
                continue;
            }
            col[k + 1] -= &s;
            axpy_neg(&mut col[k + 2..], &s, tail);
        }
    };
    let data = q.as_mut_slice();
    if n > PAR_MIN {
        data.par_chunks_mut(n).enumerate().for_each(column);
    } else {
        data.chunks_mut(n).enumerate().for_each(column);
    }
    q
}

/// One plane rotation of the QL iteration: columns (i, i+1) of the eigenvector matrix
/// become (c·z_i − s·z_{i+1}, s·z_i + c·z_{i+1}).
type Rotation<T> = (usize, T, T);

/// Implicit QL on the symmetric tridiagonal (d, e) (EISPACK `tql2`, as in JAMA):
/// d becomes the eigenvalues (unsorted); returns the rotations in order of application.
fn tql<T: Real>(d: &mut [T], e: &mut [T]) -> (Vec<Rotation<T>>, bool) {
    let n = d.len();
    let mut rotations = Vec::new();
    let mut converged = true;
    let eps = T::epsilon();
    let two = T::from_f64(2.0);
    let mut f = T::zero();
    let mut tst1 = T::zero();
    for l in 0..n {
        tst1 = tst1.max_of(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n - 1 {
            if e[m].abs() <= eps.clone() * &tst1 {
                break;
            }
            m += 1;
        }
        if m > l {
            let mut iter = 0;
            loop {
                iter += 1;
                if iter > 60 {
                    converged = false;
                    break;
                }
                let g = d[l].clone();
                let mut p = (d[l + 1].clone() - &g) / (two.clone() * &e[l]);
                let mut r = hypot(&p, &T::one());
                if p < T::zero() {
                    r = -r;
                }
                d[l] = e[l].clone() / (p.clone() + &r);
                d[l + 1] = e[l].clone() * (p.clone() + &r);
                let dl1 = d[l + 1].clone();
                let h = g - &d[l];
                for di in d.iter_mut().skip(l + 2) {
                    *di -= &h;
                }
                f += &h;
                p = d[m].clone();
                let mut c = T::one();
                let mut c2 = c.clone();
                let mut c3 = c.clone();
                let el1 = e[l + 1].clone();
                let mut s = T::zero();
                let mut s2 = T::zero();
                for i in (l..m).rev() {
                    c3 = c2.clone();
                    c2 = c.clone();
                    s2 = s.clone();
                    let g = c.clone() * &e[i];
                    let h = c.clone() * &p;
                    r = hypot(&p, &e[i]);
                    e[i + 1] = s.clone() * &r;
                    s = e[i].clone() / &r;
                    c = p.clone() / &r;
                    p = c.clone() * &d[i] - s.clone() * &g;
                    d[i + 1] = h + s.clone() * (c.clone() * &g + s.clone() * &d[i]);
                    rotations.push((i, c.clone(), s.clone()));
                }
                p = -(s.clone() * &s2 * &c3 * &el1 * &e[l]) / &dl1;
                e[l] = s * &p;
                d[l] = c * &p;
                if e[l].abs() <= eps.clone() * &tst1 {
                    break;
                }
            }
        }
        d[l] += &f;
        e[l] = T::zero();
    }
    (rotations, converged)
}

/// Applies the recorded rotations to the columns of `z`: rows are independent, so the
/// rows are cut into blocks (stored column-major, small enough to stay in cache) and
/// every block runs through the whole rotation list on its own thread.
fn apply_rotations<T: Real>(z: DMatrix<T>, rotations: &[Rotation<T>]) -> DMatrix<T> {
    let n = z.nrows();
    if rotations.is_empty() || n == 0 {
        return z;
    }
    let rows_per_block = 32.min(n);
    let starts: Vec<usize> = (0..n).step_by(rows_per_block).collect();
    let mut blocks: Vec<(usize, usize, Vec<T>)> = starts
        .iter()
        .map(|&r0| {
            let r1 = (r0 + rows_per_block).min(n);
            let rb = r1 - r0;
            let mut buf = Vec::with_capacity(rb * n);
            for c in 0..n {
                buf.extend(z.column(c).rows(r0, rb).iter().cloned());
            }
            (r0, rb, buf)
        })
        .collect();
    let work = |(_, rb, buf): &mut (usize, usize, Vec<T>)| {
        let rb = *rb;
        for (i, c, s) in rotations {
            let (left, right) = buf.split_at_mut((i + 1) * rb);
            let zi = &mut left[i * rb..];
            let zi1 = &mut right[..rb];
            for (a, b) in zi.iter_mut().zip(zi1.iter_mut()) {
                let h = b.clone();
                *b = s.clone() * &*a + c.clone() * &h;
                *a = c.clone() * &*a - s.clone() * &h;
            }
        }
    };
    if n > PAR_MIN {
        blocks.par_iter_mut().for_each(work);
    } else {
        blocks.iter_mut().for_each(work);
    }
    let mut out = z;
    for (r0, rb, buf) in blocks {
        for c in 0..n {
            for r in 0..rb {
                out[(r0 + r, c)] = buf[c * rb + r].clone();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spd(n: usize, seed: u64) -> DMatrix<f64> {
        let mut s = seed | 1;
        let b = DMatrix::from_fn(n, n, |_, _| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        });
        &b * b.transpose() + DMatrix::identity(n, n) * 0.1
    }

    #[test]
    fn eigen_reconstructs_and_matches_nalgebra() {
        for n in [1, 2, 3, 7, 40, 130] {
            let a = spd(n, 7 + n as u64);
            let e = SymmetricEigen::new(&a);
            assert!(e.converged);
            let v = &e.vectors;
            let lam = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(e.values.clone()));
            let rec = v * lam * v.transpose();
            assert!((rec - &a).amax() < 1e-12 * a.amax().max(1.0), "n = {n}");
            let orth = v.transpose() * v - DMatrix::identity(n, n);
            assert!(orth.amax() < 1e-13, "n = {n}");
            let mut reference: Vec<f64> = a
                .clone()
                .symmetric_eigen()
                .eigenvalues
                .iter()
                .copied()
                .collect();
            reference.sort_by(|a, b| a.partial_cmp(b).unwrap());
            for (x, y) in e.values.iter().zip(&reference) {
                assert!((x - y).abs() < 1e-12 * a.amax(), "n = {n}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn cholesky_solves_and_log_det() {
        let a = spd(150, 3);
        let c = Cholesky::new(&a).unwrap();
        let b = DMatrix::from_fn(150, 20, |i, j| (i as f64 - j as f64).sin());
        let x = c.solve(&b);
        assert!((&a * &x - &b).amax() < 1e-9);
        let want: f64 = a
            .clone()
            .symmetric_eigen()
            .eigenvalues
            .iter()
            .map(|l| l.ln())
            .sum();
        assert!((c.ln_det() - want).abs() < 1e-9 * want.abs().max(1.0));
        let singular = DMatrix::from_row_slice(2, 2, &[1.0, 1.0, 1.0, 1.0]);
        assert!(Cholesky::new(&singular).is_none());
        let j = Cholesky::with_jitter(&singular).unwrap();
        assert!(j.jitter().is_some());
    }

    #[test]
    fn matmul_matches_nalgebra() {
        let a = DMatrix::from_fn(70, 90, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        let b = DMatrix::from_fn(90, 200, |i, j| ((i * 5 + j) % 13) as f64 - 6.0);
        assert_eq!(matmul(&a, &b), &a * &b);
        assert_eq!(matmul_tn(&b, &b), b.transpose() * &b);
    }
}
