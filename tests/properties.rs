//! Information inequalities and identities as quickcheck properties over random small
//! joints (dit's `test_inequalities` idea).

mod common;

use common::{labels, SmallJoint};
use ibex::info::{self, Measures};
use ibex::{Joint, MaximalCorrelation};
use nalgebra::DMatrix;
use quickcheck::{quickcheck, TestResult};

const TOL: f64 = 1e-12;

quickcheck! {
    /// 0 <= I(X;Y) <= min(H(X), H(Y)).
    fn mutual_information_is_bounded(p: SmallJoint) -> bool {
        let m = Measures::of(&p.joint());
        m.i_xy >= 0.0 && m.i_xy <= m.h_x.min(m.h_y) + TOL
    }

    /// I(X;Y) = I(Y;X): the transposed joint gives the same information.
    fn mutual_information_is_symmetric(p: SmallJoint) -> bool {
        let j = p.joint();
        let t = Joint::new(j.p_xy().transpose()).unwrap();
        (info::mutual_information(&j) - info::mutual_information(&t)).abs() < TOL
    }

    /// Chain rule: H(X,Y) = H(X) + H(Y|X) = H(Y) + H(X|Y), and I = H(X) + H(Y) - H(X,Y).
    fn chain_rule(p: SmallJoint) -> bool {
        let m = Measures::of(&p.joint());
        (m.h_xy - (m.h_x + m.h_y_given_x)).abs() < TOL
            && (m.h_xy - (m.h_y + m.h_x_given_y)).abs() < TOL
            && (m.i_xy - (m.h_x + m.h_y - m.h_xy)).abs() < TOL
    }

    /// 0 <= rho_m <= 1, singular values decreasing, and 1/rho_m^2 >= 1 (the IB never
    /// leaves the trivial solution below beta = 1). sigma_1 = 1 is not tested here: ibex
    /// sets it when it deflates the top pair; tests/reference.rs checks every singular
    /// value against nalgebra's SVD of the undeflated Q.
    fn maximal_correlation_is_a_correlation(p: SmallJoint) -> bool {
        let mc = MaximalCorrelation::of(&p.joint());
        let sv = &mc.singular_values;
        mc.rho_m >= 0.0
            && mc.rho_m <= 1.0 + TOL
            && sv.windows(2).all(|w| w[0] >= w[1] - TOL)
            && mc.beta_critical_first >= 1.0 - TOL
    }

    /// Product joints p(x)p(y) have rho_m = 0 and I = 0 (to rounding); perturbing one
    /// 2x2 minor by d makes both strictly positive.
    fn rho_m_vanishes_iff_independent(a: SmallJoint, b: SmallJoint) -> TestResult {
        let px: Vec<f64> = a.0.column(0).iter().cloned().collect();
        let py: Vec<f64> = b.0.row(0).iter().cloned().collect();
        let (sx, sy): (f64, f64) = (px.iter().sum(), py.iter().sum());
        if sx == 0.0 || sy == 0.0 || px.len() < 2 || py.len() < 2 {
            return TestResult::discard();
        }
        let product = DMatrix::from_fn(px.len(), py.len(), |x, y| px[x] / sx * py[y] / sy);
        let j = Joint::normalized(product.clone(), labels(px.len()), labels(py.len())).unwrap().joint;
        let mc = MaximalCorrelation::of(&j);
        if mc.rho_m > 1e-12 || info::mutual_information(&j) > 1e-14 {
            return TestResult::failed();
        }
        // Move mass d along a 2x2 minor with positive cells: dependence appears.
        let cells = (0..px.len()).flat_map(|x| (0..py.len()).map(move |y| (x, y)));
        let mut found = None;
        for (x, y) in cells {
            for x2 in (x + 1)..px.len() {
                for y2 in (y + 1)..py.len() {
                    let minor = [product[(x, y2)], product[(x2, y)]];
                    if minor.iter().all(|&v| v > 1e-3) && product[(x, y)] > 0.0 && product[(x2, y2)] > 0.0 {
                        found = Some((x, y, x2, y2));
                    }
                }
            }
        }
        let Some((x, y, x2, y2)) = found else { return TestResult::discard() };
        let d = 1e-4;
        let mut dep = product;
        dep[(x, y)] += d;
        dep[(x2, y2)] += d;
        dep[(x, y2)] -= d;
        dep[(x2, y)] -= d;
        let j = Joint::normalized(dep, labels(px.len()), labels(py.len())).unwrap().joint;
        TestResult::from_bool(MaximalCorrelation::of(&j).rho_m > 1e-6 && info::mutual_information(&j) > 0.0)
    }

    /// KL >= 0 with equality at p = q; JS symmetric, within [0, ln 2].
    fn divergences(a: SmallJoint, b: SmallJoint) -> TestResult {
        let p: Vec<f64> = a.0.iter().cloned().collect();
        let q: Vec<f64> = b.0.iter().cloned().collect();
        if p.len() != q.len() {
            return TestResult::discard();
        }
        let ok = info::kl(&p, &q) >= 0.0
            && info::kl(&p, &p) == 0.0
            && (info::js(&p, &q) - info::js(&q, &p)).abs() < TOL
            && info::js(&p, &q) >= 0.0
            && info::js(&p, &q) <= std::f64::consts::LN_2 + TOL;
        TestResult::from_bool(ok)
    }

    /// Data processing: merging two y columns cannot increase I(X;Y) nor rho_m.
    fn merging_outputs_loses_information(p: SmallJoint) -> TestResult {
        let m = &p.0;
        if m.ncols() < 2 {
            return TestResult::discard();
        }
        let merged = DMatrix::from_fn(m.nrows(), m.ncols() - 1, |x, y| {
            if y == 0 { m[(x, 0)] + m[(x, 1)] } else { m[(x, y + 1)] }
        });
        let j = p.joint();
        let jm = Joint::normalized(merged, labels(m.nrows()), labels(m.ncols() - 1)).unwrap().joint;
        TestResult::from_bool(
            info::mutual_information(&jm) <= info::mutual_information(&j) + TOL
                && MaximalCorrelation::of(&jm).rho_m <= MaximalCorrelation::of(&j).rho_m + TOL,
        )
    }
}
