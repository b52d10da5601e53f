"""Remake the figures of docs/ that the README shows, with the commands that made them.

    python tools/docs_figures.py            # every figure below
    python tools/docs_figures.py sgd_curve  # one of them

Run it from a checkout with fastloss importable (installed, or ``PYTHONPATH=src``
after ``python setup.py build_ext --inplace``) and scikit-learn and matplotlib
installed (``pip install ".[digits,plot]"``).  The README's own commands write
into the working directory, never over these tracked files.

``sgd_curve``: docs/sgd_curve.png, ``python -m fastloss train --data digits
--plot docs/sgd_curve.png`` (the defaults: both losses, batch sizes 32, 64,
128 and 256, 20 epochs, learning rate 0.5 for every batch size, seed 0).
Training is deterministic for a seed, so the figure and the table it prints
are the same on every run (up to the timings).
"""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FIGURES = {
    "sgd_curve": ["-m", "fastloss", "train", "--data", "digits", "--plot",
                  os.path.join("docs", "sgd_curve.png")],
}


def main(argv: list[str]) -> int:
    names = argv or list(FIGURES)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        print(f"unknown figure(s) {unknown}; known: {sorted(FIGURES)}", file=sys.stderr)
        return 2
    for name in names:
        cmd = [sys.executable, *FIGURES[name]]
        print("$ python " + " ".join(FIGURES[name]), flush=True)
        subprocess.run(cmd, cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
