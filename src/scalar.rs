//! The one scalar layer: every algorithm in ibex is written once, generic over [`Real`],
//! and runs in `f64` or in MPFR arbitrary precision ([`Mpf`], feature `mpfr`).
//!
//! `Real` is `Clone`, never `Copy`, so that an MPFR float (which owns heap memory) fits.
//! Generic code therefore clones explicitly and prefers the by-reference operators
//! (`a * &b`). Constants in generic code come from [`Real::from_f64`] only when they
//! are exact in binary (`0.5`, `2.0`); anything decimal from a user goes through
//! [`Real::parse`], which rounds the decimal once, at the working precision.

use std::fmt::{Debug, Display};
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use nalgebra::DMatrix;
use num_traits::{One, Zero};

mod exp;
#[cfg(feature = "mpfr")]
mod mpf;
#[cfg(feature = "mpfr")]
pub use mpf::{Mp1024, Mp128, Mp256, Mp512, Mpf};

/// A real scalar for every algorithm of the crate: `f64`, or `Mpf<P>` with `P` bits.
///
/// The arithmetic operators (owned and by reference) make nalgebra's matrix products
/// work for every implementor. The elementary functions are correctly rounded for `Mpf`
/// (MPFR) and as accurate as the platform's libm for `f64`.
pub trait Real:
    Clone
    + PartialOrd
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + Zero
    + One
    + Neg<Output = Self>
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + for<'a> Add<&'a Self, Output = Self>
    + for<'a> Sub<&'a Self, Output = Self>
    + for<'a> Mul<&'a Self, Output = Self>
    + for<'a> Div<&'a Self, Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + for<'a> AddAssign<&'a Self>
    + for<'a> SubAssign<&'a Self>
    + for<'a> MulAssign<&'a Self>
    + for<'a> DivAssign<&'a Self>
{
    /// Significand bits: 53 for `f64`, `P` for `Mpf<P>`.
    const PRECISION_BITS: u32;

    /// The value of an `f64`, exactly (every `f64` is representable at `P >= 53`).
    fn from_f64(x: f64) -> Self;
    /// The integer `n`, rounded once to the working precision (exact for `n < 2^P`).
    fn from_u64(n: u64) -> Self;
    /// A decimal string (`"0.1"`, `"1e-40"`, `"-2.5E3"`) rounded once to the working
    /// precision: at 256 bits `"0.1"` is the decimal 0.1 to 256 bits, not f64's rounding.
    ///
    /// # Errors
    /// A message saying what is wrong when `decimal` is not a number. Non-finite words
    /// (`nan`, `inf`) parse; callers that need finiteness check [`Real::is_finite`].
    fn parse(decimal: &str) -> Result<Self, String>;
    /// The nearest `f64` (for plots, logging and comparisons).
    fn to_f64(&self) -> f64;
    /// A decimal string with enough significant digits to identify the value at the
    /// working precision (it reads back to the same value); 17 digits for `f64`.
    fn to_decimal(&self) -> String;

    /// Natural logarithm; `ln 0 = -inf`.
    fn ln(&self) -> Self;
    /// `ln(1 + x)`, accurate for small `x`.
    fn ln_1p(&self) -> Self;
    /// Exponential.
    fn exp(&self) -> Self;
    /// `exp(x) - 1`, accurate for small `x`.
    fn exp_m1(&self) -> Self;
    /// Square root.
    fn sqrt(&self) -> Self;
    /// Absolute value.
    fn abs(&self) -> Self;
    /// Arc cosine, in `[0, pi]`.
    fn acos(&self) -> Self;
    /// Four-quadrant arc tangent of `self / x`, in `[-pi, pi]`.
    fn atan2(&self, x: &Self) -> Self;
    /// The error function.
    fn erf(&self) -> Self;
    /// pi at the working precision.
    fn pi() -> Self;
    /// ln 2 at the working precision (bits = nats / ln 2).
    fn ln_2() -> Self;
    /// Machine epsilon `2^(1-P)`: the gap between 1 and the next representable value.
    fn epsilon() -> Self;
    /// Positive infinity.
    fn infinity() -> Self;
    /// Not infinite and not NaN.
    fn is_finite(&self) -> bool;
    /// NaN.
    fn is_nan(&self) -> bool;

    /// `x ln x` with the convention `0 ln 0 = 0`.
    ///
    /// # Formula
    /// xlogx(x) = x·ln x for x > 0, and 0 for x = 0.
    fn xlogx(&self) -> Self {
        if self.is_zero() {
            Self::zero()
        } else {
            self.clone() * self.ln()
        }
    }

    /// The larger of two values (`self` when they compare equal or unordered).
    fn max_of(self, other: Self) -> Self {
        if other > self {
            other
        } else {
            self
        }
    }

    /// `self += a · b`. MPFR overrides this with one fused, allocation-free
    /// multiply-add (rounded once).
    fn add_mul(&mut self, a: &Self, b: &Self) {
        *self += a.clone() * b;
    }

    /// The matrix product `a · b`. The default is a plain triple loop over
    /// [`Real::add_mul`] (allocation-free for MPFR); `f64` overrides it with nalgebra's
    /// gemm (matrixmultiply). Every algorithm calls this, so the kernel is chosen per
    /// scalar type while the algorithm stays one generic code path.
    ///
    /// # Panics
    /// If the inner dimensions differ.
    fn matmul(a: &DMatrix<Self>, b: &DMatrix<Self>) -> DMatrix<Self> {
        assert_eq!(a.ncols(), b.nrows(), "matmul: inner dimensions differ");
        let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
        let mut out = DMatrix::from_element(m, n, Self::zero());
        // Column-major storage: walk b's columns and a's columns contiguously.
        for j in 0..n {
            for l in 0..k {
                let blj = &b[(l, j)];
                if blj.is_zero() {
                    continue;
                }
                for i in 0..m {
                    out[(i, j)].add_mul(&a[(i, l)], blj);
                }
            }
        }
        out
    }

    /// The product `aᵀ · b`. The default transposes `a` and calls [`Real::matmul`];
    /// `f64` hands gemm a transposed view (strides swapped), so nothing is copied.
    ///
    /// # Panics
    /// If `a` and `b` have different numbers of rows.
    fn tr_matmul(a: &DMatrix<Self>, b: &DMatrix<Self>) -> DMatrix<Self> {
        Self::matmul(&a.transpose(), b)
    }

    /// The product `a · bᵀ`; see [`Real::tr_matmul`].
    ///
    /// # Panics
    /// If `a` and `b` have different numbers of columns.
    fn matmul_tr(a: &DMatrix<Self>, b: &DMatrix<Self>) -> DMatrix<Self> {
        Self::matmul(a, &b.transpose())
    }

    /// e^v for every entry, in place, with results below the smallest normal value
    /// returned as 0 (as [`Real::flush_subnormal`] would make them); −inf gives 0. For
    /// the hot loops of the Gibbs encoder and of the accelerators' candidates. The
    /// default calls
    /// [`Real::exp`] per entry (MPFR has no subnormals); `f64` gives 0 without a call for
    /// arguments below ln(2^-1022) ≈ −708.40 (at large β most of the encoder's entries)
    /// and evaluates the rest four at a time with AVX2 and FMA where the processor has
    /// them (Cody-Waite reduction and a degree-13 polynomial, within 1 ulp of the
    /// platform's `exp`; `src/scalar/exp.rs`), by the platform's `exp` otherwise.
    fn exp_in_place(values: &mut [Self]) {
        for v in values.iter_mut() {
            *v = v.exp();
        }
    }

    /// Zero in place of a subnormal value, the value otherwise. Subnormal `f64`
    /// arithmetic is about a hundred times slower than normal arithmetic; MPFR has no
    /// subnormals, so the default returns the value unchanged.
    fn flush_subnormal(self) -> Self {
        self
    }

    /// The smaller of two values (`self` when they compare equal or unordered).
    fn min_of(self, other: Self) -> Self {
        if other < self {
            other
        } else {
            self
        }
    }
}

impl Real for f64 {
    const PRECISION_BITS: u32 = 53;

    fn from_f64(x: f64) -> Self {
        x
    }
    fn from_u64(n: u64) -> Self {
        n as f64
    }
    fn parse(decimal: &str) -> Result<Self, String> {
        decimal
            .parse::<f64>()
            .map_err(|_| format!("`{decimal}` is not a decimal number"))
    }
    fn to_f64(&self) -> f64 {
        *self
    }
    fn to_decimal(&self) -> String {
        format!("{self:.16e}")
    }
    fn ln(&self) -> Self {
        f64::ln(*self)
    }
    fn ln_1p(&self) -> Self {
        f64::ln_1p(*self)
    }
    fn exp(&self) -> Self {
        f64::exp(*self)
    }
    fn exp_m1(&self) -> Self {
        f64::exp_m1(*self)
    }
    fn sqrt(&self) -> Self {
        f64::sqrt(*self)
    }
    fn abs(&self) -> Self {
        f64::abs(*self)
    }
    fn acos(&self) -> Self {
        f64::acos(*self)
    }
    fn atan2(&self, x: &Self) -> Self {
        f64::atan2(*self, *x)
    }
    fn erf(&self) -> Self {
        libm::erf(*self)
    }
    fn pi() -> Self {
        std::f64::consts::PI
    }
    fn ln_2() -> Self {
        std::f64::consts::LN_2
    }
    fn epsilon() -> Self {
        f64::EPSILON
    }
    fn infinity() -> Self {
        f64::INFINITY
    }
    fn is_finite(&self) -> bool {
        f64::is_finite(*self)
    }
    fn is_nan(&self) -> bool {
        f64::is_nan(*self)
    }
    fn add_mul(&mut self, a: &Self, b: &Self) {
        *self += a * b;
    }
    fn matmul(a: &DMatrix<Self>, b: &DMatrix<Self>) -> DMatrix<Self> {
        a * b
    }
    fn tr_matmul(a: &DMatrix<Self>, b: &DMatrix<Self>) -> DMatrix<Self> {
        assert_eq!(a.nrows(), b.nrows(), "tr_matmul: inner dimensions differ");
        let shape = (a.ncols(), a.nrows(), b.ncols());
        dgemm_strided(
            shape,
            a.as_slice(),
            (a.nrows(), 1),
            b.as_slice(),
            (1, b.nrows()),
        )
    }
    fn matmul_tr(a: &DMatrix<Self>, b: &DMatrix<Self>) -> DMatrix<Self> {
        assert_eq!(a.ncols(), b.ncols(), "matmul_tr: inner dimensions differ");
        let shape = (a.nrows(), a.ncols(), b.nrows());
        dgemm_strided(
            shape,
            a.as_slice(),
            (1, a.nrows()),
            b.as_slice(),
            (b.nrows(), 1),
        )
    }
    fn exp_in_place(values: &mut [Self]) {
        exp::exp_in_place(values);
    }
    fn flush_subnormal(self) -> Self {
        if self.is_subnormal() {
            0.0
        } else {
            self
        }
    }
}

/// C = A·B in `f64` by matrixmultiply's dgemm (the kernel nalgebra's own product uses),
/// with A (m×k) and B (k×n) given as storage plus (row stride, column stride), so that a
/// transposed operand is a swap of strides rather than a copy. C is a new m×n matrix.
///
/// (nalgebra's product of strided views is not used: in 0.34 its small-matrix path
/// indexes out of bounds for a view whose row stride is not 1.)
///
/// # Panics
/// If a slice is too short for its shape and strides.
fn dgemm_strided(
    (m, k, n): (usize, usize, usize),
    a: &[f64],
    (rsa, csa): (usize, usize),
    b: &[f64],
    (rsb, csb): (usize, usize),
) -> DMatrix<f64> {
    let mut c = DMatrix::zeros(m, n);
    if m == 0 || k == 0 || n == 0 {
        return c;
    }
    assert!(
        a.len() > (m - 1) * rsa + (k - 1) * csa && b.len() > (k - 1) * rsb + (n - 1) * csb,
        "dgemm_strided: storage too small for the shape and strides"
    );
    // SAFETY: by the assertion, every offset i·rsa + l·csa (i < m, l < k) lies inside `a`
    // and every l·rsb + j·csb (l < k, j < n) inside `b`; `c` is an owned m×n column-major
    // matrix (row stride 1, column stride m). dgemm reads only a and b, writes only c,
    // and with beta = 0 does not read c. The slices outlive the call.
    unsafe {
        matrixmultiply::dgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            0.0,
            c.as_mut_slice().as_mut_ptr(),
            1,
            m as isize,
        );
    }
    c
}

/// Tolerances, kept in one place (as statrs keeps them in `prec.rs`).
pub mod tol {
    use super::Real;

    /// The default convergence tolerance of iterative algorithms at precision `T`:
    /// `epsilon^(2/3)` (about 3.7e-11 for `f64`, 2^-170 ≈ 6e-52 at 256 bits).
    pub fn default_tol<T: Real>() -> T {
        (T::epsilon().ln() * T::from_f64(2.0) / T::from_f64(3.0)).exp()
    }

    /// How far the sum of `n` parsed probabilities may be from 1 and still count as
    /// normalised: `8·n·epsilon`. Parsing rounds each entry by at most epsilon/2
    /// relative and each addition adds at most epsilon relative, so an exactly
    /// normalised decimal file passes at every precision, while a file whose
    /// decimals do not sum to 1 (for example `0.333333` three times) fails.
    pub fn sum_tolerance<T: Real>(n: usize) -> T {
        T::from_u64(8 * n.max(1) as u64) * T::epsilon()
    }

    /// Informations within this distance below 0 are rounding, clamped to 0:
    /// `64·epsilon`, scaled by the magnitude of the terms summed.
    pub fn clamp_negative_zero<T: Real>(value: T, scale: &T) -> T {
        let slack = T::from_f64(64.0) * T::epsilon() * scale.clone().max_of(T::one());
        if value < T::zero() && -value.clone() <= slack {
            T::zero()
        } else {
            value
        }
    }
}

/// Converts a value between two precisions through its decimal representation at the
/// source precision (exact from `f64` to `Mpf`; correctly rounded from `Mpf` to `f64`).
pub fn convert<S: Real, T: Real>(x: &S) -> T {
    if S::PRECISION_BITS <= 53 {
        T::from_f64(x.to_f64())
    } else {
        T::parse(&x.to_decimal()).unwrap_or_else(|_| T::from_f64(x.to_f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xlogx_zero_is_zero() {
        assert_eq!(0.0f64.xlogx(), 0.0);
        assert!((0.5f64.xlogx() - 0.5 * 0.5f64.ln()).abs() < 1e-16);
    }

    #[test]
    fn f64_decimal_round_trips() {
        for x in [0.1, 1.0 / 3.0, 1e-300, 123456.789] {
            let s = x.to_decimal();
            assert_eq!(<f64 as Real>::parse(&s).unwrap(), x);
        }
    }

    /// (A·B)(i, j) = Σ_l A(i, l) B(l, j) by the definition, on small integers (exact in f64).
    fn naive_product(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
        DMatrix::from_fn(a.nrows(), b.ncols(), |i, j| {
            (0..a.ncols()).map(|l| a[(i, l)] * b[(l, j)]).sum()
        })
    }

    #[test]
    fn transposed_products_match_the_definition_for_all_shapes() {
        let shapes = [
            (0, 3, 2),
            (3, 0, 2),
            (2, 3, 0),
            (1, 1, 1),
            (3, 2, 4),
            (7, 9, 6),
            (40, 33, 17),
        ];
        for (m, k, n) in shapes {
            let a = DMatrix::from_fn(k, m, |i, j| ((3 * i + 5 * j) % 11) as f64 - 5.0);
            let b = DMatrix::from_fn(k, n, |i, j| ((7 * i + 2 * j) % 13) as f64 - 6.0);
            let expected = naive_product(&a.transpose(), &b);
            assert_eq!(f64::tr_matmul(&a, &b), expected, "aᵀ·b at {m}x{k}x{n}");
            let (a_t, b_t) = (a.transpose(), b.transpose());
            assert_eq!(f64::matmul_tr(&a_t, &b_t), expected, "a·bᵀ at {m}x{k}x{n}");
        }
    }

    #[test]
    fn exp_in_place_is_exp_with_subnormal_results_as_zero() {
        let args = [f64::NEG_INFINITY, -800.0, -708.5, -708.39, -1.0, 0.0, 2.0];
        let mut values = args;
        f64::exp_in_place(&mut values);
        // e^-708.5 ≈ 2.0e-308 is subnormal; e^-708.39 ≈ 2.2e-308 is not.
        assert_eq!(&values[..3], &[0.0, 0.0, 0.0]);
        assert!(values[3] >= f64::MIN_POSITIVE);
        for (v, a) in values.iter().zip(args).skip(3) {
            let ulps = (v.to_bits() as i64 - a.exp().to_bits() as i64).unsigned_abs();
            assert!(ulps <= 1, "exp({a}): {v} vs {}", a.exp());
        }
    }

    #[test]
    fn subnormals_flush_to_zero_and_normals_stay() {
        let smallest_normal = f64::MIN_POSITIVE;
        assert_eq!((smallest_normal / 2.0).flush_subnormal(), 0.0);
        assert_eq!(5e-324f64.flush_subnormal(), 0.0);
        assert_eq!(smallest_normal.flush_subnormal(), smallest_normal);
        assert_eq!(1e-300f64.flush_subnormal(), 1e-300);
        assert_eq!(0.0f64.flush_subnormal(), 0.0);
    }

    #[test]
    fn sum_tolerance_scales_with_n() {
        let a: f64 = tol::sum_tolerance(1);
        let b: f64 = tol::sum_tolerance(100);
        assert_eq!(b, 100.0 * a);
    }
}
