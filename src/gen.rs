//! Generators for the standard test problems, reproducible bit for bit on any machine.
//!
//! Randomness comes from ChaCha20 seeded with a `u64` ([`rand_chacha`]), and every
//! transcendental function from the pure-Rust `libm` (not the platform's C library),
//! so the same command writes the same file everywhere. Each generator returns exact
//! decimal strings that sum to exactly 1 (30 decimal places, largest cell adjusted),
//! so the file is a normalised distribution at every precision.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::error::{Error, Result};

/// Decimal places of generated probabilities.
const PLACES: u32 = 30;
/// 10^PLACES: the integer that stands for probability 1.
const UNIT: u128 = 10u128.pow(PLACES);
/// Largest number of cells a generator writes.
pub const MAX_GENERATED_CELLS: usize = 1 << 24;

/// A generated joint distribution: a dense table of exact decimals and a description.
#[derive(Clone, Debug)]
pub struct Generated {
    /// Rows = x, columns = y; decimal strings that sum exactly to 1.
    pub rows: Vec<Vec<String>>,
    /// One line saying what the table is (written as a `#` comment).
    pub description: String,
}

impl Generated {
    /// The dense CSV text: `#` comment lines with `provenance` and the description, then
    /// the rows.
    pub fn to_csv(&self, provenance: &str) -> String {
        let mut out = String::new();
        for line in provenance.lines().chain(self.description.lines()) {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
        out.push_str("# rows = x, columns = y; exact decimals summing to 1\n");
        for row in &self.rows {
            out.push_str(&row.join(","));
            out.push('\n');
        }
        out
    }
}

/// A non-negative decimal parsed exactly: `mantissa / 10^scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Decimal {
    mantissa: u128,
    scale: u32,
}

impl Decimal {
    fn parse(name: &str, s: &str) -> Result<Self> {
        let bad = || {
            Error::parameter(
                name,
                format!("`{s}`"),
                "a plain decimal between 0 and 1 with at most 30 decimal places, such as 0.1",
            )
        };
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || frac.len() > PLACES as usize
            || int.len() > 3
        {
            return Err(bad());
        }
        let digits = format!("{int}{frac}");
        let mantissa: u128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| bad())?
        };
        Ok(Decimal {
            mantissa,
            scale: frac.len() as u32,
        })
    }

    /// The value in units of 10^-PLACES.
    fn units(self) -> u128 {
        self.mantissa * 10u128.pow(PLACES - self.scale)
    }
}

/// Formats `units / 10^PLACES` as a plain decimal without trailing zeros.
fn format_units(units: u128) -> String {
    let int = units / UNIT;
    let frac = units % UNIT;
    if frac == 0 {
        return int.to_string();
    }
    let frac = format!("{frac:0width$}", width = PLACES as usize);
    format!("{int}.{}", frac.trim_end_matches('0'))
}

/// Rounds non-negative weights to decimals of `PLACES` places summing exactly to 1:
/// each cell is floor(w / W · 10^30), and what is left goes to the largest cell.
///
/// # Errors
/// Weights that are not all finite and non-negative with a positive finite sum (no
/// distribution can be formed); the error names `flag` and its value `found`.
fn quantize(weights: &[f64], ncols: usize, flag: &str, found: &str) -> Result<Vec<Vec<String>>> {
    let total: f64 = weights.iter().sum();
    if !(total.is_finite() && total > 0.0) || weights.iter().any(|w| w.is_nan() || *w < 0.0) {
        return Err(Error::parameter(
            flag,
            found,
            "a value for which the cell weights are finite and not all zero",
        ));
    }
    let mut units: Vec<u128> = weights
        .iter()
        .map(|w| ((w / total) * UNIT as f64).floor().max(0.0) as u128)
        .collect();
    let assigned: u128 = units.iter().sum();
    let largest = (0..units.len()).max_by_key(|&i| units[i]).unwrap_or(0);
    if assigned <= UNIT {
        units[largest] += UNIT - assigned;
    } else {
        units[largest] -= assigned - UNIT;
    }
    Ok(units
        .chunks(ncols)
        .map(|row| row.iter().map(|&u| format_units(u)).collect())
        .collect())
}

/// The smallest largest weight for which weights computed directly are used as they are.
/// A weight that underflowed (below 2^-1022, or subnormal with an absolute error of
/// 2^-1074) is then below 1e-128 of the total and rounds to 0 at 30 decimal places
/// anyway, as it should; below it the weights are formed in log space instead.
const DIRECT_MIN: f64 = 1e-180;

/// The weights to quantize: `direct` when they are all finite and the largest is at least
/// [`DIRECT_MIN`] (so the tables of earlier versions stay bit for bit), otherwise
/// exp(l - max l) of the natural-log weights l that `log` computes, which cannot all
/// underflow. A non-finite result is left for [`quantize`] to refuse.
fn stable_weights(direct: Vec<f64>, log: impl FnOnce() -> Vec<f64>) -> Vec<f64> {
    let largest = direct.iter().copied().fold(0.0, f64::max);
    if largest >= DIRECT_MIN && direct.iter().all(|w| w.is_finite()) {
        return direct;
    }
    let log = log();
    let top = log.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    log.iter().map(|&l| libm::exp(l - top)).collect()
}

fn check_size(nx: usize, ny: usize) -> Result<()> {
    if nx == 0 || ny == 0 || nx.saturating_mul(ny) > MAX_GENERATED_CELLS {
        return Err(Error::parameter(
            "size",
            format!("{nx} x {ny}"),
            format!("at least 1 x 1 and at most {MAX_GENERATED_CELLS} cells"),
        ));
    }
    Ok(())
}

/// The doubly symmetric binary source: X ~ Bern(1/2), Y = X xor N, N ~ Bern(E).
///
/// # Formula
/// p(x,y) = [[(1−E)/2, E/2], [E/2, (1−E)/2]]; I(X;Y) = 1 − h(E) bits; ρ_m = |1 − 2E|.
///
/// The entries are exact decimal arithmetic on the decimal `crossover` (no rounding).
///
/// # Errors
/// `crossover` not a plain decimal in [0, 1] with at most 30 places.
pub fn dsbs(crossover: &str) -> Result<Generated> {
    let e = Decimal::parse("--crossover", crossover)?;
    let e_units = e.units();
    if e_units > UNIT {
        return Err(Error::parameter(
            "--crossover",
            format!("`{crossover}`"),
            "a probability in [0, 1]",
        ));
    }
    // E/2 and (1 - E)/2 are exact in PLACES decimal places when E has at most
    // PLACES - 1 places (then e_units is a multiple of 10 and so even).
    if e.scale >= PLACES {
        return Err(Error::parameter(
            "--crossover",
            format!("`{crossover}`"),
            "at most 29 decimal places",
        ));
    }
    let (half_e, half_rest) = (e_units / 2, (UNIT - e_units) / 2);
    let a = format_units(half_rest);
    let b = format_units(half_e);
    Ok(Generated {
        rows: vec![vec![a.clone(), b.clone()], vec![b, a]],
        description: format!(
            "doubly symmetric binary source: X ~ Bern(1/2), Y = X xor N, N ~ Bern({crossover}); I(X;Y) = 1 - h({crossover}) bits"
        ),
    })
}

/// Uniform draws in the open interval (0, 1) from ChaCha20: (k + 1/2) / 2^53.
pub(crate) struct Uniform(ChaCha20Rng);

impl Uniform {
    pub(crate) fn new(seed: u64) -> Self {
        Uniform(ChaCha20Rng::seed_from_u64(seed))
    }
    pub(crate) fn next(&mut self) -> f64 {
        ((self.0.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// A uniform index in 0..n (rejection sampling, no modulo bias).
    fn index(&mut self, n: usize) -> usize {
        let n = n as u64;
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let v = self.0.next_u64();
            if v < zone {
                return (v % n) as usize;
            }
        }
    }
    /// Standard normal by Marsaglia's polar method.
    fn normal(&mut self) -> f64 {
        loop {
            let u = 2.0 * self.next() - 1.0;
            let v = 2.0 * self.next() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                return u * libm::sqrt(-2.0 * libm::log(s) / s);
            }
        }
    }
    /// Gamma(shape, 1) by Marsaglia & Tsang (2000); shape < 1 by the boost
    /// Gamma(a) = Gamma(a + 1) · U^(1/a).
    fn gamma(&mut self, shape: f64) -> f64 {
        self.gamma_and_log(shape).0
    }

    /// A Gamma(shape, 1) draw g and its natural logarithm, from the same random numbers.
    /// For shape < 1, g = G · U^(1/a) underflows to 0 when U is small (U^1000 for
    /// a = 0.001 does for U < 0.49), while ln g = ln G + ln(U)/a stays finite; for
    /// shape >= 1 the draw is bounded away from 0 and ln g is just its logarithm.
    fn gamma_and_log(&mut self, shape: f64) -> (f64, f64) {
        if shape < 1.0 {
            let g = self.gamma(shape + 1.0);
            let u = self.next();
            return (
                g * libm::pow(u, 1.0 / shape),
                libm::log(g) + libm::log(u) / shape,
            );
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / libm::sqrt(9.0 * d);
        loop {
            let z = self.normal();
            let v = 1.0 + c * z;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = self.next();
            if libm::log(u) < 0.5 * z * z + d - d * v + d * libm::log(v) {
                let g = d * v;
                return (g, libm::log(g));
            }
        }
    }

    /// `n` Gamma(shape, 1) draws, scaled by a common factor when needed so that they do
    /// not all underflow: Dir(shape, ..., shape) weights up to normalisation.
    fn dirichlet_weights(&mut self, n: usize, shape: f64) -> Vec<f64> {
        let (direct, log): (Vec<f64>, Vec<f64>) = (0..n).map(|_| self.gamma_and_log(shape)).unzip();
        stable_weights(direct, || log)
    }
}

/// A number as the shortest decimal that reads back to it: positional when short
/// (`1`, `0.25`), in exponent form when that would take more than 24 characters
/// (`1e300`, not a 1 and 300 zeros), for messages and provenance lines.
pub(crate) fn short_decimal(v: f64) -> String {
    let positional = format!("{v}");
    if positional.len() > 24 {
        format!("{v:e}")
    } else {
        positional
    }
}

fn check_alpha(alpha: f64) -> Result<()> {
    if !(1e-3..=1e6).contains(&alpha) {
        return Err(Error::parameter(
            "--alpha",
            short_decimal(alpha),
            "a Dirichlet concentration in [0.001, 1e6]",
        ));
    }
    Ok(())
}

/// A joint drawn from the flat Dirichlet distribution Dir(α, ..., α) over all nx·ny cells.
///
/// # Formula
/// g(x,y) ~ Gamma(α, 1) independently; p(x,y) = g(x,y) / Σ g.
///
/// # Errors
/// Sizes of 0 or above [`MAX_GENERATED_CELLS`] cells; α outside [0.001, 1e6].
pub fn dirichlet(nx: usize, ny: usize, seed: u64, alpha: f64) -> Result<Generated> {
    check_size(nx, ny)?;
    check_alpha(alpha)?;
    let weights = Uniform::new(seed).dirichlet_weights(nx * ny, alpha);
    Ok(Generated {
        rows: quantize(&weights, ny, "--alpha", &short_decimal(alpha))?,
        description: format!(
            "Dirichlet joint: p(x,y) ~ Dir({alpha}) over {nx} x {ny} cells, ChaCha20 seed {seed}"
        ),
    })
}

/// A discretised standard bivariate normal with correlation ρ on an n × n grid.
///
/// # Formula
/// Cell centres u_i = −L + (i + ½)·2L/n (L = `range`, default 4 standard deviations);
/// p(i,j) ∝ exp( −(u_i² − 2ρ u_i u_j + u_j²) / (2(1 − ρ²)) ).
/// As n → ∞ and L → ∞, I(X;Y) → −½ ln(1 − ρ²) nats and ρ_m → |ρ|.
/// When every cell's density underflows (a coarse grid on a wide range, such as n = 4 with
/// L = 150), the weights are formed in log space relative to the largest: the mass sits
/// on the cells of largest density, and cells far out in the tails are 0 at 30 decimal
/// places, as they should be.
///
/// # Errors
/// n < 2 or n² above the cell limit; |ρ| ≥ 1; range not positive.
pub fn gaussian(n: usize, rho: f64, range: f64) -> Result<Generated> {
    if n < 2 {
        return Err(Error::parameter("--n", n.to_string(), "at least 2"));
    }
    check_size(n, n)?;
    if !(rho.is_finite() && rho.abs() < 1.0) {
        return Err(Error::parameter(
            "--rho",
            short_decimal(rho),
            "a correlation in (-1, 1)",
        ));
    }
    if !(range.is_finite() && range > 0.0) {
        return Err(Error::parameter(
            "--range",
            short_decimal(range),
            "a positive number",
        ));
    }
    let centre = |i: usize| -range + (i as f64 + 0.5) * 2.0 * range / n as f64;
    let denom = 2.0 * (1.0 - rho * rho);
    let mut direct = Vec::with_capacity(n * n);
    for i in 0..n {
        for j in 0..n {
            let (u, v) = (centre(i), centre(j));
            direct.push(libm::exp(-(u * u - 2.0 * rho * u * v + v * v) / denom));
        }
    }
    let weights = stable_weights(direct, || gaussian_log_weights(n, rho, range));
    Ok(Generated {
        rows: quantize(&weights, n, "--range", &short_decimal(range))?,
        description: format!(
            "discretised bivariate normal, correlation {}, {n} x {n} cell centres on [-{r}, {r}]^2 (density at centres, normalised)",
            short_decimal(rho),
            r = short_decimal(range)
        ),
    })
}

/// The natural-log weights of [`gaussian`] shifted so that the largest is 0, computed so
/// that they neither underflow nor overflow at any range.
///
/// With a_i = (2i + 1 - n)/n the centres are u_i = L·a_i, so the exponent is
/// -(L²/(2(1 - ρ²)))·q(a_i, a_j) with q(a, b) = a² + b² - 2ρab of order 1. The weight
/// relative to the largest is exp(-(L²/(2(1 - ρ²)))·(q - min q)): 0 for the cells at
/// the minimum even when L² overflows, -inf (weight 0) for the others then. The a_i are
/// exactly antisymmetric (a_{n-1-i} = -a_i) and q is written symmetrically, so the
/// weights are exactly symmetric under (x, y) -> (-x, -y) and x <-> y.
fn gaussian_log_weights(n: usize, rho: f64, range: f64) -> Vec<f64> {
    let a: Vec<f64> = (0..n)
        .map(|i| ((2 * i + 1) as f64 - n as f64) / n as f64)
        .collect();
    let q: Vec<f64> = a
        .iter()
        .flat_map(|&x| {
            a.iter()
                .map(move |&y| (x * x + y * y) - 2.0 * rho * (x * y))
        })
        .collect();
    let q_min = q.iter().copied().fold(f64::INFINITY, f64::min);
    let scale = range * range / (2.0 * (1.0 - rho * rho));
    q.iter()
        .map(|&v| {
            if v <= q_min {
                0.0
            } else {
                -scale * (v - q_min)
            }
        })
        .collect()
}

/// A sparse joint: each row x has `nnz` non-zero cells at distinct random columns.
///
/// # Formula
/// p(x) ~ Dir(1, ..., 1) over rows; within each row the `nnz` chosen cells get
/// Dir(α, ..., α) weights: p(x,y) = p(x) · w_x(y).
///
/// # Errors
/// Sizes out of range, `nnz` = 0 or above `ny`, α outside [0.001, 1e6].
pub fn sparse(nx: usize, ny: usize, nnz: usize, seed: u64, alpha: f64) -> Result<Generated> {
    check_size(nx, ny)?;
    check_alpha(alpha)?;
    if nnz == 0 || nnz > ny {
        return Err(Error::parameter(
            "--nnz",
            nnz.to_string(),
            format!("between 1 and ny = {ny} non-zeros per row"),
        ));
    }
    let mut rng = Uniform::new(seed);
    let mut weights = vec![0.0; nx * ny];
    let mut columns: Vec<usize> = (0..ny).collect();
    for x in 0..nx {
        let row_mass = rng.gamma(1.0);
        // Partial Fisher-Yates: the first nnz entries become a uniform random subset.
        for k in 0..nnz {
            let pick = k + rng.index(ny - k);
            columns.swap(k, pick);
        }
        let inner = rng.dirichlet_weights(nnz, alpha);
        let inner_total: f64 = inner.iter().sum();
        for (k, w) in inner.iter().enumerate() {
            weights[x * ny + columns[k]] = row_mass * w / inner_total;
        }
    }
    Ok(Generated {
        rows: quantize(&weights, ny, "--alpha", &short_decimal(alpha))?,
        description: format!(
            "sparse joint: {nx} x {ny}, {nnz} non-zeros per row, p(x) ~ Dir(1), row weights ~ Dir({alpha}), ChaCha20 seed {seed}"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units_sum(g: &Generated) -> u128 {
        g.rows
            .iter()
            .flatten()
            .map(|s| Decimal::parse("v", s).unwrap().units())
            .sum()
    }

    #[test]
    fn dsbs_is_exact() {
        let g = dsbs("0.1").unwrap();
        assert_eq!(g.rows[0], vec!["0.45", "0.05"]);
        assert_eq!(units_sum(&g), UNIT);
        assert!(dsbs("1.5").is_err());
        assert!(dsbs("-0.1").is_err());
        assert!(dsbs("abc").is_err());
    }

    #[test]
    fn generated_tables_sum_to_one_exactly() {
        assert_eq!(units_sum(&dirichlet(7, 5, 3, 0.5).unwrap()), UNIT);
        assert_eq!(units_sum(&gaussian(16, 0.9, 4.0).unwrap()), UNIT);
        assert_eq!(units_sum(&sparse(9, 6, 2, 1, 1.0).unwrap()), UNIT);
    }

    #[test]
    fn same_seed_same_table_other_seed_other_table() {
        assert_eq!(
            dirichlet(4, 3, 7, 1.0).unwrap().rows,
            dirichlet(4, 3, 7, 1.0).unwrap().rows
        );
        assert_ne!(
            dirichlet(4, 3, 7, 1.0).unwrap().rows,
            dirichlet(4, 3, 8, 1.0).unwrap().rows
        );
    }

    /// Normalised weights.
    fn normalised(w: &[f64]) -> Vec<f64> {
        let total: f64 = w.iter().sum();
        w.iter().map(|v| v / total).collect()
    }

    #[test]
    fn gaussian_log_weights_match_the_direct_density() {
        // Where nothing underflows, exp(log weight) normalised is the normalised density
        // at the cell centres computed directly from the formula.
        for (n, rho, range) in [
            (16, 0.9, 4.0),
            (7, -0.5, 6.0),
            (32, 0.0, 10.0),
            (5, 0.3, 1.0),
        ] {
            let centre = |i: usize| -range + (i as f64 + 0.5) * 2.0 * range / n as f64;
            let mut direct = Vec::new();
            for i in 0..n {
                for j in 0..n {
                    let (u, v) = (centre(i), centre(j));
                    let quad = u * u - 2.0 * rho * u * v + v * v;
                    direct.push((-quad / (2.0 * (1.0 - rho * rho))).exp());
                }
            }
            let logs = gaussian_log_weights(n, rho, range);
            assert_eq!(logs.iter().copied().fold(f64::NEG_INFINITY, f64::max), 0.0);
            let via_log: Vec<f64> = logs.iter().map(|l| l.exp()).collect();
            for (a, b) in normalised(&direct).iter().zip(normalised(&via_log)) {
                assert!(
                    (a - b).abs() <= 1e-12 * a.max(1e-200),
                    "{n} {rho} {range}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn gamma_logarithms_match_the_draws() {
        // The log of each draw is the log of the direct draw wherever that is representable.
        for shape in [0.3, 0.5, 0.999, 1.0, 2.5] {
            let mut rng = Uniform::new(11);
            for _ in 0..200 {
                let (g, log_g) = rng.gamma_and_log(shape);
                if g > 1e-300 {
                    assert!((g.ln() - log_g).abs() < 1e-12 * log_g.abs().max(1.0));
                }
            }
        }
    }

    #[test]
    fn direct_weights_are_kept_when_safe_and_replaced_when_they_underflow() {
        let direct = vec![0.25, 1e-300, 0.5];
        let kept = stable_weights(direct.clone(), || unreachable!("not needed"));
        assert_eq!(kept, direct);
        // All underflowed: the log weights decide, relative to the largest.
        let fixed = stable_weights(vec![0.0, 0.0, 0.0], || vec![-800.0, -799.5, -2000.0]);
        assert_eq!(fixed[1], 1.0);
        assert!((fixed[0] - (-0.5f64).exp()).abs() < 1e-15, "{fixed:?}");
        assert_eq!(fixed[2], 0.0);
    }

    #[test]
    fn numbers_in_messages_are_short_and_read_back() {
        for (v, text) in [
            (1.0, "1"),
            (0.9, "0.9"),
            (1e300, "1e300"),
            (1e-300, "1e-300"),
        ] {
            assert_eq!(short_decimal(v), text);
            assert_eq!(text.parse::<f64>().unwrap(), v);
        }
        let e = dirichlet(2, 2, 1, 1e300).unwrap_err().to_string();
        assert!(e.contains("found 1e300,"), "{e}");
        let g = gaussian(3, 1e-200, 3.0).unwrap();
        assert!(
            g.description.contains("correlation 1e-200,"),
            "{}",
            g.description
        );
    }

    #[test]
    fn weights_that_cannot_be_normalised_are_an_error_naming_the_flag() {
        let e = quantize(&[0.0, 0.0], 2, "--alpha", "0.001").unwrap_err();
        assert!(e.to_string().contains("--alpha"), "{e}");
        assert!(quantize(&[f64::NAN, 1.0], 2, "--range", "1").is_err());
    }

    #[test]
    fn sparse_rows_have_nnz_nonzeros() {
        let g = sparse(20, 10, 3, 5, 1.0).unwrap();
        for row in &g.rows {
            assert_eq!(row.iter().filter(|s| s.as_str() != "0").count(), 3);
        }
    }
}
