/* A CSR matrix as the sparse kernels read it (fl_csr: its arrays, int32 or
 * int64 indices), and the check of its arrays that kernels/sparse.pxi runs
 * before any kernel reads through them.  Included by sparse.h. */
#ifndef FASTLOSS_SIMD_CSR_H
#define FASTLOSS_SIMD_CSR_H

#include <stddef.h>
#include <stdint.h>

/* One CSR matrix: indices and indptr both int32 or both int64 (idx64). */
typedef struct {
    const void *data;
    const void *indices, *indptr;
    int idx64;
} fl_csr;

#define FL_CSR_INDEX(x, p) \
    ((x)->idx64 ? (ptrdiff_t)((const int64_t *)(x)->indices)[p] \
                : (ptrdiff_t)((const int32_t *)(x)->indices)[p])

static inline ptrdiff_t fl_csr_ptr(const fl_csr *x, ptrdiff_t i)
{
    return x->idx64 ? (ptrdiff_t)((const int64_t *)x->indptr)[i]
                    : (ptrdiff_t)((const int32_t *)x->indptr)[i];
}

/* The first position of indptr (n + 1 entries) or indices (nnz) that is not
 * a valid CSR of d columns, as a code: 0 valid; 1 indptr[0] != 0; 2 indptr
 * decreasing at *where; 3 indptr[n] != nnz; 4 indices[*where] outside
 * [0, d).  One read of indptr and indices. */
static inline int fl_csr_check(const fl_csr *x, ptrdiff_t n, ptrdiff_t nnz, ptrdiff_t d,
                               ptrdiff_t *where)
{
    ptrdiff_t i, p;
    *where = 0;
    if (fl_csr_ptr(x, 0) != 0) return 1;
    {
        unsigned int down = 0;
        if (x->idx64) {
            const int64_t *q = (const int64_t *)x->indptr;
            for (i = 0; i < n; i++) down += q[i + 1] < q[i];
        } else {
            const int32_t *q = (const int32_t *)x->indptr;
            for (i = 0; i < n; i++) down += q[i + 1] < q[i];
        }
        if (down)
            for (i = 0; i < n; i++)
                if (fl_csr_ptr(x, i + 1) < fl_csr_ptr(x, i)) {
                    *where = i + 1;
                    return 2;
                }
    }
    if (fl_csr_ptr(x, n) != nnz) {
        *where = n;
        return 3;
    }
    /* the indices block by block: an unsigned comparison (a negative index is
     * a large one) summed, which gcc vectorises; the first bad one is then
     * looked for in the block that has one */
    for (ptrdiff_t p0 = 0; p0 < nnz; p0 += 4096) {
        const ptrdiff_t p1 = nnz - p0 < 4096 ? nnz : p0 + 4096;
        unsigned int bad = 0;
        if (x->idx64) {
            const uint64_t *ix = (const uint64_t *)x->indices;
            for (p = p0; p < p1; p++) bad += ix[p] >= (uint64_t)d;
        } else {
            const int32_t *ix = (const int32_t *)x->indices;
            const uint64_t dd = (uint64_t)d;
            for (p = p0; p < p1; p++) bad += (uint64_t)(int64_t)ix[p] >= dd;
        }
        if (bad)
            for (p = p0; p < p1; p++) {
                const ptrdiff_t col = FL_CSR_INDEX(x, p);
                if (col < 0 || col >= d) { *where = p; return 4; }
            }
    }
    return 0;
}

#endif /* FASTLOSS_SIMD_CSR_H */
