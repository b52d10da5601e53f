"""The C layer (simd/*.h) on each of its paths, against NumPy.

On x86 the primitives use SSE/AVX intrinsics for widening, reductions and
masked tails; elsewhere (aarch64 wheels, macOS arm64) they use plain GCC/Clang
generic vectors; compilers without vector extensions (MSVC) get the scalar
sections.  This machine cannot run an ARM build, so the test compiles a small C
harness against the installed headers three times -- as they are, with
FL_GENERIC_VECTORS (which forces the non-x86 vector path) and with FL_SCALAR
(which forces the scalar sections) -- and checks each against NumPy, the
exp of math.h included.  Skipped where no C compiler is found.
"""

import os
import shutil
import subprocess

import numpy as np
import pytest

import fastloss

HARNESS = r"""
#include <stdio.h>
#include <math.h>
#include "simd/softmax.h"
#include "simd/hinge.h"
int main(void) {
    for (int n = 1; n <= 70; n++) {
        float x[70], g[70]; double xd[70], gd[70];
        for (int i = 0; i < n; i++) { x[i] = (float)(sin(i * 1.3 + n) * 7); xd[i] = x[i]; }
        int y = (n * 7) % n;
        float m = fl_row_max_f32(x, n);
        double md = fl_row_max_f64(xd, n);
        double s = fl_row_exp_sum_f32(x, m, g, n), sd = fl_row_exp_sum_f64(xd, md, gd, n);
        double h = fl_row_hinge_f32(x, g, n, y, 1.0f, 0, 1.0f);
        double hd = fl_row_hinge_f64(xd, gd, n, y, 1.0, 1, 1.0);
        printf("%d %d %.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g\n",
               n, y, (double)m, md, s, sd, h, hd, (double)g[y], gd[y]);
    }
    /* the label-shifted sums (softmax_cross_entropy): every label place */
    for (int n = 1; n <= 140; n += 1 + n / 8) {
        float x[140], g[140]; double xd[140], gd[140], rest;
        for (int i = 0; i < n; i++) { x[i] = (float)(sin(i * 0.7 + n) * 5); xd[i] = x[i]; }
        for (int y = 0; y < n; y++) {
            double s = fl_row_exp_sum_label_f32(x, y, g, n);
            double s0 = fl_row_exp_sum_label_f32(x, y, NULL, n);
            double k = fl_row_exp_sum_split_label_f64(xd, y, gd, n, &rest);
            printf("label %d %d %.17g %.17g %.17g %.17g %.17g\n", n, y, s, s0, k, rest, (double)g[y]);
        }
    }
    double l8in[8] = {1, 2, 3, 10, 100, 1000, 1e-300, 12345.678}, l8[8];
    fl_log8_f64(l8in, l8);
    for (int k = 0; k < 8; k++) printf("log %.17g %.17g\n", l8in[k], l8[k]);
    /* the scalar exps over their whole range, every 1/64 (and special values) */
    for (int k = -120 * 64; k <= 95 * 64; k++) {
        float x = (float)k / 64.0f + 1e-3f * (float)(k % 7);
        printf("expf %.9g %.9g\n", (double)x, (double)fl_exp1_f32(x));
    }
    for (int k = -760 * 8; k <= 720 * 8; k++) {
        double x = (double)k / 8.0 + 1e-4 * (double)(k % 7);
        printf("exp %.17g %.17g\n", x, fl_exp1_f64(x));
    }
    printf("special %g %g %g %g %g %g\n", (double)fl_exp1_f32(-INFINITY), (double)fl_exp1_f32(INFINITY),
           (double)fl_exp1_f32(NAN), fl_exp1_f64(-INFINITY), fl_exp1_f64(INFINITY), fl_exp1_f64(NAN));
    return 0;
}
"""


def _compiler():
    return shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")


def _run(tmp_path, extra):
    cc = _compiler()
    src = tmp_path / "harness.c"
    src.write_text(HARNESS)
    exe = tmp_path / ("harness" + "".join(f.strip("-=") for f in extra))
    include = os.path.dirname(fastloss.__file__)
    subprocess.run([cc, "-O2", "-std=c11", "-Wno-psabi", f"-I{include}", *extra, str(src),
                    "-o", str(exe), "-lm"], check=True, capture_output=True, text=True)
    return subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout


def _ulps(actual, expected, dtype):
    """|actual - expected| in units of the last place of expected (in dtype)."""
    spacing = np.spacing(np.abs(expected).astype(dtype)).astype(np.float64)
    return np.abs(actual - expected) / np.maximum(spacing, np.finfo(dtype).smallest_subnormal)


@pytest.mark.skipif(_compiler() is None, reason="no C compiler")
@pytest.mark.parametrize("extra", [[], ["-DFL_GENERIC_VECTORS"], ["-DFL_SCALAR"]],
                         ids=["native", "generic", "scalar"])
def test_row_primitives_match_numpy(tmp_path, extra):
    if not os.path.exists(os.path.join(os.path.dirname(fastloss.__file__), "simd", "softmax.h")):
        pytest.skip("the headers are not installed beside the package")
    out = _run(tmp_path, extra).splitlines()
    rows = [line.split() for line in out
            if not line.startswith(("log", "label", "exp", "special"))]
    assert len(rows) == 70
    for fields in rows:
        n, y = int(fields[0]), int(fields[1])
        m, md, s, sd, h, hd, gy, gyd = map(float, fields[2:])
        x = (np.sin(np.arange(n) * 1.3 + n) * 7).astype(np.float32).astype(np.float64)
        assert m == md == x.max()
        expected = np.exp(x - x.max()).sum()
        assert s == pytest.approx(expected, rel=1e-6)
        assert sd == pytest.approx(expected, rel=1e-14)
        t = np.maximum(0, x - x[y] + 1.0)
        t[y] = 0
        assert h == pytest.approx(t.sum(), rel=1e-6, abs=1e-6)
        assert hd == pytest.approx((t * t).sum(), rel=1e-12, abs=1e-12)
        assert gy == -np.count_nonzero(t)
        assert gyd == pytest.approx(-2 * t.sum(), rel=1e-12, abs=1e-12)
    labels = [line.split()[1:] for line in out if line.startswith("label")]
    assert len(labels) > 1000
    for fields in labels:
        n, y = int(fields[0]), int(fields[1])
        s, s0, k, rest, gy = map(float, fields[2:])
        x = (np.sin(np.arange(n) * 0.7 + n) * 5).astype(np.float32).astype(np.float64)
        expected = np.exp(x - x[y]).sum()
        assert s == s0 == pytest.approx(expected, rel=1e-6)   # with and without out: same bits
        assert gy == 1.0
        assert k >= 1 and k + rest == pytest.approx(expected, rel=1e-14)
    for line in out:
        if line.startswith("log"):
            _, x, lx = line.split()
            if extra == ["-DFL_SCALAR"]:   # libm's log
                assert float(lx) == pytest.approx(np.log(float(x)), rel=2.3e-16, abs=0)
            else:
                assert float(lx) == pytest.approx(np.log(float(x)), rel=4e-16, abs=0)
    # the exps: within 1 ulp (float32) / 2 ulps (float64) of NumPy's over the whole
    # range, subnormal results and overflow to inf included
    for name, dtype, ulps in (("expf", np.float32, 1.0), ("exp", np.float64, 2.0)):
        pairs = np.array([line.split()[1:] for line in out if line.startswith(name + " ")],
                         dtype=np.float64)
        x, e = pairs[:, 0].astype(dtype), pairs[:, 1]
        with np.errstate(over="ignore"):
            expected = np.exp(x.astype(np.float64)) if dtype == np.float32 else np.exp(x)
            finite = np.isfinite(expected.astype(dtype))
        assert (e[~finite] == np.inf).all()
        assert _ulps(e[finite], expected[finite], dtype).max() <= ulps, name
    special = [float(v) for v in next(l for l in out if l.startswith("special")).split()[1:]]
    assert special[0] == 0 and special[1] == np.inf and np.isnan(special[2])
    assert special[3] == 0 and special[4] == np.inf and np.isnan(special[5])


TRAIN_HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include "simd/train.h"
/* one epoch of the engine, float64 and float32, on a problem made here: the
 * history and the weights, to compare with fastloss.reference.train_epoch */
enum { N = 37, D = 19, C = 5, B = 8 };
int main(void) {
    static double X[N * D], Wt[C * D], b[C], Vt[C * D], Vb[C], lr[5], hist[5];
    static float Xf[N * D], Wtf[C * D], bf[C], Vtf[C * D], Vbf[C];
    static int64_t y[N];
    static intptr_t order[N];
    for (int i = 0; i < N * D; i++) { X[i] = sin(i * 0.37) * 2; Xf[i] = (float)X[i]; }
    for (int i = 0; i < N; i++) { y[i] = (i * 3) % C; order[i] = (i * 11) % N; }
    for (int k = 0; k < 5; k++) lr[k] = 0.1 + 0.01 * k;
    for (int loss = 0; loss < 2; loss++) {
        for (int i = 0; i < C * D; i++) { Wt[i] = 0.01 * cos(i * 0.5); Wtf[i] = (float)Wt[i]; Vt[i] = 0; Vtf[i] = 0; }
        for (int j = 0; j < C; j++) { b[j] = 0.05 * j; bf[j] = (float)b[j]; Vb[j] = 0; Vbf[j] = 0; }
        fl_train t = {0};
        t.X = X; t.n = N; t.d = D; t.c = C; t.ld = D; t.y = y; t.sw = NULL;
        t.Wt = Wt; t.b = b; t.Vt = Vt; t.Vb = Vb; t.loss = loss; t.margin = 1.0; t.reg = 1e-3;
        t.momentum = 0.9; t.nesterov = 1; t.batch = B; t.threads = 1; t.order = order;
        t.lr = lr; t.history = hist; t.steps_before = 0; t.group = 3;
        void *work = malloc(fl_train_work_bytes_f64(&t));
        double *dW = malloc(sizeof(double) * C * D), *db = malloc(sizeof(double) * C);
        long bad = (long)fl_train_epoch_f64(&t, 0, 5, dW, db, work);
        printf("f64 %d %ld", loss, bad);
        for (int k = 0; k < 5; k++) printf(" %.17g", hist[k]);
        for (int i = 0; i < C * D; i++) printf(" %.17g", Wt[i]);
        for (int j = 0; j < C; j++) printf(" %.17g", b[j]);
        printf("\n");
        free(work);
        t.X = Xf; t.Wt = Wtf; t.b = bf; t.Vt = Vtf; t.Vb = Vbf;
        work = malloc(fl_train_work_bytes_f32(&t));
        float *dWf = malloc(sizeof(float) * C * D), *dbf = malloc(sizeof(float) * C);
        bad = (long)fl_train_epoch_f32(&t, 0, 5, dWf, dbf, work);
        printf("f32 %d %ld", loss, bad);
        for (int k = 0; k < 5; k++) printf(" %.9g", hist[k]);
        for (int i = 0; i < C * D; i++) printf(" %.9g", (double)Wtf[i]);
        for (int j = 0; j < C; j++) printf(" %.9g", (double)bf[j]);
        printf("\n");
        free(work); free(dW); free(db); free(dWf); free(dbf);
    }
    return 0;
}
"""


@pytest.mark.skipif(_compiler() is None, reason="no C compiler")
@pytest.mark.parametrize("extra", [[], ["-DFL_GENERIC_VECTORS"], ["-DFL_SCALAR"]],
                         ids=["native", "generic", "scalar"])
def test_training_engine_paths_match_the_twin(tmp_path, extra):
    """train.h's vector, generic-vector and scalar sections: one epoch equals the NumPy twin."""
    from fastloss import reference

    if not os.path.exists(os.path.join(os.path.dirname(fastloss.__file__), "simd", "train.h")):
        pytest.skip("the headers are not installed beside the package")
    cc = _compiler()
    src = tmp_path / "train_harness.c"
    src.write_text(TRAIN_HARNESS)
    exe = tmp_path / ("train" + "".join(f.strip("-=") for f in extra))
    include = os.path.dirname(fastloss.__file__)
    subprocess.run([cc, "-O2", "-std=gnu11", "-Wno-psabi", f"-I{include}", *extra, str(src),
                    "-o", str(exe), "-lm"], check=True, capture_output=True, text=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    n, d, c, b = 37, 19, 5, 8
    i = np.arange(n * d)
    X = (np.sin(i * 0.37) * 2).reshape(n, d)
    y = (np.arange(n) * 3) % c
    order = (np.arange(n) * 11) % n
    lr = 0.1 + 0.01 * np.arange(5)
    lines = out.splitlines()
    assert len(lines) == 4
    for line in lines:
        f = line.split()
        prec, loss, bad = f[0], int(f[1]), int(f[2])
        vals = np.array(f[3:], dtype=np.float64)
        dt = np.float64 if prec == "f64" else np.float32
        Xd = X.astype(dt)
        W = (0.01 * np.cos(np.arange(c * d) * 0.5)).reshape(c, d).T.astype(dt).copy()
        bb = (0.05 * np.arange(c)).astype(dt)
        V, Vb = np.zeros_like(W), np.zeros_like(bb)
        hist = reference.train_epoch(Xd, y, W, order, lr, loss="softmax" if loss == 0 else "hinge",
                                     batch_size=b, b=bb, V=V, Vb=Vb, reg=1e-3, momentum=0.9,
                                     nesterov=True)
        tol = dict(rtol=1e-10, atol=1e-12) if dt == np.float64 else dict(rtol=2e-4, atol=2e-5)
        assert bad == -1
        np.testing.assert_allclose(vals[:5], hist, **tol)
        np.testing.assert_allclose(vals[5:5 + c * d], W.T.ravel(), **tol)
        np.testing.assert_allclose(vals[5 + c * d:], bb, **tol)
