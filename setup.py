"""Build the fastloss extension modules.

The kernels (src/fastloss/kernels/*.pxi over the C of src/fastloss/simd/) are
compiled several times, once per x86-64 instruction-set level, and
fastloss._dispatch imports the best build the running CPU supports:

    fastloss._kernels_baseline   any x86-64 (SSE2) or any other architecture
    fastloss._kernels_avx2       x86-64-v3: AVX2 + FMA          (x86-64, GCC/Clang)
    fastloss._kernels_avx512     x86-64-v4: AVX-512 F/BW/DQ/VL  (x86-64, GCC/Clang)

beside two small modules built once: fastloss._cpu (what the CPU can run) and
fastloss._threads (the thread policy every kernel build cimports).  The
modules are cythonized and compiled in parallel, one per core.

Flags: -O3 plus -fno-math-errno -fno-trapping-math, which let gcc vectorise
more and, unlike -ffast-math/-Ofast, change no floating-point state of the
process and no result.  No -march=native: wheels must run on any x86-64.

Environment switches:
    FASTLOSS_DEBUG=1        Cython bounds/wraparound/initialisation checks on, -O0 -g
    FASTLOSS_VEC_REPORT=1   print what gcc vectorised (-fopt-info-vec-optimized)
    FASTLOSS_OPENMP=0       build the kernels without OpenMP (single-threaded)

OpenMP: the kernels use it (-fopenmp) when a probe program compiles and links
with it using the build's own compiler; otherwise, and always with MSVC, they
are built without it and run on one thread.  build_info()["openmp"] of a
kernel module tells which.
"""

import os
import platform
import shutil
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG = os.environ.get("FASTLOSS_DEBUG", "0") not in ("", "0")
VEC_REPORT = os.environ.get("FASTLOSS_VEC_REPORT", "0") not in ("", "0")
# FASTLOSS_PROFILE=1: the release build with debug information (-g), for perf annotate
PROFILE = os.environ.get("FASTLOSS_PROFILE", "0") not in ("", "0")
OPENMP_WANTED = os.environ.get("FASTLOSS_OPENMP", "1") not in ("", "0")
X86_64 = platform.machine().lower() in ("x86_64", "amd64")

# Instruction-set builds of the kernels: module suffix -> extra GCC/Clang flags.
ISA_FLAGS = {
    "baseline": [],
    "avx2": ["-march=x86-64-v3", "-mtune=generic"],
    "avx512": ["-march=x86-64-v4", "-mtune=generic", "-mprefer-vector-width=512"],
}

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "embedsignature": True,
}


#: Modules compiled with -fopenmp when the compiler has it.
OPENMP_MODULES = ("fastloss._kernels_", "fastloss._threads")


class BuildExt(build_ext):
    """Pick per-compiler flags; drop the AVX builds where they cannot be made; compile the
    extensions in parallel, one per core (pip's build runs setuptools without -j)."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        unix = self.compiler.compiler_type in ("unix", "mingw32", "cygwin")
        if not (unix and X86_64):
            # MSVC or a non-x86 target: the portable build only.
            self.extensions = [e for e in self.extensions if not isa_flags(e.name)]
        openmp = unix and OPENMP_WANTED and compiles_with_openmp(self.compiler)
        print(f"fastloss: building the kernels {'with' if openmp else 'without'} OpenMP")
        for ext in self.extensions:
            if unix:
                # -g0: no debug information in a release build (Python's own CFLAGS
                # carry -g): a third of the compile time and most of the wheel's size;
                # gcc makes the same code either way.
                opt = ["-O0", "-g"] if DEBUG else ["-O3", "-g" if PROFILE else "-g0"]
                ext.extra_compile_args = opt + [
                    "-fno-math-errno",
                    "-fno-trapping-math",
                    *isa_flags(ext.name),
                ]
                if VEC_REPORT:
                    ext.extra_compile_args.append("-fopt-info-vec-optimized")
                if openmp and ext.name.startswith(OPENMP_MODULES):
                    ext.extra_compile_args.append("-fopenmp")
                    ext.extra_link_args = [*ext.extra_link_args, "-fopenmp"]
            else:
                ext.extra_compile_args = ["/Od"] if DEBUG else ["/O2"]
            # Recorded in the module for fastloss.show_config(): what it was built with.
            flags = " ".join(ext.extra_compile_args).replace("\\", "/").replace('"', "'")
            ext.define_macros.append(("FL_BUILD_CFLAGS", f'"{flags}"'))
            ext.define_macros.append(("FL_BUILD_DEBUG", "1" if DEBUG else "0"))
        super().build_extensions()


OPENMP_PROBE = r"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 && omp_get_max_threads() > 0 ? 0 : 1;
}
"""


def compiles_with_openmp(compiler):
    """Whether ``compiler`` compiles and links a small OpenMP program with -fopenmp."""
    tmp = tempfile.mkdtemp(prefix="fastloss-omp-")
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(OPENMP_PROBE)
        objs = compiler.compile([src], output_dir=tmp, extra_postargs=["-fopenmp"])
        compiler.link_executable(objs, "probe", output_dir=tmp, extra_postargs=["-fopenmp"])
        return True
    except Exception:  # CompileError, LinkError: no usable OpenMP
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def isa_flags(module_name):
    """The instruction-set flags of a kernel build, [] for everything else."""
    prefix = "fastloss._kernels_"
    if module_name.startswith(prefix):
        return ISA_FLAGS[module_name[len(prefix):]]
    return []


def extension(name):
    return Extension(f"fastloss.{name}", [f"src/fastloss/{name}.pyx"], include_dirs=["src/fastloss"])


# The kernel builds first, widest first: built in parallel, the longest compiles start
# together and the small modules fill in at the end.
extensions = [extension(f"_kernels_{isa}") for isa in reversed(ISA_FLAGS)] + [
    extension("_threads"), extension("_cpu")
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        include_path=["src"],
        annotate=False,
        quiet=True,
        nthreads=os.cpu_count() or 1,
    ),
    cmdclass={"build_ext": BuildExt},
)
