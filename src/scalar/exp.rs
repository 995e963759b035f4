//! e^x over a slice of `f64`, four at a time with AVX2 and FMA where the processor has
//! them (detected at run time, so the shipped binary runs everywhere), with subnormal
//! results flushed to 0 as [`super::Real::exp_in_place`] specifies.
//!
//! # Method
//! Cody & Waite's reduction (1980, "Software Manual for the Elementary Functions"):
//! n = round(x / ln 2), r = (x − n·ln2_hi) − n·ln2_lo with ln 2 split so that n·ln2_hi
//! is exact, |r| ≤ ln(2)/2; then e^r by its Taylor polynomial of degree 13 (the first
//! omitted term, r^14/14!, is below 4e-18 < 2^-53/20 relative), evaluated by Horner's
//! rule with fused multiply-adds, and e^x = e^r · 2^n by adding n to the exponent bits.
//! Measured against the platform's `exp` in the tests below: at most 1 ulp apart.
//!
//! Lanes whose argument is below ln(2^-1022) ≈ −708.40 (subnormal or zero results,
//! −inf included) give 0; a group of four holding any other argument outside
//! [−708, 709] (near the subnormal or overflow edge, or NaN) goes through the platform's
//! `exp` instead, lane by lane. Without AVX2 and FMA every value does.

use super::Real;

/// e^x < 2^-1022 (subnormal or 0) below this argument.
pub(crate) const SMALLEST_NORMAL_ARGUMENT: f64 = -708.396_418_532_264_1;

/// e^x by the platform's `exp`, 0 where the result would be subnormal.
pub(crate) fn exp_or_zero(x: f64) -> f64 {
    if x < SMALLEST_NORMAL_ARGUMENT {
        0.0
    } else {
        x.exp().flush_subnormal()
    }
}

/// e^v for every v in `values`, in place, subnormal results as 0.
pub(crate) fn exp_in_place(values: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the processor has AVX2 and FMA (checked just above), the only
            // requirement of the target-feature function.
            unsafe { avx2::exp_in_place(values) };
            return;
        }
    }
    for v in values.iter_mut() {
        *v = exp_or_zero(*v);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{exp_or_zero, SMALLEST_NORMAL_ARGUMENT};

    const LOG2_E: f64 = std::f64::consts::LOG2_E;
    /// ln 2 to 32 bits (n·LN2_HI is exact for |n| < 2^21) and the rest.
    const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
    /// 1/k! for k = 13 down to 2.
    const TAYLOR: [f64; 12] = [
        1.0 / 6_227_020_800.0,
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
    ];
    /// 2^52 + 2^51: adding it to an integral double |n| < 2^51 leaves n in the low bits.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;

    /// Four lanes; every lane is in [−708, 709] or below [`SMALLEST_NORMAL_ARGUMENT`].
    #[target_feature(enable = "avx2,fma")]
    fn exp4(x: __m256d) -> __m256d {
        let zero_lanes = _mm256_cmp_pd::<_CMP_LT_OQ>(x, _mm256_set1_pd(SMALLEST_NORMAL_ARGUMENT));
        // Lanes to be zeroed are computed at −708 and discarded.
        let x = _mm256_max_pd(x, _mm256_set1_pd(-708.0));
        let n = _mm256_round_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_pd(x, _mm256_set1_pd(LOG2_E)),
        );
        let r = _mm256_fnmadd_pd(n, _mm256_set1_pd(LN2_HI), x);
        let r = _mm256_fnmadd_pd(n, _mm256_set1_pd(LN2_LO), r);
        let mut p = _mm256_set1_pd(TAYLOR[0]);
        for c in &TAYLOR[1..] {
            p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(*c));
        }
        p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
        p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
        // n into the exponent: bits(n + SHIFTER) − bits(SHIFTER) = n, shifted by 52.
        let shifter = _mm256_set1_pd(SHIFTER);
        let n_bits = _mm256_sub_epi64(
            _mm256_castpd_si256(_mm256_add_pd(n, shifter)),
            _mm256_castpd_si256(shifter),
        );
        let scaled = _mm256_castsi256_pd(_mm256_add_epi64(
            _mm256_castpd_si256(p),
            _mm256_slli_epi64::<52>(n_bits),
        ));
        _mm256_andnot_pd(zero_lanes, scaled)
    }

    /// Whether every lane is one [`exp4`] handles.
    #[target_feature(enable = "avx2,fma")]
    fn in_range(x: __m256d) -> bool {
        let zero = _mm256_cmp_pd::<_CMP_LT_OQ>(x, _mm256_set1_pd(SMALLEST_NORMAL_ARGUMENT));
        let low = _mm256_cmp_pd::<_CMP_GE_OQ>(x, _mm256_set1_pd(-708.0));
        let high = _mm256_cmp_pd::<_CMP_LE_OQ>(x, _mm256_set1_pd(709.0));
        let ok = _mm256_or_pd(zero, _mm256_and_pd(low, high));
        _mm256_movemask_pd(ok) == 0b1111
    }

    /// # Safety
    /// The processor must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn exp_in_place(values: &mut [f64]) {
        let mut chunks = values.chunks_exact_mut(4);
        for chunk in &mut chunks {
            let x = _mm256_loadu_pd(chunk.as_ptr());
            if in_range(x) {
                _mm256_storeu_pd(chunk.as_mut_ptr(), exp4(x));
            } else {
                for v in chunk.iter_mut() {
                    *v = exp_or_zero(*v);
                }
            }
        }
        // The last 1-3 values through the same kernel, padded, so that a value's result
        // does not depend on where it sits in the slice.
        let tail = chunks.into_remainder();
        if !tail.is_empty() {
            let mut padded = [0.0; 4];
            padded[..tail.len()].copy_from_slice(tail);
            let x = _mm256_loadu_pd(padded.as_ptr());
            if in_range(x) {
                _mm256_storeu_pd(padded.as_mut_ptr(), exp4(x));
                tail.copy_from_slice(&padded[..tail.len()]);
            } else {
                for v in tail.iter_mut() {
                    *v = exp_or_zero(*v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between two positive finite doubles.
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn within_one_ulp_of_the_platform_exp_over_the_whole_range() {
        // A deterministic spread over [−708.39, 709]: xorshift, plus the edges and
        // the reduction's worst cases (halfway between multiples of ln 2).
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut xs: Vec<f64> = (0..200_000)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                -708.39 + 1417.39 * ((s >> 11) as f64 / (1u64 << 53) as f64)
            })
            .collect();
        xs.extend((-1021..1023).map(|k| (k as f64 + 0.5) * std::f64::consts::LN_2));
        xs.extend([
            0.0, -0.0, 1e-300, -1e-300, 1.0, -1.0, -708.0, 709.0, -707.99,
        ]);
        let mut ys = xs.clone();
        exp_in_place(&mut ys);
        for (x, y) in xs.iter().zip(&ys) {
            let want = x.exp();
            assert!(ulps(*y, want) <= 1, "exp({x}) = {y}, platform {want}");
        }
    }

    #[test]
    fn subnormal_results_are_zero_and_edges_follow_the_platform() {
        let mut xs = vec![
            f64::NEG_INFINITY,
            -1e10,
            -745.2,
            -708.5,
            -708.39,
            -708.1,
            709.5,
            710.0,
            f64::INFINITY,
            f64::NAN,
            -3.0,
        ];
        let want: Vec<f64> = xs.iter().map(|&x| exp_or_zero(x)).collect();
        exp_in_place(&mut xs);
        assert_eq!(&xs[..4], &[0.0; 4]);
        assert!(xs[4] >= f64::MIN_POSITIVE);
        for (i, (y, w)) in xs.iter().zip(&want).enumerate().skip(4) {
            assert!(
                (y.is_nan() && w.is_nan()) || ulps(*y, *w) <= 1,
                "lane {i}: {y} vs {w}"
            );
        }
        assert_eq!(xs[8], f64::INFINITY);
        assert_eq!(xs[7], f64::INFINITY);
    }

    #[test]
    fn a_value_gives_the_same_result_wherever_it_sits() {
        let x = -1.234_567_890_123;
        for len in 1..=9 {
            for at in 0..len {
                let mut v = vec![-2.0; len];
                v[at] = x;
                exp_in_place(&mut v);
                let mut one = [x];
                exp_in_place(&mut one);
                assert_eq!(v[at].to_bits(), one[0].to_bits(), "len {len} at {at}");
            }
        }
    }
}
