//! Information measures and the maximal-correlation spectrum on seeded Dirichlet joints,
//! in f64 and at 256 bits. Run with `cargo bench --bench info`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ibex::info::Measures;
use ibex::io::{parse_joint, ReadOptions};
use ibex::scalar::{Mp256, Real};
use ibex::{Joint, MaximalCorrelation};

fn joint<T: Real>(nx: usize, ny: usize) -> Joint<T> {
    let text = ibex::gen::dirichlet(nx, ny, 1, 1.0)
        .unwrap()
        .to_csv("bench");
    parse_joint::<T>("bench", &text, &ReadOptions::default())
        .unwrap()
        .joint
}

fn bench_scalar<T: Real>(c: &mut Criterion, name: &str, sizes: &[(usize, usize)]) {
    let mut group = c.benchmark_group(format!("info/{name}"));
    group.sample_size(10);
    for &(nx, ny) in sizes {
        let j = joint::<T>(nx, ny);
        let id = format!("{nx}x{ny}");
        group.bench_with_input(BenchmarkId::new("measures", &id), &j, |b, j| {
            b.iter(|| Measures::of(j))
        });
        group.bench_with_input(BenchmarkId::new("maximal_correlation", &id), &j, |b, j| {
            b.iter(|| MaximalCorrelation::of(j))
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_scalar::<f64>(c, "f64", &[(64, 16), (256, 32), (100, 100)]);
    bench_scalar::<Mp256>(c, "mp256", &[(64, 16), (256, 32), (100, 100)]);
}

criterion_group!(info, benches);
criterion_main!(info);
