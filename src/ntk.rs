//! Closed-form information of infinite ensembles of infinitely wide networks (NTK).
//!
//! An infinitely wide fully connected network at initialisation is a Gaussian process
//! with the NNGP kernel K; trained by gradient flow on the MSE loss it stays linear in
//! its parameters and evolves with the neural tangent kernel Θ, so the outputs of the
//! infinite ensemble (over random initialisations) are Gaussian at every training time
//! t with a closed-form mean and covariance \[Lee19\]. Following Shwartz-Ziv & Alemi
//! \[SZA19\], this makes information quantities of the ensemble's representation Z (the
//! output) tractable. Everything is generic over [`Real`]: `f64` and MPFR.
//!
//! | module | what |
//! |---|---|
//! | [`kernel`] | NNGP K and NTK Θ of FC ReLU/erf/identity networks (neural-tangents conventions \[NT20\]) |
//! | [`ensemble`] | the ensemble's mean and covariance at time t (NTK and NNGP regimes, t = ∞, diag_reg) |
//! | [`gaussian`] | Kolchinsky-Tracey bounds \[KT17\], exact 1-D I(X;Z) by quadrature, KL, Gibbs and Bayes log-likelihoods |
//! | [`study`] | everything along t, as the rows `ibex ntk` writes |
//! | [`linalg`] | Cholesky, triangular solves and the symmetric eigen-decomposition over `Real` |
//! | [`data`] | reading labelled points from CSV |
//!
//! All information quantities are in **nats**. The mathematics and its sources are in
//! `shared/spec/ntk-math.md` (sections B-D verified against neural-tangents 0.6.5); the
//! tests compare with a neural-tangents oracle stored in `data/reference/ntk/`.
//!
//! ```
//! use ibex::ntk::{ensemble::{Ensemble, Regime, Time, Training}, kernel::{Activation, FcNetwork, Kernels}};
//! use nalgebra::DMatrix;
//!
//! let net = FcNetwork::uniform(Activation::Relu, 1, 1.5, 0.1).unwrap();
//! let x_train = DMatrix::from_row_slice(2, 3, &[0.9, -0.35, 0.4, 0.1, 0.2, -0.7]);
//! let y_train = DMatrix::from_row_slice(2, 1, &[0.5, -0.2]);
//! let x_test = DMatrix::from_row_slice(1, 3, &[0.3, 0.3, 0.3]);
//! let kernels = Kernels::new(&net, &x_train, &x_test).unwrap();
//! assert!((kernels.nngp[(0, 0)] - 0.94304687500000).abs() < 1e-12); // spec B.3 hand check
//! let ens = Ensemble::new(&kernels, &y_train, Regime::Ntk, &Training::default()).unwrap();
//! let at_inf = ens.train(&Time::Infinity);
//! assert_eq!(at_inf.mean, y_train); // t = ∞ interpolates the training targets
//! ```

pub mod data;
pub mod ensemble;
pub mod gaussian;
pub mod kernel;
pub mod linalg;
pub mod study;

use crate::scalar::Real;

/// A number as written in output files: for `f64` the shortest decimal that reads back
/// to the same value (plain notation between 1e-5 and 1e16, exponent notation outside);
/// above `f64` the working precision's digits ([`Real::to_decimal`]) without trailing
/// zeros, in plain notation for exponents from −5 to 20 (`1`, not `1.000…e0`).
pub fn decimal<T: Real>(x: &T) -> String {
    if T::PRECISION_BITS > 53 {
        return tidy(&x.to_decimal());
    }
    let v = x.to_f64();
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = v.abs();
    if v == 0.0 || (1e-5..1e16).contains(&a) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// A value as an output cell: [`decimal`], or an empty cell when it is not finite (the
/// study's warnings say why).
pub fn finite_cell<T: Real>(x: &T) -> String {
    if x.is_finite() {
        decimal(x)
    } else {
        String::new()
    }
}

/// The working precision as messages name it: `f64`, or `128-bit MPFR`.
pub(crate) fn precision_name<T: Real>() -> String {
    if T::PRECISION_BITS > 53 {
        format!("{}-bit MPFR", T::PRECISION_BITS)
    } else {
        "f64".into()
    }
}

/// What to do when the working precision is not enough: `use --precision 128` in `f64`,
/// a precision twice the current one above it (up to the largest, 1024 bits).
pub(crate) fn higher_precision<T: Real>() -> String {
    match T::PRECISION_BITS {
        0..=53 => "use --precision 128".into(),
        b if b < 1024 => format!("use --precision {}", (2 * b).min(1024)),
        _ => "no higher --precision is available".into(),
    }
}

/// Rewrites a decimal `d.ddd…e±x` without trailing zeros, in plain notation when
/// −5 ≤ x ≤ 20. Anything else (`inf`, `nan`, plain digits) is returned as it is.
fn tidy(s: &str) -> String {
    let (sign, body) = match s.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", s),
    };
    let (mantissa, exp) = match body.split_once(['e', 'E']) {
        Some((m, e)) => match e.parse::<i64>() {
            Ok(e) => (m, e),
            Err(_) => return s.to_string(),
        },
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.len() != 1
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return s.to_string();
    }
    let mut digits = format!("{int}{frac}");
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    if digits == "0" {
        return "0".into();
    }
    if (-5..=20).contains(&exp) {
        if exp >= 0 {
            let e = exp as usize;
            if digits.len() <= e + 1 {
                format!("{sign}{digits}{}", "0".repeat(e + 1 - digits.len()))
            } else {
                format!("{sign}{}.{}", &digits[..e + 1], &digits[e + 1..])
            }
        } else {
            format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize))
        }
    } else if digits.len() == 1 {
        format!("{sign}{digits}e{exp}")
    } else {
        format!("{sign}{}.{}e{exp}", &digits[..1], &digits[1..])
    }
}

#[cfg(test)]
mod tests {
    use super::tidy;

    #[test]
    fn tidy_decimals() {
        assert_eq!(tidy("1.000000e0"), "1");
        assert_eq!(tidy("9.4304687500e-1"), "0.943046875");
        assert_eq!(tidy("-1.25e2"), "-125");
        assert_eq!(tidy("1.5e-7"), "1.5e-7");
        assert_eq!(tidy("3.1e25"), "3.1e25");
        assert_eq!(tidy("2.0e3"), "2000");
        assert_eq!(tidy("0"), "0");
        assert_eq!(tidy("inf"), "inf");
    }
}
