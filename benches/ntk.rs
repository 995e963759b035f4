//! NTK kernels and infinite-ensemble moments. Run with `cargo bench --bench ntk`.
//!
//! `ntk/nt_workload/1000` mirrors `benches/ntk_vs_neural_tangents/bench_nt.py` (one run of
//! neural-tangents 0.6.5): depth-3 ReLU network, W_std 1.5, b_std 0.1, 1000 training and
//! 200 test points with d_in 10; the kernels over all 1200 points, then the NTK-regime
//! mean and covariance at t = 1, 10 and ∞ on the test points and on the training points.
//! With `IBEX_NT_BENCH_DIR=/dir` holding `nt_bench_train.csv` and `nt_bench_test.csv`
//! (the same seeded inputs as the Python script; see the README), the bench uses them and
//! prints the numbers neural-tangents fingerprints in its result JSON.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ibex::ntk::data::read_points;
use ibex::ntk::ensemble::{Ensemble, Regime, Time, Training};
use ibex::ntk::kernel::{Activation, FcNetwork, Kernels};
use ibex::scalar::{Mp256, Real};
use nalgebra::DMatrix;

/// Standard normal draws (xorshift + Box-Muller): timing data, not the Python inputs.
fn normals(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut u = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| (-2.0 * u().ln()).sqrt() * (2.0 * std::f64::consts::PI * u()).cos())
        .collect()
}

fn data<T: Real>(n_train: usize, n_test: usize, d: usize) -> (DMatrix<T>, DMatrix<T>, DMatrix<T>) {
    if let Ok(dir) = std::env::var("IBEX_NT_BENCH_DIR") {
        let dir = std::path::Path::new(&dir);
        if n_train == 1000 && n_test == 200 {
            let tr = read_points::<T>(&dir.join("nt_bench_train.csv"), 2).expect("train CSV");
            let te = read_points::<T>(&dir.join("nt_bench_test.csv"), 1).expect("test CSV");
            return (tr.x, te.x, tr.y);
        }
    }
    let x = normals((n_train + n_test) * d, 12345);
    let xtr = DMatrix::from_fn(n_train, d, |i, j| T::from_f64(x[i * d + j]));
    let xte = DMatrix::from_fn(n_test, d, |i, j| T::from_f64(x[(n_train + i) * d + j]));
    let y = DMatrix::from_fn(n_train, 1, |i, _| {
        let (a, b, c) = (x[i * d], x[i * d + 1], x[i * d + 2]);
        T::from_f64(a.sin() + 0.5 * b * c)
    });
    (xtr, xte, y)
}

/// One neural-tangents-equivalent run; returns the fingerprint values.
fn nt_run<T: Real>(
    net: &FcNetwork<T>,
    xtr: &DMatrix<T>,
    xte: &DMatrix<T>,
    y: &DMatrix<T>,
) -> [f64; 3] {
    let kernels = Kernels::new(net, xtr, xte).unwrap();
    let ens = Ensemble::new(&kernels, y, Regime::Ntk, &Training::default()).unwrap();
    let mut fp = [0.0; 3];
    for (k, t) in [
        Time::At(T::from_f64(1.0)),
        Time::At(T::from_f64(10.0)),
        Time::Infinity,
    ]
    .into_iter()
    .enumerate()
    {
        let te = ens.test(&t);
        let tr = ens.train(&t);
        match k {
            0 => fp[0] = te.mean[(0, 0)].to_f64(),
            1 => fp[2] = tr.mean[(0, 0)].to_f64(),
            _ => fp[1] = te.cov[(0, 0)].to_f64(),
        }
    }
    fp
}

fn benches(c: &mut Criterion) {
    let net = FcNetwork::uniform(Activation::Relu, 3, 1.5, 0.1).unwrap();
    let mut group = c.benchmark_group("ntk");
    group.sample_size(10);
    for (n_train, n_test) in [(200, 40), (1000, 200)] {
        let (xtr, xte, y) = data::<f64>(n_train, n_test, 10);
        let id = format!("{n_train}");
        if n_train == 1000 {
            let fp = nt_run(&net, &xtr, &xte, &y);
            println!(
                "fingerprint (test mean t=1, test var t=inf, train mean t=10, first point): {fp:?}"
            );
            println!("neural-tangents 0.6.5 (same inputs): [-0.03220514252798255, 0.03219443288749024, -1.0176629752496544]");
        }
        group.bench_with_input(BenchmarkId::new("kernels", &id), &(), |b, _| {
            b.iter(|| Kernels::new(&net, &xtr, &xte).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("nt_workload", &id), &(), |b, _| {
            b.iter(|| nt_run(&net, &xtr, &xte, &y))
        });
    }
    // The same code at 256 bits on a small problem.
    let net256 = FcNetwork::uniform(
        Activation::Relu,
        3,
        Mp256::from_f64(1.5),
        Mp256::from_f64(0.1),
    )
    .unwrap();
    let (xtr, xte, y) = data::<Mp256>(40, 10, 10);
    group.bench_function("nt_workload_mp256/40", |b| {
        b.iter(|| nt_run(&net256, &xtr, &xte, &y))
    });
    group.finish();
}

criterion_group!(ntk, benches);
criterion_main!(ntk);
