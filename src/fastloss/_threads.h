/* OpenMP thread count for the kernels, and whether they were built with OpenMP.
 *
 * setup.py adds -fopenmp when its probe compiles and links; without it, _OPENMP
 * is undefined, Cython's prange loops run serially and these report 1 thread. */
#ifndef FL_THREADS_H
#define FL_THREADS_H

#ifdef _OPENMP
#include <omp.h>
#define FL_OPENMP 1
/* The team size a parallel region would get: follows OMP_NUM_THREADS and
 * omp_set_num_threads (which threadpoolctl calls). */
static inline int fl_omp_max_threads(void) { return omp_get_max_threads(); }
#else
#define FL_OPENMP 0
static inline int fl_omp_max_threads(void) { return 1; }
#endif

#endif
