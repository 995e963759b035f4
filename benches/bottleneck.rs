//! One iteration step and one full solve of the IB, at 64x16, 256x32 and 100x100, in f64
//! and at 256 bits. Run with `cargo bench --bench bottleneck`.
//!
//! Inputs are built in setup from ibex's seeded generators: Dirichlet(1) joints
//! (`ibex gen dirichlet --seed 1`) and the discretised Gaussian with rho = 0.9.
//! Steps use |T| = |X| (the default of `ibex solve`); full solves use |T| = 4 at beta = 10
//! from the seeded random start, to tol = epsilon^(2/3) in f64 and 1e-20 at 256 bits, so
//! that the 256-bit solves stay within seconds.
//!
//! Also the trivial solution's nucleation constants, s* (`sdpi_constant`) and eta_dual
//! (`dual_nucleation_constant`): multistart search in f64 polished at the working
//! precision, on the bundled 3x3 example and a 32x8 Dirichlet(1) joint (seed 1).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ibex::bifurcation::{dual_nucleation_constant, sdpi_constant};
use ibex::bottleneck::Bottleneck;
use ibex::ib::Ib;
use ibex::io::{parse_joint, ReadOptions};
use ibex::scalar::{Mp256, Real};
use ibex::solve::{solve, Init, MergeTol, Stop};
use ibex::Joint;

fn joint<T: Real>(name: &str) -> Joint<T> {
    let generated = match name {
        "64x16" => ibex::gen::dirichlet(64, 16, 1, 1.0),
        "256x32" => ibex::gen::dirichlet(256, 32, 1, 1.0),
        _ => ibex::gen::gaussian(100, 0.9, 4.0),
    }
    .unwrap();
    parse_joint::<T>(name, &generated.to_csv("bench"), &ReadOptions::default())
        .unwrap()
        .joint
}

fn bench_scalar<T: Real>(c: &mut Criterion, label: &str, tol: T) {
    let mut group = c.benchmark_group(format!("ib/{label}"));
    group.sample_size(10);
    for size in ["64x16", "256x32", "100x100"] {
        let p = joint::<T>(size);
        let beta = T::from_f64(10.0);
        let start = Init::<T>::Random { seed: 1 }
            .encoder(p.nx(), p.nx())
            .unwrap();
        group.bench_with_input(BenchmarkId::new("step", size), &start, |b, q| {
            b.iter(|| Ib.step(&p, &beta, q))
        });
        let stop = Stop::new(100_000, tol.clone());
        let merge = MergeTol::for_stop(&stop);
        let start4 = Init::<T>::Random { seed: 1 }.encoder(p.nx(), 4).unwrap();
        group.bench_with_input(BenchmarkId::new("solve_k4", size), &start4, |b, q| {
            b.iter(|| solve(&Ib, &p, &beta, q.clone(), &stop, &merge, &mut ()))
        });
    }
    group.finish();
}

fn bench_thresholds<T: Real>(c: &mut Criterion, label: &str) {
    let mut group = c.benchmark_group(format!("thresholds/{label}"));
    group.sample_size(10);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/examples/ib_3x3.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let example = parse_joint::<T>("ib_3x3", &text, &ReadOptions::default())
        .unwrap()
        .joint;
    let dirichlet = ibex::gen::dirichlet(32, 8, 1, 1.0).unwrap();
    let dirichlet = parse_joint::<T>("32x8", &dirichlet.to_csv("bench"), &ReadOptions::default())
        .unwrap()
        .joint;
    for (name, p) in [("3x3", &example), ("32x8", &dirichlet)] {
        group.bench_with_input(BenchmarkId::new("s_star", name), p, |b, p| {
            b.iter(|| sdpi_constant(p))
        });
        group.bench_with_input(BenchmarkId::new("eta_dual", name), p, |b, p| {
            b.iter(|| dual_nucleation_constant(p))
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_scalar::<f64>(c, "f64", ibex::scalar::tol::default_tol::<f64>());
    bench_scalar::<Mp256>(c, "mp256", Mp256::parse("1e-20").unwrap());
    bench_thresholds::<f64>(c, "f64");
    bench_thresholds::<Mp256>(c, "mp256");
}

criterion_group!(bottleneck, benches);
criterion_main!(bottleneck);
