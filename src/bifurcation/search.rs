//! Derivative-free maximisation used by the onset constants and the nucleation test:
//! golden-section search on an interval and multistart Nelder-Mead on the simplex.

use crate::scalar::Real;

/// Golden-section search for the maximum of a unimodal `f` on [lo, hi], to the working
/// precision (undefined points count as −inf).
pub(super) fn golden_max<T: Real>(f: &impl Fn(&T) -> Option<T>, lo: T, hi: T) -> T {
    let inv_phi = (T::from_f64(5.0).sqrt() - T::one()) / T::from_f64(2.0);
    let (mut a, mut b) = (lo, hi);
    let val = |x: &T| f(x).unwrap_or_else(|| -T::infinity());
    let mut c = b.clone() - (b.clone() - a.clone()) * &inv_phi;
    let mut d = a.clone() + (b.clone() - a.clone()) * &inv_phi;
    let (mut fc, mut fd) = (val(&c), val(&d));
    let tol = T::epsilon() * T::from_f64(4.0);
    for _ in 0..(4 * T::PRECISION_BITS as usize) {
        if (b.clone() - a.clone()).abs() <= tol {
            break;
        }
        if fc > fd {
            b = d;
            d = c.clone();
            fd = fc;
            c = b.clone() - (b.clone() - a.clone()) * &inv_phi;
            fc = val(&c);
        } else {
            a = c;
            c = d.clone();
            fc = fd;
            d = a.clone() + (b.clone() - a.clone()) * &inv_phi;
            fd = val(&d);
        }
    }
    (a + b) / T::from_f64(2.0)
}

/// Alphabets up to this size get the full search (8 + 4n starts, 400n iterations each);
/// larger ones a fixed budget ([`BUDGET_STARTS`] starts of [`BUDGET_ITERATIONS`]
/// iterations), since the full search costs O(n^4) and took minutes at |X| = 64.
pub const FULL_SEARCH_MAX_X: usize = 12;
/// Starts of the budgeted search: half near the vertices r ≈ δ_x with the largest ratio
/// there (r(x) ≈ 0.95), half seeded uniform points in softmax coordinates.
pub const BUDGET_STARTS: usize = 12;
/// Iterations per start of the budgeted search.
pub const BUDGET_ITERATIONS: usize = 2000;

/// Multistart Nelder-Mead maximisation of `f` over the probability simplex in R^n
/// (softmax parameterisation); returns the local maxima found (deterministic starts).
/// For n > [`FULL_SEARCH_MAX_X`] the budget is fixed (see there): the result is then a
/// lower bound found by a bounded search, which the Newton polish refines locally.
pub(super) fn nelder_mead_search(n: usize, f: impl Fn(&[f64]) -> Option<f64>) -> Vec<Vec<f64>> {
    let full = n <= FULL_SEARCH_MAX_X;
    let starts = if full { 8 + 4 * n } else { BUDGET_STARTS };
    let iterations = if full { 400 * n } else { BUDGET_ITERATIONS };
    let softmax = |z: &[f64]| -> Vec<f64> {
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|v| v / s).collect()
    };
    let g = |z: &[f64]| -> f64 { -f(&softmax(z)).unwrap_or(f64::NEG_INFINITY) };
    let mut rng = crate::gen::Uniform::new(0x5eed);
    let mut out = Vec::new();
    // The budget's first half starts near the vertices r ≈ δ_x (r(x) ≈ 0.95) with the
    // largest values of f there; uniform logits alone put no mass near any vertex for
    // large n, and on a 256 x 32 Dirichlet joint a vertex already beats the local limit
    // (s* >= 0.1 against rho_m^2 = 0.057), which a search from random logits missed.
    let peak = (n as f64).ln() + 3.0;
    let near_vertex =
        |x: usize| -> Vec<f64> { (0..n).map(|i| if i == x { peak } else { 0.0 }).collect() };
    let vertices: Vec<usize> = if full {
        Vec::new()
    } else {
        let scores: Vec<f64> = (0..n).map(|x| g(&near_vertex(x))).collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
        order.truncate(BUDGET_STARTS / 2);
        order
    };
    for start in 0..starts {
        if let Some(&x) = vertices.get(start) {
            let z0 = near_vertex(x);
            out.push(nelder_mead_from(&z0, iterations, &g, &softmax));
            continue;
        }
        let z0: Vec<f64> = (0..n)
            .map(|i| {
                if full && start < n {
                    if i == start {
                        3.0
                    } else {
                        0.0
                    }
                } else {
                    6.0 * rng.next() - 3.0
                }
            })
            .collect();
        out.push(nelder_mead_from(&z0, iterations, &g, &softmax));
    }
    out
}

/// One Nelder-Mead run from logits `z0` minimising `g`; returns softmax of the best vertex.
fn nelder_mead_from(
    z0: &[f64],
    iterations: usize,
    g: &impl Fn(&[f64]) -> f64,
    softmax: &impl Fn(&[f64]) -> Vec<f64>,
) -> Vec<f64> {
    let n = z0.len();
    let mut simplex: Vec<Vec<f64>> = vec![z0.to_vec()];
    for i in 0..n {
        let mut z = z0.to_vec();
        z[i] += 1.0;
        simplex.push(z);
    }
    let mut values: Vec<f64> = simplex.iter().map(|z| g(z)).collect();
    for _ in 0..iterations {
        let mut order: Vec<usize> = (0..simplex.len()).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        simplex = order.iter().map(|&i| simplex[i].clone()).collect();
        values = order.iter().map(|&i| values[i]).collect();
        let worst = simplex.len() - 1;
        if (values[worst] - values[0]).abs() < 1e-15 * values[0].abs().max(1e-300) {
            break;
        }
        let centroid: Vec<f64> = (0..n)
            .map(|i| simplex[..worst].iter().map(|z| z[i]).sum::<f64>() / worst as f64)
            .collect();
        let along = |t: f64| -> Vec<f64> {
            (0..n)
                .map(|i| centroid[i] + t * (simplex[worst][i] - centroid[i]))
                .collect()
        };
        let reflected = along(-1.0);
        let fr = g(&reflected);
        if fr < values[0] {
            let expanded = along(-2.0);
            let fe = g(&expanded);
            if fe < fr {
                simplex[worst] = expanded;
                values[worst] = fe;
            } else {
                simplex[worst] = reflected;
                values[worst] = fr;
            }
        } else if fr < values[worst - 1] {
            simplex[worst] = reflected;
            values[worst] = fr;
        } else {
            let contracted = along(0.5);
            let fc = g(&contracted);
            if fc < values[worst] {
                simplex[worst] = contracted;
                values[worst] = fc;
            } else {
                let best = simplex[0].clone();
                for k in 1..simplex.len() {
                    simplex[k] = (0..n).map(|i| 0.5 * (best[i] + simplex[k][i])).collect();
                    values[k] = g(&simplex[k]);
                }
            }
        }
    }
    softmax(&simplex[0])
}

/// The indices of the `k` largest of `values` (ties to the lower index; incomparable
/// values count as equal), in increasing index order.
pub(crate) fn largest_indices<T: PartialOrd>(values: &[T], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        values[b]
            .partial_cmp(&values[a])
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    order.truncate(k);
    order.sort_unstable();
    order
}
