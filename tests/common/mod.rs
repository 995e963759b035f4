//! Shared test helpers: small random joints for quickcheck, reference-file loading,
//! and a minimal, independent IB iteration used only to check stability thresholds.
#![allow(dead_code)]

use ibex::Joint;
use nalgebra::DMatrix;
use quickcheck::{Arbitrary, Gen};

/// A small joint with probabilities bounded away from subnormals (as dit's test
/// strategy does): shape 1..=5 x 1..=5, entries 0 with probability 1/5, otherwise
/// integer weights 1..=1000, normalised in f64.
#[derive(Clone, Debug)]
pub struct SmallJoint(pub DMatrix<f64>);

impl Arbitrary for SmallJoint {
    fn arbitrary(g: &mut Gen) -> Self {
        let nx = 1 + usize::arbitrary(g) % 5;
        let ny = 1 + usize::arbitrary(g) % 5;
        let mut m = DMatrix::from_fn(nx, ny, |_, _| {
            if u8::arbitrary(g) % 5 == 0 {
                0.0
            } else {
                (1 + u16::arbitrary(g) % 1000) as f64
            }
        });
        if m.iter().all(|&v| v == 0.0) {
            m[(0, 0)] = 1.0;
        }
        let total: f64 = m.iter().sum();
        SmallJoint(m / total)
    }
}

impl SmallJoint {
    /// The joint (renormalised by the library, so the f64 sum is not an issue).
    pub fn joint(&self) -> Joint<f64> {
        let (nx, ny) = self.0.shape();
        Joint::normalized(self.0.clone(), labels(nx), labels(ny))
            .unwrap()
            .joint
    }
}

pub fn labels(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}

/// Reads `data/reference/<name>` (relative to the crate root) as JSON.
pub fn reference(name: &str) -> serde_json::Value {
    let path = format!("{}/data/reference/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// A joint whose label is its input (Y = X, p(x) = 0.5, 0.3, 0.2), as CSV text: for it
/// I(T;Y) = I(X;T) for every encoder.
pub const Y_IS_X: &str = "0.5,0,0\n0,0.3,0\n0,0,0.2\n";

/// H(X) of [`Y_IS_X`] in nats, from its definition.
pub fn y_is_x_entropy() -> f64 {
    -[0.5f64, 0.3, 0.2].iter().map(|p| p * p.ln()).sum::<f64>()
}

/// Path of a bundled example.
pub fn example(name: &str) -> std::path::PathBuf {
    format!("{}/data/examples/{name}", env!("CARGO_MANIFEST_DIR")).into()
}

/// A deterministic pseudo-random joint (xorshift), for tests that need many.
pub fn random_joint(nx: usize, ny: usize, seed: u64) -> DMatrix<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let m = DMatrix::from_fn(nx, ny, |_, _| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        0.05 + (s >> 11) as f64 / (1u64 << 53) as f64
    });
    let total: f64 = m.iter().sum();
    m / total
}

/// One step of the IB self-consistent iteration (Tishby, Pereira & Bialek 1999), written
/// here from the equations, plainly and independently of any ibex solver:
/// q(t) = Σ_x p(x) q(t|x); q(y|t) = Σ_x p(x,y) q(t|x) / q(t);
/// q'(t|x) ∝ q(t) exp(−β KL[p(y|x) ‖ q(y|t)]). Requires p(y|x) > 0 everywhere.
pub fn ib_step(p_xy: &DMatrix<f64>, beta: f64, q_t_given_x: &DMatrix<f64>) -> DMatrix<f64> {
    let (nx, ny) = p_xy.shape();
    let nt = q_t_given_x.ncols();
    let p_x: Vec<f64> = (0..nx).map(|x| p_xy.row(x).sum()).collect();
    let q_t: Vec<f64> = (0..nt)
        .map(|t| (0..nx).map(|x| p_x[x] * q_t_given_x[(x, t)]).sum())
        .collect();
    let q_y_given_t = DMatrix::from_fn(nt, ny, |t, y| {
        (0..nx)
            .map(|x| p_xy[(x, y)] * q_t_given_x[(x, t)])
            .sum::<f64>()
            / q_t[t]
    });
    DMatrix::from_fn(nx, nt, |x, t| {
        let kl: f64 = (0..ny)
            .map(|y| {
                let pyx = p_xy[(x, y)] / p_x[x];
                pyx * (pyx / q_y_given_t[(t, y)]).ln()
            })
            .sum();
        q_t[t] * (-beta * kl).exp()
    })
    .normalize_rows()
}

/// Row normalisation for encoders.
pub trait NormalizeRows {
    fn normalize_rows(self) -> Self;
}

impl NormalizeRows for DMatrix<f64> {
    fn normalize_rows(mut self) -> Self {
        for mut row in self.row_iter_mut() {
            let s: f64 = row.iter().sum();
            row /= s;
        }
        self
    }
}

/// Distance of an encoder from the trivial one (every row equal to q(t)).
pub fn distance_from_trivial(p_xy: &DMatrix<f64>, q_t_given_x: &DMatrix<f64>) -> f64 {
    let (nx, _) = p_xy.shape();
    let p_x: Vec<f64> = (0..nx).map(|x| p_xy.row(x).sum()).collect();
    let nt = q_t_given_x.ncols();
    let q_t: Vec<f64> = (0..nt)
        .map(|t| (0..nx).map(|x| p_x[x] * q_t_given_x[(x, t)]).sum())
        .collect();
    (0..nx)
        .flat_map(|x| (0..nt).map(move |t| (x, t)))
        .map(|(x, t)| (q_t_given_x[(x, t)] - q_t[t]).abs())
        .fold(0.0, f64::max)
}

/// Stamps a test module once per scalar type (nalgebra's `gen_tests!` idea): the body
/// sees the type as `S`.
#[macro_export]
macro_rules! for_each_scalar {
    ($name:ident, $body:item) => {
        mod $name {
            pub mod f64_ {
                #[allow(unused_imports)]
                use super::super::*;
                pub type S = f64;
                $body
            }
            pub mod mp256 {
                #[allow(unused_imports)]
                use super::super::*;
                pub type S = ibex::scalar::Mp256;
                $body
            }
        }
    };
}

/// One step of the dual IB written plainly from its equations (Piran, Shwartz-Ziv &
/// Tishby; spec ib §2.2), independently of ibex. Requires p(y|x) > 0 everywhere.
/// q(t) = Σ_x p(x) q(t|x); q(x|t) = p(x) q(t|x)/q(t);
/// q(y|t) ∝ Π_x p(y|x)^{q(x|t)}; q'(t|x) ∝ q(t) exp(−β KL[q(y|t) ‖ p(y|x)]).
pub fn dual_step(p_xy: &DMatrix<f64>, beta: f64, q_t_given_x: &DMatrix<f64>) -> DMatrix<f64> {
    let (nx, ny) = p_xy.shape();
    let nt = q_t_given_x.ncols();
    let p_x: Vec<f64> = (0..nx).map(|x| p_xy.row(x).sum()).collect();
    let q_t: Vec<f64> = (0..nt)
        .map(|t| (0..nx).map(|x| p_x[x] * q_t_given_x[(x, t)]).sum())
        .collect();
    let mut dec = DMatrix::zeros(nt, ny);
    for t in 0..nt {
        let mut total = 0.0;
        for y in 0..ny {
            let log: f64 = (0..nx)
                .map(|x| p_x[x] * q_t_given_x[(x, t)] / q_t[t] * (p_xy[(x, y)] / p_x[x]).ln())
                .sum();
            dec[(t, y)] = log.exp();
            total += dec[(t, y)];
        }
        for y in 0..ny {
            dec[(t, y)] /= total;
        }
    }
    DMatrix::from_fn(nx, nt, |x, t| {
        let kl: f64 = (0..ny)
            .map(|y| dec[(t, y)] * (dec[(t, y)] / (p_xy[(x, y)] / p_x[x])).ln())
            .sum();
        q_t[t] * (-beta * kl).exp()
    })
    .normalize_rows()
}

/// Binary entropy in bits, for any precision.
pub fn h2<T: ibex::Real>(q: &T) -> T {
    let one = T::one();
    let r = one - q.clone();
    -(q.xlogx() + r.xlogx()) / T::ln_2()
}

/// The inverse of the binary entropy on [0, 1/2], by bisection to the working precision.
pub fn h2_inverse<T: ibex::Real>(h: &T) -> T {
    let mut lo = T::zero();
    let mut hi = T::from_f64(0.5);
    for _ in 0..(T::PRECISION_BITS + 8) {
        let mid = (lo.clone() + hi.clone()) * T::from_f64(0.5);
        if h2(&mid) < *h {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) * T::from_f64(0.5)
}

/// a * b = a(1 − b) + b(1 − a), the binary convolution.
pub fn bconv<T: ibex::Real>(a: &T, b: &T) -> T {
    let one = T::one();
    a.clone() * (one.clone() - b.clone()) + b.clone() * (one - a.clone())
}

/// Runs the ibex binary of this build: exit code, standard output, standard error.
pub fn run_ibex(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ibex"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Header and rows of a CSV file without quoting (as ibex writes them).
pub fn csv_rows(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

/// Runs the command line in process on `args` (without the program name): its standard
/// output, or the error it returned.
pub fn run_cli(args: &[&str]) -> ibex::Result<String> {
    use clap::Parser as _;
    let args = ibex::cli::Args::try_parse_from(std::iter::once("ibex").chain(args.iter().copied()))
        .expect("arguments parse");
    let mut out = Vec::new();
    ibex::cli::run(args, &mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

/// A path as the `&str` a command line takes.
pub fn path_str(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// Path of a bundled NTK example (`data/examples/ntk/NAME`), as a string.
pub fn ntk_example(name: &str) -> String {
    format!("{}/data/examples/ntk/{name}", env!("CARGO_MANIFEST_DIR"))
}
