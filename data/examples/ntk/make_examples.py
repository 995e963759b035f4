#!/usr/bin/env python3
"""Writes the bundled `ibex ntk` example: two interleaved half-moons in 2-D with labels
+1/-1 (30 training and 12 test points). numpy only; run from anywhere:

    python3 data/examples/ntk/make_examples.py
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def moons(rng, n):
    lab = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    ang = rng.uniform(0.0, np.pi, size=n)
    x = np.where(lab > 0, np.cos(ang), 1.0 - np.cos(ang))
    y = np.where(lab > 0, np.sin(ang), 0.5 - np.sin(ang))
    pts = np.stack([x, y], axis=1) + 0.1 * rng.normal(size=(n, 2))
    return np.round(pts, 4), lab


def write(name, pts, lab, what):
    with open(os.path.join(HERE, name), "w") as fh:
        fh.write(f"# ibex ntk example ({what}): two half-moons, label +1/-1; "
                 "made by make_examples.py (numpy default_rng(7))\n")
        fh.write("x1,x2,y\n")
        for (a, b), c in zip(pts, lab):
            fh.write(f"{a:.4f},{b:.4f},{c:.0f}\n")


rng = np.random.default_rng(7)
tr, ltr = moons(rng, 30)
te, lte = moons(rng, 12)
write("moons_train.csv", tr, ltr, "training points")
write("moons_test.csv", te, lte, "test points")
