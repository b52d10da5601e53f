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
