//! NNGP and NTK kernels of infinitely wide fully connected networks, with the
//! conventions of neural-tangents (stax) \[NT20\]: NTK parameterisation, input kernel
//! ⟨x, x'⟩/d_in, read-out layer included.
//!
//! # The network
//! Depth L means L hidden blocks `Dense → φ` followed by a read-out `Dense`:
//! `serial([Dense(w, W_std, b_std), φ] × L, Dense(k, W_std, b_std))`. In the NTK
//! parameterisation z^{l+1} = (σ_w/√n_l) W^{l+1} x^l + σ_b b^{l+1} with W, b ~ N(0, 1) and
//! n_l the fan-in; the analytic kernels do not depend on the widths.
//!
//! # Recursion (spec ntk-math B.2-B.3, verified against neural-tangents 0.6.5)
//! ```text
//! Φ⁰ = K⁰ = ⟨x, x'⟩ / d_in,   Θ̃⁰ = 0
//! for l = 1 .. L+1:                     (Dense layer l)
//!     K^l = σ_w² Φ^{l−1} + σ_b²
//!     Θ^l = K^l + σ_w² Θ̃^{l−1}
//!     if l ≤ L:                         (φ after a hidden Dense)
//!         Φ^l = T_φ(K^l),  Θ̃^l = Θ^l · Ṫ_φ(K^l)
//! NNGP K = K^{L+1},  NTK Θ = Θ^{L+1}
//! ```
//! T_φ and Ṫ_φ act on the triple (K_12, K_11, K_22) of a pair of points:
//!
//! * **ReLU** (Cho & Saul 2009, arc-cosine kernel of order 1, with the 1/(2π) of
//!   E[relu(u) relu(v)]): θ = atan2(√max(K11·K22 − K12², 0), K12) ∈ [0, π],
//!   T = (√(K11K22 − K12²) + (π − θ)·K12)/(2π), Ṫ = (π − θ)/(2π); on the diagonal
//!   T = K11/2, Ṫ = 1/2. For **identical inputs** (the diagonal and duplicated points)
//!   θ is exactly 0 (spec D.4): the difference K11K22 − K12² is pure rounding there,
//!   and its square root would put an error of ~1e-8 into Θ. When both √(·) and K12
//!   are 0 (a zero input without bias), θ = π/2 as in neural-tangents.
//! * **erf** (Williams 1997; φ(u) = erf(u)): with D = (1 + 2K11)(1 + 2K22) − 4K12²,
//!   T = (2/π)·atan2(2K12, √D) = (2/π)·arcsin(2K12/√((1+2K11)(1+2K22))),
//!   Ṫ = (4/π)/√D.
//! * **identity** (no nonlinearity: the hidden block is the Dense layer alone):
//!   T = K12, Ṫ = 1.
//!
//! Sources: \[NT20\] (`stax.Dense`, `Relu`, `Erf`, `_inputs_to_kernel`), read in the
//! neural-tangents 0.6.5 source by the spec author; \[Lee19\], Jacot et al. 2018, Arora et
//! al. 2019 for the NTK recursion; checked against the neural-tangents oracle in
//! `data/reference/ntk/` (tests/ntk_reference.rs).

use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::scalar::Real;

/// The nonlinearity φ after each hidden Dense layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// φ(u) = max(u, 0) (neural-tangents `Relu()`).
    Relu,
    /// φ(u) = erf(u) (neural-tangents `Erf()`, a = b = 1, c = 0).
    Erf,
    /// No nonlinearity: a deep linear network.
    Identity,
}

impl Activation {
    /// The name used on the command line and in files: `relu`, `erf`, `identity`.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Erf => "erf",
            Activation::Identity => "identity",
        }
    }

    /// Parses `relu`, `erf` or `identity` (also `linear`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the accepted values.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "relu" => Ok(Activation::Relu),
            "erf" => Ok(Activation::Erf),
            "identity" | "linear" => Ok(Activation::Identity),
            other => Err(Error::parameter(
                "--arch",
                format!("`{other}`"),
                "relu, erf or identity",
            )),
        }
    }
}

/// One Dense layer's weight and bias standard deviations (σ_w = `W_std`, σ_b = `b_std`).
#[derive(Clone, Debug, PartialEq)]
pub struct Dense<T: Real> {
    /// σ_w, the weight standard deviation (before the 1/√fan-in of the NTK parameterisation).
    pub w_std: T,
    /// σ_b, the bias standard deviation (0 means no bias).
    pub b_std: T,
}

/// A fully connected network: `layers.len() − 1` hidden blocks `Dense → φ`, then the
/// read-out Dense (the last entry of `layers`).
#[derive(Clone, Debug, PartialEq)]
pub struct FcNetwork<T: Real> {
    /// φ after each hidden Dense.
    pub activation: Activation,
    /// The Dense layers in order; the last is the read-out. At least one.
    pub layers: Vec<Dense<T>>,
}

impl<T: Real> FcNetwork<T> {
    /// `depth` hidden blocks and a read-out, every Dense with the same (σ_w, σ_b), as in
    /// `serial([Dense(w, W_std, b_std), φ] × depth, Dense(k, W_std, b_std))`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a negative or non-finite σ_w or σ_b.
    pub fn uniform(activation: Activation, depth: usize, w_std: T, b_std: T) -> Result<Self> {
        for (name, v) in [("--w-std", &w_std), ("--b-std", &b_std)] {
            if !v.is_finite() || *v < T::zero() {
                return Err(Error::parameter(
                    name,
                    v.to_decimal(),
                    "a finite number >= 0",
                ));
            }
        }
        Ok(FcNetwork {
            activation,
            layers: vec![Dense { w_std, b_std }; depth + 1],
        })
    }

    /// The number of hidden blocks L.
    pub fn depth(&self) -> usize {
        self.layers.len().saturating_sub(1)
    }
}

/// NNGP and NTK kernels over a list of points (training points first, then test points).
#[derive(Clone, Debug)]
pub struct Kernels<T: Real> {
    /// K(x_i, x_j), the NNGP kernel (the covariance of the network at initialisation).
    pub nngp: DMatrix<T>,
    /// Θ(x_i, x_j), the neural tangent kernel.
    pub ntk: DMatrix<T>,
    /// How many of the points (the first ones) are training points.
    pub n_train: usize,
}

/// Which kernel block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The NNGP kernel K.
    Nngp,
    /// The NTK Θ.
    Ntk,
}

impl<T: Real> Kernels<T> {
    /// Kernels of `net` over the rows of `x_train` followed by the rows of `x_test`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when the two sets have different input dimensions or
    /// there are no input columns; [`Error::Overflow`] when a kernel entry is not finite
    /// at the working precision (large σ_w, σ_b or inputs), naming the kernel, the entry
    /// and its points.
    pub fn new(net: &FcNetwork<T>, x_train: &DMatrix<T>, x_test: &DMatrix<T>) -> Result<Self> {
        if x_train.ncols() != x_test.ncols() && x_test.nrows() > 0 {
            return Err(Error::parameter(
                "inputs",
                format!(
                    "{} training and {} test input columns",
                    x_train.ncols(),
                    x_test.ncols()
                ),
                "the same input dimension in both sets",
            ));
        }
        let d = x_train.ncols();
        let mut x = DMatrix::zeros(x_train.nrows() + x_test.nrows(), d);
        x.rows_mut(0, x_train.nrows()).copy_from(x_train);
        if x_test.nrows() > 0 {
            x.rows_mut(x_train.nrows(), x_test.nrows())
                .copy_from(x_test);
        }
        let (nngp, ntk) = kernel_matrices(net, &x)?;
        let n_train = x_train.nrows();
        let point = |i: usize| {
            if i < n_train {
                format!("training point {}", i + 1)
            } else {
                format!("test point {}", i - n_train + 1)
            }
        };
        for (name, k) in [("NNGP", &nngp), ("NTK", &ntk)] {
            // Column-major: entry `at` is (at % n, at / n).
            if let Some((at, v)) = k.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                let (i, j) = (at % k.nrows(), at / k.nrows());
                let with = if i == j {
                    "itself".to_string()
                } else {
                    point(j)
                };
                return Err(Error::Overflow {
                    what: format!("the {name} kernel"),
                    precision: super::precision_name::<T>(),
                    found: format!(
                        "entry ({}, {}) = {} ({} with {with})",
                        i + 1,
                        j + 1,
                        super::decimal(v),
                        point(i)
                    ),
                    expected: format!(
                        "finite entries: reduce --w-std/--b-std or the input scale, or {}",
                        super::higher_precision::<T>()
                    ),
                });
            }
        }
        Ok(Kernels { nngp, ntk, n_train })
    }

    /// The number of test points.
    pub fn n_test(&self) -> usize {
        self.nngp.nrows() - self.n_train
    }

    fn of(&self, kind: Kind) -> &DMatrix<T> {
        match kind {
            Kind::Nngp => &self.nngp,
            Kind::Ntk => &self.ntk,
        }
    }

    /// The train-train block (N × N).
    pub fn train_train(&self, kind: Kind) -> DMatrix<T> {
        let n = self.n_train;
        self.of(kind).view((0, 0), (n, n)).into_owned()
    }

    /// The test-train block (M × N).
    pub fn test_train(&self, kind: Kind) -> DMatrix<T> {
        let (n, m) = (self.n_train, self.n_test());
        self.of(kind).view((n, 0), (m, n)).into_owned()
    }

    /// The test-test block (M × M).
    pub fn test_test(&self, kind: Kind) -> DMatrix<T> {
        let (n, m) = (self.n_train, self.n_test());
        self.of(kind).view((n, n), (m, m)).into_owned()
    }

    /// tr Θ(X_train, X_train) (spec A.2 Q5, the authors' "Fisher information"; the
    /// multi-output kernel Θ ⊗ I_k has k times this trace).
    pub fn trace_ntk_train(&self) -> T {
        (0..self.n_train).fold(T::zero(), |acc, i| acc + &self.ntk[(i, i)])
    }
}

/// The pair map (T_φ, Ṫ_φ) of one nonlinearity, with its constants at precision `T`.
struct PairMap<T: Real> {
    activation: Activation,
    pi: T,
    inv_two_pi: T,
    two_over_pi: T,
    four_over_pi: T,
    half: T,
    two: T,
    four: T,
}

impl<T: Real> PairMap<T> {
    fn new(activation: Activation) -> Self {
        let pi = T::pi();
        let two = T::from_f64(2.0);
        PairMap {
            activation,
            inv_two_pi: T::one() / (two.clone() * &pi),
            two_over_pi: two.clone() / &pi,
            four_over_pi: T::from_f64(4.0) / &pi,
            half: T::from_f64(0.5),
            four: T::from_f64(4.0),
            two,
            pi,
        }
    }

    /// (T, Ṫ) for a pair with covariance entries (k12, k11, k22); `same` for identical inputs.
    fn pair(&self, k12: &T, k11: &T, k22: &T, same: bool) -> (T, T) {
        match self.activation {
            Activation::Identity => (k12.clone(), T::one()),
            Activation::Relu => {
                if same {
                    return (k12.clone() * &self.half, self.half.clone());
                }
                let det = k11.clone() * k22 - k12.clone() * k12;
                let root = if det > T::zero() {
                    det.sqrt()
                } else {
                    T::zero()
                };
                let theta = if root.is_zero() && k12.is_zero() {
                    self.pi.clone() * &self.half
                } else {
                    root.atan2(k12)
                };
                let rest = self.pi.clone() - theta;
                let t = (root + rest.clone() * k12) * &self.inv_two_pi;
                (t, rest * &self.inv_two_pi)
            }
            Activation::Erf => {
                let a = T::one() + self.two.clone() * k11;
                let b = T::one() + self.two.clone() * k22;
                let d = (a * b - self.four.clone() * k12 * k12).sqrt();
                let t = (self.two.clone() * k12).atan2(&d) * &self.two_over_pi;
                (t, self.four_over_pi.clone() / d)
            }
        }
    }
}

/// For every row of `x`, the index of the first row identical to it (bit for bit).
fn canonical_rows<T: Real>(x: &DMatrix<T>) -> Vec<usize> {
    let n = x.nrows();
    let mut order: Vec<usize> = (0..n).collect();
    let cmp = |a: &usize, b: &usize| {
        for c in 0..x.ncols() {
            match x[(*a, c)].partial_cmp(&x[(*b, c)]) {
                Some(std::cmp::Ordering::Equal) | None => continue,
                Some(o) => return o,
            }
        }
        a.cmp(b)
    };
    order.sort_by(cmp);
    let mut canon: Vec<usize> = (0..n).collect();
    for w in 1..n {
        let (prev, cur) = (order[w - 1], order[w]);
        let same = (0..x.ncols()).all(|c| x[(prev, c)] == x[(cur, c)]);
        if same {
            canon[cur] = canon[prev];
        }
    }
    canon
}

/// NNGP K and NTK Θ over the rows of `x` (one point per row), by the recursion in the
/// module documentation. Entries for identical inputs are copied from the diagonal, so
/// duplicated points give exactly equal rows.
///
/// # Errors
/// [`Error::InvalidParameter`] when `x` has no columns or a non-finite entry, or the
/// network has no layer.
pub fn kernel_matrices<T: Real>(
    net: &FcNetwork<T>,
    x: &DMatrix<T>,
) -> Result<(DMatrix<T>, DMatrix<T>)> {
    let (n, d) = x.shape();
    if d == 0 {
        return Err(Error::parameter(
            "inputs",
            "0 input columns",
            "at least one input column",
        ));
    }
    if net.layers.is_empty() {
        return Err(Error::parameter(
            "network",
            "no layers",
            "at least the read-out layer",
        ));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(Error::parameter(
            "inputs",
            "a non-finite input",
            "finite inputs",
        ));
    }
    let map = PairMap::new(net.activation);
    let w2: Vec<T> = net
        .layers
        .iter()
        .map(|l| l.w_std.clone() * &l.w_std)
        .collect();
    let b2: Vec<T> = net
        .layers
        .iter()
        .map(|l| l.b_std.clone() * &l.b_std)
        .collect();
    let depth = net.depth();
    let inv_d = T::one() / T::from_u64(d as u64);
    let canon = canonical_rows(x);
    let rows: Vec<Vec<T>> = (0..n).map(|i| x.row(i).iter().cloned().collect()).collect();
    let k0 = |i: usize, j: usize| -> T {
        rows[i]
            .iter()
            .zip(&rows[j])
            .fold(T::zero(), |acc, (a, b)| acc + a.clone() * b)
            * &inv_d
    };
    // Per point: K^l(x, x) for the hidden layers l = 1..L, and the final (K, Θ).
    let recurse = |k12_0: T, diag_i: Option<(&[T], &[T])>| -> (Vec<T>, T, T) {
        let mut phi = k12_0;
        let mut theta_tilde = T::zero();
        let mut hidden = Vec::with_capacity(depth);
        for l in 0..=depth {
            let k = w2[l].clone() * &phi + &b2[l];
            let theta = k.clone() + w2[l].clone() * &theta_tilde;
            if l == depth {
                return (hidden, k, theta);
            }
            let (t, dt) = match diag_i {
                None => map.pair(&k, &k, &k, true),
                Some((a, b)) => map.pair(&k, &a[l], &b[l], false),
            };
            hidden.push(k);
            phi = t;
            theta_tilde = theta * dt;
        }
        unreachable!("the loop returns at l = depth")
    };
    let diag: Vec<(Vec<T>, T, T)> = (0..n)
        .into_par_iter()
        .map(|i| recurse(k0(i, i), None))
        .collect();
    let entries: Vec<Vec<(T, T)>> = (0..n)
        .into_par_iter()
        .map(|i| {
            (0..i)
                .map(|j| {
                    if canon[i] == canon[j] {
                        let (_, k, t) = &diag[i];
                        (k.clone(), t.clone())
                    } else {
                        let (_, k, t) = recurse(k0(i, j), Some((&diag[i].0, &diag[j].0)));
                        (k, t)
                    }
                })
                .collect()
        })
        .collect();
    let mut nngp = DMatrix::zeros(n, n);
    let mut ntk = DMatrix::zeros(n, n);
    for i in 0..n {
        nngp[(i, i)] = diag[i].1.clone();
        ntk[(i, i)] = diag[i].2.clone();
        for (j, (k, t)) in entries[i].iter().enumerate() {
            nngp[(i, j)] = k.clone();
            nngp[(j, i)] = k.clone();
            ntk[(i, j)] = t.clone();
            ntk[(j, i)] = t.clone();
        }
    }
    Ok((nngp, ntk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_check_relu_depth1() {
        // Spec B.3: x = (0.9, -0.35, 0.4), sigma_w = 1.5, sigma_b = 0.1.
        let net = FcNetwork::uniform(Activation::Relu, 1, 1.5, 0.1).unwrap();
        let x = DMatrix::from_row_slice(1, 3, &[0.9, -0.35, 0.4]);
        let (k, t) = kernel_matrices(&net, &x).unwrap();
        assert!((k[(0, 0)] - 0.9430468750000001).abs() < 1e-15);
        assert!((t[(0, 0)] - 1.8760937500000001).abs() < 1e-15);
    }

    #[test]
    fn duplicates_copy_the_diagonal() {
        let net = FcNetwork::uniform(Activation::Relu, 3, 1.5, 0.1).unwrap();
        let x = DMatrix::from_row_slice(3, 2, &[0.3, -1.1, 0.7, 0.2, 0.3, -1.1]);
        let (k, t) = kernel_matrices(&net, &x).unwrap();
        assert_eq!(k[(0, 2)], k[(0, 0)]);
        assert_eq!(t[(2, 0)], t[(2, 2)]);
        assert_eq!(t.row(0), t.row(2));
    }
}
