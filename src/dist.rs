//! `Joint<T>`: a validated joint distribution p(x,y) on finite alphabets, with its
//! marginals p(x), p(y) and conditional p(y|x) cached.
//!
//! Checked when built, infallible afterwards (as statrs' distributions are). Rows are
//! x, columns are y (`p_xy[(x, y)]`, `p_y_given_x[(x, y)]`).

use std::sync::OnceLock;

use nalgebra::DMatrix;

use crate::error::{Error, Result};
use crate::scalar::{tol, Real};

/// Largest number of cells a joint may have (2^26, about 67 million). At `f64` that is
/// 512 MiB per matrix; at MPFR precisions more. Larger tables are refused as absurd.
pub const MAX_CELLS: usize = 1 << 26;

/// A joint distribution p(x,y) on finite alphabets.
///
/// Invariants (checked by every constructor): all entries finite and >= 0, the sum
/// is 1 within [`tol::sum_tolerance`], and every x has p(x) > 0 (rows with p(x) = 0 are
/// dropped when the joint is built and listed in [`Joint::dropped_x`]). A y with
/// p(y) = 0 is kept: it carries no mass and contributes nothing to any measure.
#[derive(Clone, Debug)]
pub struct Joint<T: Real> {
    p_xy: DMatrix<T>,
    p_x: Vec<T>,
    p_y: Vec<T>,
    p_y_given_x: DMatrix<T>,
    x_labels: Vec<String>,
    y_labels: Vec<String>,
    dropped_x: Vec<String>,
    cache: Cache<T>,
}

/// Quantities derived from p(y|x) that every iteration step needs, computed once.
#[derive(Clone, Debug, Default)]
struct Cache<T: Real> {
    ln_p_y_given_x: OnceLock<DMatrix<T>>,
    neg_entropy_rows: OnceLock<Vec<T>>,
    has_zero_conditionals: OnceLock<bool>,
    maximal_correlation_function: OnceLock<Option<Vec<f64>>>,
    maximal_correlation: OnceLock<crate::spectrum::MaximalCorrelation<T>>,
}

/// The outcome of [`Joint::normalized`]: the joint and the sum it was divided by.
#[derive(Clone, Debug)]
pub struct Normalized<T: Real> {
    /// The normalised joint.
    pub joint: Joint<T>,
    /// The sum of the weights before normalisation.
    pub original_sum: T,
}

fn default_labels(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}

/// The sum N of counts, or `Err` with the sum when it exceeds 2^64 − 1 (summed in u128,
/// which cannot overflow for any count table that fits in memory). The one check of the
/// total, for [`Joint::from_counts`] and the file reader (which phrases the error with
/// its own remedies).
pub(crate) fn count_total<'a>(
    counts: impl IntoIterator<Item = &'a u64>,
) -> std::result::Result<u64, u128> {
    let total: u128 = counts.into_iter().map(|&c| c as u128).sum();
    u64::try_from(total).map_err(|_| total)
}

impl<T: Real> Joint<T> {
    /// A joint from a matrix of probabilities, rows = x, columns = y, with labels
    /// `0, 1, ...`.
    ///
    /// # Errors
    /// [`Error::InvalidDistribution`] if the matrix is empty or too large, an entry is
    /// negative or not finite, or the sum is not 1 within [`tol::sum_tolerance`].
    pub fn new(p_xy: DMatrix<T>) -> Result<Self> {
        let (nx, ny) = p_xy.shape();
        Self::with_labels(p_xy, default_labels(nx), default_labels(ny))
    }

    /// As [`Joint::new`], with labels for the values of x (rows) and y (columns).
    ///
    /// # Errors
    /// As [`Joint::new`]; also when the number of labels does not match the shape.
    pub fn with_labels(
        p_xy: DMatrix<T>,
        x_labels: Vec<String>,
        y_labels: Vec<String>,
    ) -> Result<Self> {
        check_entries(&p_xy, &x_labels, &y_labels)?;
        let sum = total(&p_xy);
        let n = p_xy.len();
        let off = (sum.clone() - T::one()).abs();
        if off > tol::sum_tolerance::<T>(n) {
            return Err(Error::InvalidDistribution(format!(
                "the entries sum to {} (off by {:.3e} from 1; tolerance {:.3e} at {} bits)",
                sum.to_decimal(),
                off.to_f64(),
                tol::sum_tolerance::<T>(n).to_f64(),
                T::PRECISION_BITS
            )));
        }
        Ok(Self::build(p_xy, x_labels, y_labels))
    }

    /// A joint from non-negative weights, divided by their sum. Returns the joint and
    /// the original sum (so that a caller can report how far off it was).
    ///
    /// # Errors
    /// [`Error::InvalidDistribution`] if the matrix is empty or too large, an entry is
    /// negative or not finite, or all entries are zero.
    pub fn normalized(
        weights: DMatrix<T>,
        x_labels: Vec<String>,
        y_labels: Vec<String>,
    ) -> Result<Normalized<T>> {
        check_entries(&weights, &x_labels, &y_labels)?;
        let sum = total(&weights);
        if sum.is_zero() {
            return Err(Error::InvalidDistribution(
                "all entries are zero: there is no distribution to normalise".into(),
            ));
        }
        let p_xy = weights.map(|w| w / &sum);
        Ok(Normalized {
            joint: Self::build(p_xy, x_labels, y_labels),
            original_sum: sum,
        })
    }

    /// A joint from a matrix of counts: p(x,y) = n(x,y) / N, each entry rounded once at
    /// the working precision (exact normalisation in `T`).
    ///
    /// # Errors
    /// [`Error::InvalidDistribution`] if the matrix is empty, too large, or all zero.
    pub fn from_counts(
        counts: &DMatrix<u64>,
        x_labels: Vec<String>,
        y_labels: Vec<String>,
    ) -> Result<Normalized<T>> {
        let total_count = count_total(counts.iter()).map_err(|total| {
            Error::InvalidDistribution(format!(
                "found counts that add up to {total}, expected a total of at most \
                 2^64 - 1 = {}; divide the counts, or pass them as weights to `Joint::normalized`",
                u64::MAX
            ))
        })?;
        if total_count == 0 && !counts.is_empty() {
            return Err(Error::InvalidDistribution(
                "all counts are zero: there is no distribution".into(),
            ));
        }
        let n_total = T::from_u64(total_count);
        let p_xy = counts.map(|c| T::from_u64(c) / &n_total);
        check_entries(&p_xy, &x_labels, &y_labels)?;
        Ok(Normalized {
            joint: Self::build(p_xy, x_labels, y_labels),
            original_sum: n_total,
        })
    }

    /// Drops rows with p(x) = 0 and caches marginals and conditionals. The entries are
    /// already checked.
    fn build(p_xy: DMatrix<T>, x_labels: Vec<String>, y_labels: Vec<String>) -> Self {
        let (nx, ny) = p_xy.shape();
        let row_sums: Vec<T> = (0..nx)
            .map(|x| sum_iter(p_xy.row(x).iter().cloned()))
            .collect();
        let kept: Vec<usize> = (0..nx).filter(|&x| !row_sums[x].is_zero()).collect();
        let dropped_x = (0..nx)
            .filter(|&x| row_sums[x].is_zero())
            .map(|x| x_labels[x].clone())
            .collect();
        let p_xy = DMatrix::from_fn(kept.len(), ny, |i, y| p_xy[(kept[i], y)].clone());
        let p_x: Vec<T> = kept.iter().map(|&x| row_sums[x].clone()).collect();
        let p_y: Vec<T> = (0..ny)
            .map(|y| sum_iter(p_xy.column(y).iter().cloned()))
            .collect();
        let p_y_given_x = DMatrix::from_fn(kept.len(), ny, |x, y| p_xy[(x, y)].clone() / &p_x[x]);
        let x_labels = kept.iter().map(|&x| x_labels[x].clone()).collect();
        Joint {
            p_xy,
            p_x,
            p_y,
            p_y_given_x,
            x_labels,
            y_labels,
            dropped_x,
            cache: Cache {
                ln_p_y_given_x: OnceLock::new(),
                neg_entropy_rows: OnceLock::new(),
                has_zero_conditionals: OnceLock::new(),
                maximal_correlation_function: OnceLock::new(),
                maximal_correlation: OnceLock::new(),
            },
        }
    }

    /// The joint with uniform label noise: each label is replaced, with probability ε,
    /// by one drawn uniformly from the |Y| values, and p(x) is kept.
    ///
    /// # Formula
    /// p_ε(y|x) = (1 − ε) p(y|x) + ε/|Y|, so p_ε(x,y) = (1 − ε) p(x,y) + ε p(x)/|Y|.
    ///
    /// For ε > 0 every p_ε(y|x) is positive. That is what the dual IB needs: its geometric
    /// decoder gives y no mass in any cluster holding an x with p(y|x) = 0, and since
    /// such zeros are absorbing, an iteration whose clusters mix inputs (an up sweep, a
    /// random start) can never give y mass back (spec ib §1.5, pitfall 9; the dual-IB
    /// authors likewise assume a noise model for deterministic labels \[PST20, §1\]).
    /// On the DSBS with crossover E it gives the DSBS with crossover (1 − ε)E + ε/2.
    /// Dropped inputs (p(x) = 0) stay dropped; labels are kept.
    ///
    /// # Errors
    /// [`Error::InvalidDistribution`] if ε is not in [0, 1].
    pub fn with_label_noise(&self, epsilon: &T) -> Result<Self> {
        if !(*epsilon >= T::zero() && *epsilon <= T::one()) {
            return Err(Error::InvalidDistribution(format!(
                "label noise {} is not a probability in [0, 1]",
                epsilon.to_decimal()
            )));
        }
        let ny = T::from_f64(self.ny() as f64);
        let keep = T::one() - epsilon;
        let p_xy = DMatrix::from_fn(self.nx(), self.ny(), |x, y| {
            keep.clone() * &self.p_xy[(x, y)] + epsilon.clone() * &self.p_x[x] / &ny
        });
        let mut joint = Self::build(p_xy, self.x_labels.clone(), self.y_labels.clone());
        joint.dropped_x = self.dropped_x.clone();
        Ok(joint)
    }

    /// Number of values of x (rows with p(x) > 0).
    pub fn nx(&self) -> usize {
        self.p_xy.nrows()
    }
    /// Number of values of y (columns, including any with p(y) = 0).
    pub fn ny(&self) -> usize {
        self.p_xy.ncols()
    }
    /// p(x,y), rows = x, columns = y.
    pub fn p_xy(&self) -> &DMatrix<T> {
        &self.p_xy
    }
    /// p(x) = Σ_y p(x,y).
    pub fn p_x(&self) -> &[T] {
        &self.p_x
    }
    /// p(y) = Σ_x p(x,y).
    pub fn p_y(&self) -> &[T] {
        &self.p_y
    }
    /// p(y|x) = p(x,y) / p(x), rows = x; each row sums to 1.
    pub fn p_y_given_x(&self) -> &DMatrix<T> {
        &self.p_y_given_x
    }
    /// Labels of the x values kept (rows).
    pub fn x_labels(&self) -> &[String] {
        &self.x_labels
    }
    /// Labels of the y values (columns).
    pub fn y_labels(&self) -> &[String] {
        &self.y_labels
    }
    /// Labels of the x values dropped because p(x) = 0.
    pub fn dropped_x(&self) -> &[String] {
        &self.dropped_x
    }

    /// ln p(y|x), rows = x, with 0 in place of ln 0 = −inf (computed once). Products with
    /// it must mask the zeros of p(y|x) separately (see [`Joint::has_zero_conditionals`]).
    pub fn ln_p_y_given_x(&self) -> &DMatrix<T> {
        self.cache.ln_p_y_given_x.get_or_init(|| {
            self.p_y_given_x
                .map(|v| if v.is_zero() { T::zero() } else { v.ln() })
        })
    }

    /// Σ_y p(y|x) ln p(y|x) for each x (= −H(Y|X=x)), computed once.
    pub fn neg_entropy_rows(&self) -> &[T] {
        self.cache.neg_entropy_rows.get_or_init(|| {
            (0..self.nx())
                .map(|x| {
                    self.p_y_given_x
                        .row(x)
                        .iter()
                        .fold(T::zero(), |acc, v| acc + v.xlogx())
                })
                .collect()
        })
    }

    /// Whether some p(y|x) is exactly 0 (structural zeros), computed once.
    pub fn has_zero_conditionals(&self) -> bool {
        *self
            .cache
            .has_zero_conditionals
            .get_or_init(|| self.p_y_given_x.iter().any(|v| v.is_zero()))
    }

    /// The singular values of Q(x,y) = p(x,y)/sqrt(p(x)p(y)), ρ_m = σ_2(Q) and 1/ρ_m²
    /// ([`crate::spectrum::MaximalCorrelation::of`]), computed once at the working
    /// precision: s* and η_dual both test independence with it
    /// ([`crate::bifurcation::independent_to_rounding`]), s* starts from ρ_m², and
    /// `ibex info` prints it: with `--method both` one SVD serves both constants.
    pub fn maximal_correlation(&self) -> &crate::spectrum::MaximalCorrelation<T> {
        self.cache
            .maximal_correlation
            .get_or_init(|| crate::spectrum::MaximalCorrelation::of(self))
    }

    /// The maximal-correlation function of X scaled to max|f| = 1, computed once in f64
    /// from this joint converted to f64
    /// ([`crate::spectrum::maximal_correlation_function`]); `None` when ρ_m = 0 or the SVD
    /// fails.
    pub fn maximal_correlation_function(&self) -> Option<&[f64]> {
        self.cache
            .maximal_correlation_function
            .get_or_init(|| crate::spectrum::maximal_correlation_function(&self.convert::<f64>()))
            .as_deref()
    }

    /// The same joint at another precision: every entry converted (exactly from `f64`
    /// upwards, correctly rounded downwards) and the table renormalised by its sum.
    pub fn convert<U: Real>(&self) -> Joint<U> {
        let p_xy = self.p_xy.map(|v| crate::scalar::convert::<T, U>(&v));
        let sum = total(&p_xy);
        let p_xy = p_xy.map(|v| v / &sum);
        Joint::<U>::build(p_xy, self.x_labels.clone(), self.y_labels.clone())
    }
}

fn sum_iter<T: Real>(values: impl Iterator<Item = T>) -> T {
    values.fold(T::zero(), |acc, v| acc + v)
}

fn total<T: Real>(m: &DMatrix<T>) -> T {
    sum_iter(m.iter().cloned())
}

fn check_entries<T: Real>(m: &DMatrix<T>, x_labels: &[String], y_labels: &[String]) -> Result<()> {
    let (nx, ny) = m.shape();
    if nx == 0 || ny == 0 {
        return Err(Error::InvalidDistribution(format!(
            "the table is empty ({nx} x {ny}); expected at least one row and one column"
        )));
    }
    if m.len() > MAX_CELLS {
        return Err(Error::InvalidDistribution(format!(
            "the table has {nx} x {ny} = {} cells, more than the limit of {MAX_CELLS}",
            m.len()
        )));
    }
    if x_labels.len() != nx || y_labels.len() != ny {
        return Err(Error::InvalidDistribution(format!(
            "{} x labels and {} y labels for a {nx} x {ny} table",
            x_labels.len(),
            y_labels.len()
        )));
    }
    for x in 0..nx {
        for y in 0..ny {
            let v = &m[(x, y)];
            if !v.is_finite() {
                return Err(Error::InvalidDistribution(format!(
                    "entry (x={}, y={}) is {v}, expected a finite number",
                    x_labels[x], y_labels[y]
                )));
            }
            if *v < T::zero() {
                return Err(Error::InvalidDistribution(format!(
                    "entry (x={}, y={}) is {v}, expected a non-negative number",
                    x_labels[x], y_labels[y]
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marginals_and_conditionals() {
        let j = Joint::new(DMatrix::from_row_slice(2, 2, &[0.1, 0.3, 0.2, 0.4])).unwrap();
        assert!((j.p_x()[0] - 0.4).abs() < 1e-15);
        assert!((j.p_y()[1] - 0.7).abs() < 1e-15);
        assert!((j.p_y_given_x()[(1, 0)] - 1.0 / 3.0).abs() < 1e-15);
    }

    /// p_ε(x,y) = (1 − ε) p(x,y) + ε p(x)/|Y| by hand: p(x) and the labels and dropped
    /// rows are kept, the zeros of p(y|x) are gone, and ε outside [0, 1] is refused.
    #[test]
    fn label_noise_mixes_each_row_with_the_uniform_distribution() {
        let j = Joint::with_labels(
            DMatrix::from_row_slice(3, 3, &[0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.1, 0.3]),
            vec!["a".into(), "b".into(), "c".into()],
            vec!["u".into(), "v".into(), "w".into()],
        )
        .unwrap();
        let n = j.with_label_noise(&0.3).unwrap();
        let want = [
            [0.7 * 0.5 + 0.1 * 0.5, 0.1 * 0.5, 0.1 * 0.5],
            [
                0.7 * 0.1 + 0.1 * 0.5,
                0.7 * 0.1 + 0.1 * 0.5,
                0.7 * 0.3 + 0.1 * 0.5,
            ],
        ];
        for (x, row) in want.iter().enumerate() {
            for (y, w) in row.iter().enumerate() {
                assert!((n.p_xy()[(x, y)] - w).abs() < 1e-16, "({x}, {y})");
            }
            assert!((n.p_x()[x] - j.p_x()[x]).abs() < 1e-16);
        }
        assert_eq!(n.x_labels(), ["a", "c"]);
        assert_eq!(n.dropped_x(), ["b"]);
        assert_eq!(n.y_labels(), ["u", "v", "w"]);
        assert!(j.has_zero_conditionals() && !n.has_zero_conditionals());
        assert!(j.with_label_noise(&0.0).unwrap().has_zero_conditionals());
        for bad in [-0.1, 1.1, f64::NAN] {
            assert!(j.with_label_noise(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn zero_rows_are_dropped_and_reported() {
        let j = Joint::new(DMatrix::from_row_slice(
            3,
            2,
            &[0.5, 0.0, 0.0, 0.0, 0.25, 0.25],
        ))
        .unwrap();
        assert_eq!(j.nx(), 2);
        assert_eq!(j.dropped_x(), &["1".to_string()]);
        assert_eq!(j.x_labels(), &["0".to_string(), "2".to_string()]);
    }

    #[test]
    fn sum_off_is_an_error() {
        let e = Joint::new(DMatrix::from_row_slice(
            1,
            3,
            &[0.333333, 0.333333, 0.333333],
        ));
        assert!(matches!(e, Err(Error::InvalidDistribution(_))));
    }

    #[test]
    fn counts_normalise_exactly() {
        let c = DMatrix::from_row_slice(2, 2, &[1u64, 2, 3, 4]);
        let n = Joint::<f64>::from_counts(&c, default_labels(2), default_labels(2)).unwrap();
        assert_eq!(n.original_sum, 10.0);
        assert_eq!(n.joint.p_xy()[(1, 1)], 0.4);
    }

    #[test]
    fn counts_beyond_u64_say_what_was_expected() {
        let c = DMatrix::from_row_slice(1, 2, &[u64::MAX, 1]);
        let e = Joint::<f64>::from_counts(&c, default_labels(1), default_labels(2));
        let Err(Error::InvalidDistribution(message)) = e else {
            panic!("a total of 2^64 must be refused");
        };
        assert!(
            message.contains("add up to 18446744073709551616")
                && message.contains("expected a total of at most 2^64 - 1"),
            "{message}"
        );
    }
}
