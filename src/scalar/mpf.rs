//! `Mpf<P>`: an MPFR float of `P` significand bits, as a [`Real`].

use std::fmt;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use num_traits::{One, Zero};
use rug::float::{Constant, Special};
use rug::Float;

use super::Real;

/// An MPFR floating-point number with `P` bits of significand, rounding to nearest.
///
/// The precision is a type parameter, so values of different precisions cannot be
/// mixed by accident and `zero()`, `one()` and `from_f64` know their precision without
/// global state (which rayon's threads would make fragile). Every operation rounds its
/// exact result once to `P` bits (MPFR's correct rounding).
#[derive(Clone, Debug, PartialEq, PartialOrd)]
#[repr(transparent)]
pub struct Mpf<const P: u32>(pub Float);

/// 128-bit MPFR float (about 38 decimal digits).
pub type Mp128 = Mpf<128>;
/// 256-bit MPFR float (about 77 decimal digits).
pub type Mp256 = Mpf<256>;
/// 512-bit MPFR float (about 154 decimal digits): the oracle for `f64` results.
pub type Mp512 = Mpf<512>;
/// 1024-bit MPFR float (about 308 decimal digits).
pub type Mp1024 = Mpf<1024>;

impl<const P: u32> Mpf<P> {
    fn wrap(value: Float) -> Self {
        debug_assert_eq!(value.prec(), P);
        Mpf(value)
    }
}

impl<const P: u32> fmt::Display for Mpf<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_decimal())
    }
}

macro_rules! forward_binop {
    ($($Op:ident $op:ident $OpAssign:ident $op_assign:ident;)*) => {$(
        impl<const P: u32> $Op for Mpf<P> {
            type Output = Self;
            fn $op(self, rhs: Self) -> Self { Mpf::wrap(self.0.$op(rhs.0)) }
        }
        impl<'a, const P: u32> $Op<&'a Mpf<P>> for Mpf<P> {
            type Output = Self;
            fn $op(self, rhs: &'a Self) -> Self { Mpf::wrap(self.0.$op(&rhs.0)) }
        }
        impl<const P: u32> $OpAssign for Mpf<P> {
            fn $op_assign(&mut self, rhs: Self) { self.0.$op_assign(rhs.0) }
        }
        impl<'a, const P: u32> $OpAssign<&'a Mpf<P>> for Mpf<P> {
            fn $op_assign(&mut self, rhs: &'a Self) { self.0.$op_assign(&rhs.0) }
        }
    )*};
}

forward_binop! {
    Add add AddAssign add_assign;
    Sub sub SubAssign sub_assign;
    Mul mul MulAssign mul_assign;
    Div div DivAssign div_assign;
}

impl<const P: u32> Neg for Mpf<P> {
    type Output = Self;
    fn neg(self) -> Self {
        Mpf::wrap(-self.0)
    }
}

impl<const P: u32> Zero for Mpf<P> {
    fn zero() -> Self {
        Mpf(Float::new(P))
    }
    fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl<const P: u32> One for Mpf<P> {
    fn one() -> Self {
        Mpf(Float::with_val(P, 1))
    }
}

impl<const P: u32> Real for Mpf<P> {
    const PRECISION_BITS: u32 = P;

    fn from_f64(x: f64) -> Self {
        Mpf(Float::with_val(P, x))
    }
    fn from_u64(n: u64) -> Self {
        Mpf(Float::with_val(P, n))
    }
    fn parse(decimal: &str) -> Result<Self, String> {
        Float::parse(decimal)
            .map(|parsed| Mpf(Float::with_val(P, parsed)))
            .map_err(|e| format!("`{decimal}` is not a decimal number ({e})"))
    }
    fn to_f64(&self) -> f64 {
        self.0.to_f64()
    }
    fn to_decimal(&self) -> String {
        if self.0.is_zero() {
            return "0".to_string();
        }
        self.0.to_string_radix(10, None)
    }
    fn ln(&self) -> Self {
        Mpf(Float::with_val(P, self.0.ln_ref()))
    }
    fn ln_1p(&self) -> Self {
        Mpf(Float::with_val(P, self.0.ln_1p_ref()))
    }
    fn exp(&self) -> Self {
        Mpf(Float::with_val(P, self.0.exp_ref()))
    }
    fn exp_m1(&self) -> Self {
        Mpf(Float::with_val(P, self.0.exp_m1_ref()))
    }
    fn sqrt(&self) -> Self {
        Mpf(Float::with_val(P, self.0.sqrt_ref()))
    }
    fn abs(&self) -> Self {
        Mpf(Float::with_val(P, self.0.abs_ref()))
    }
    fn acos(&self) -> Self {
        Mpf(Float::with_val(P, self.0.acos_ref()))
    }
    fn atan2(&self, x: &Self) -> Self {
        Mpf(Float::with_val(P, self.0.atan2_ref(&x.0)))
    }
    fn erf(&self) -> Self {
        Mpf(Float::with_val(P, self.0.erf_ref()))
    }
    fn pi() -> Self {
        Mpf(Float::with_val(P, Constant::Pi))
    }
    fn ln_2() -> Self {
        Mpf(Float::with_val(P, Constant::Log2))
    }
    fn epsilon() -> Self {
        // 2^(1-P)
        Mpf(Float::with_val(P, Float::u_exp(1, 1 - P as i32)))
    }
    fn infinity() -> Self {
        Mpf(Float::with_val(P, Special::Infinity))
    }
    fn is_finite(&self) -> bool {
        self.0.is_finite()
    }
    fn is_nan(&self) -> bool {
        self.0.is_nan()
    }
    fn add_mul(&mut self, a: &Self, b: &Self) {
        // mpfr_fma through rug's incomplete-computation value: no allocation.
        self.0 += &a.0 * &b.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_is_parsed_at_full_precision() {
        let tenth = Mp256::parse("0.1").unwrap();
        let ten = Mp256::from_f64(10.0);
        let one = tenth.clone() * &ten;
        // 0.1 at 256 bits times 10 is 1 to 256 bits; f64's 0.1 times 10 at 256 bits is not.
        assert!((one - Mp256::one()).abs() < Mp256::epsilon());
        let f64_tenth = Mp256::from_f64(0.1);
        assert!((f64_tenth * &ten - Mp256::one()).abs() > Mp256::from_f64(1e-18));
    }

    #[test]
    fn epsilon_is_two_to_one_minus_p() {
        let e = Mp256::epsilon();
        let one_plus = Mp256::one() + &e;
        assert!(one_plus > Mp256::one());
        let half = e * Mp256::from_f64(0.5);
        assert_eq!(Mp256::one() + &half, Mp256::one());
    }

    #[test]
    fn decimal_round_trips() {
        let third = Mp512::one() / Mp512::from_f64(3.0);
        assert_eq!(Mp512::parse(&third.to_decimal()).unwrap(), third);
    }
}
