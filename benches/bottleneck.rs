//! One iteration step and one full solve of the IB, at 64x16, 256x32 and 100x100, in f64
//! and at 256 bits. Run with `cargo bench --bench bottleneck`.
//!
//! Inputs are built in setup from ibex's seeded generators: Dirichlet(1) joints
//! (`ibex gen dirichlet --seed 1`) and the discretised Gaussian with rho = 0.9.
//! Steps use |T| = |X| (the default of `ibex solve`); full solves use |T| = 4 at beta = 10
//! from the seeded random start, to tol = epsilon^(2/3) in f64 and 1e-20 at 256 bits, so
//! that the 256-bit solves stay within seconds.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
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

fn benches(c: &mut Criterion) {
    bench_scalar::<f64>(c, "f64", ibex::scalar::tol::default_tol::<f64>());
    bench_scalar::<Mp256>(c, "mp256", Mp256::parse("1e-20").unwrap());
}

criterion_group!(bottleneck, benches);
criterion_main!(bottleneck);
