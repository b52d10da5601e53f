/* Elementwise primitives of the binary losses: the sigmoid, the sigmoid
 * cross-entropy and the binary hinge, over a block of n elements.
 *
 * The binary kernels (kernels/binary.pxi) run over flat arrays in blocks that
 * fit L1; targets, pos weights and sample weights arrive in the dtype of the
 * scores (the kernels convert them block by block), labels of the hinge as
 * int8 signs, and NULL weights mean all ones.  A block's last partial vector
 * is loaded with neutral padding and its lanes are masked out of every sum.
 */
#ifndef FL_BITS
#ifndef FASTLOSS_SIMD_BINARY_H
#define FASTLOSS_SIMD_BINARY_H

#include "math.h"

#if FL_X86
/* n <= 4 bytes at y in the low bytes of a register, the rest zero */
FL_INLINE __m128i fl_load_bytes(const int8_t *y, size_t n)
{
    uint32_t bytes = 0;
    memcpy(&bytes, y, n);
    return _mm_cvtsi32_si128((int)bytes);
}

/* the low four bytes of b sign-extended to int32 lanes, with SSE2 only: each
 * byte unpacked to the top of its lane, then an arithmetic shift */
FL_INLINE __m128i fl_sse2_bytes_to_int32(__m128i b)
{
    b = _mm_unpacklo_epi8(b, b);
    b = _mm_unpacklo_epi16(b, b);
    return _mm_srai_epi32(b, 24);
}
#endif

/* FL_SIGNS_32/64(y): a whole vector of int8 signs (±1) widened to float /
 * double lanes by sign-extending conversions (gcc makes one scalar conversion
 * per lane of __builtin_convertvector from bytes).  AVX without AVX2 has none
 * and takes the loop of load_signs. */
#if FL_X86 && defined(__AVX512F__)
#define FL_SIGNS_32(y) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(y))))
#define FL_SIGNS_64(y) _mm512_cvtepi32_pd(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(y))))
#elif FL_X86 && defined(__AVX2__)
#define FL_SIGNS_32(y) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(y))))
#define FL_SIGNS_64(y) _mm256_cvtepi32_pd(_mm_cvtepi8_epi32(fl_load_bytes(y, 4)))
#elif FL_X86 && !defined(__AVX__)
#define FL_SIGNS_32(y) _mm_cvtepi32_ps(fl_sse2_bytes_to_int32(fl_load_bytes(y, 4)))
#define FL_SIGNS_64(y) _mm_cvtepi32_pd(fl_sse2_bytes_to_int32(fl_load_bytes(y, 2)))
#endif

#define FL_TEMPLATE "binary.h"
#include "template.h"

#endif /* FASTLOSS_SIMD_BINARY_H */

#else /* FL_BITS: the body of template.h's two passes */

#if FL_VECTORS

/* σ(x) = 1/(1 + e^{-x}); sets *comp = 1 - σ(x) = σ(-x) and *e = e^{-|x|}.  From one
 * division, σ(-|x|) = e^{-|x|} / (1 + e^{-|x|}) with e^{-|x|} in (0, 1] (never overflows),
 * and σ(|x|) = 1 - σ(-|x|) (not 1/(1 + e), which rounds to 1 too early): 0 or 1 come out
 * only where the true value rounds there.  NaN passes. */
FL_INLINE FL_V FL_OP(sigmoid2)(FL_V x, FL_V *comp, FL_V *e_out)
{
    FL_V e = FL_OP(exp)(-FL_OP(abs)(x));
    FL_V small = e / ((FL_T)1 + e);   /* σ(-|x|), in (0, 1/2] */
    FL_V large = (FL_T)1 - small;     /* σ(|x|): rounds to 1 exactly where the true value does */
    FL_VM pos = x >= 0;
    *comp = FL_OP(select)(pos, small, large);
    *e_out = e;
    return FL_OP(select)(pos, large, small);
}

/* out[j] = σ(x[j]) (out may be x). */
FL_INLINE void FL_FN(sigmoid)(const FL_T *x, FL_T *out, ptrdiff_t n)
{
    FL_V c, e;
    ptrdiff_t j = 0;
    for (; j + FL_N <= n; j += FL_N)
        FL_OP(store)(out + j, FL_OP(sigmoid2)(FL_OP(load)(x + j), &c, &e));
    if (j < n)
        FL_OP(store_tail)(out + j, FL_OP(sigmoid2)(FL_OP(load_tail)(x + j, n - j, 0), &c, &e),
                          n - j);
}

/* Sigmoid cross-entropy of n logits x with targets y in [0, 1], pos weights p:
 *   L_j = c_j·log(1 + e^{-|x_j|}) + |x_j|·q_j,   c = 1 + (p - 1)·y,   q = x >= 0 ? 1 - y : p·y,
 * the stable form of -[p·y·log σ(x) + (1 - y)·log(1 - σ(x))], with |x|·q taken as 0 where
 * q = 0 (so x = ±inf gives the limit, 0 or inf, not NaN).  Returns Σ_j w_j L_j in double;
 * with lo: lo[j] = w_j L_j; with g: g[j] = gs·w_j·((1 - y_j)·σ(x_j) - p_j·y_j·(1 - σ(x_j))).
 * g or lo may be x. */
FL_INLINE double FL_FN(sigmoid_ce)(const FL_T *x, const FL_T *y, const FL_T *p, const FL_T *w,
                                   FL_T gs, FL_T *g, FL_T *lo, ptrdiff_t n)
{
    const FL_V one = FL_OP(splat)(1);
    fl_vd acc_lo = {0}, acc_hi = {0};
    for (ptrdiff_t j = 0; j < n; j += FL_N) {
        const ptrdiff_t rem = n - j < FL_N ? n - j : FL_N;
        const int full = rem == FL_N;
        FL_V xv = FL_OP(load_part)(x + j, rem, 0);
        FL_V yv = FL_OP(load_part)(y + j, rem, 0);
        FL_V pv = !p ? one : FL_OP(load_part)(p + j, rem, 1);
        FL_V wv = w ? FL_OP(load_part)(w + j, rem, 0) : full ? one : FL_OP(ones_head)(rem);
        FL_V comp, e;
        FL_V sg = FL_OP(sigmoid2)(xv, &comp, &e);
        FL_V py = pv * yv, ny = one - yv;
        FL_V q = FL_OP(select)(xv >= 0, ny, py);
        FL_V ax = (FL_V)((FL_VM)(FL_OP(abs)(xv) * q) & ~(q == 0));
        FL_V loss = ((py + ny) * FL_OP(log1p_unit)(e) + ax) * wv;
        FL_OP(add_wide)(loss, &acc_lo, &acc_hi);
        if (g) {
            FL_V gv = (gs * wv) * (ny * sg - py * comp);
            FL_OP(store_part)(g + j, gv, rem);
        }
        if (lo) {
            FL_OP(store_part)(lo + j, loss, rem);
        }
    }
    return fl_f64_hsum(acc_lo + acc_hi);
}

/* FL_N int8 signs (±1) from y as FL_T lanes; a tail of rem < FL_N padded with 0. */
FL_INLINE FL_V FL_OP(load_signs)(const int8_t *y, ptrdiff_t rem)
{
#ifdef FL_SIGNS_32
    if (rem == FL_N) return (FL_V)FL_CAT(FL_SIGNS_, FL_BITS)(y);
#endif
    FL_V v = {0};
    for (ptrdiff_t k = 0; k < rem; k++) v[k] = y[k];
    return v;
}

/* One vector of binary_hinge_impl at j: rem = FL_N (a whole one) or the tail. */
FL_INLINE void FL_FN(binary_hinge_step)(const FL_T *s, const int8_t *y, const FL_T *w,
                                        FL_T delta, FL_T gs, FL_T *g, FL_T *lo, ptrdiff_t j,
                                        ptrdiff_t rem, const int squared, fl_vd *acc)
{
    const int full = rem == FL_N;
    FL_V sv = FL_OP(load_part)(s + j, rem, 0);
    FL_V yv = FL_OP(load_signs)(y + j, rem);
    FL_V wv = w ? FL_OP(load_part)(w + j, rem, 0)
                : full ? FL_OP(splat)(1) : FL_OP(ones_head)(rem);
    FL_V t = delta - yv * sv;
    FL_V h = (FL_V)((FL_VM)t & ~(t <= 0));
    FL_V loss = (squared ? h * h : h) * wv;
    FL_OP(add_wide)(loss, &acc[0], &acc[1]);
    if (g) {
        FL_V gv = squared ? (((FL_T)-2 * gs) * wv * yv) * h
                          : (FL_V)((FL_VM)((-gs) * wv * yv) & (h > 0));
        gv = FL_OP(select)(h != h, h, gv); /* NaN in, NaN gradient */
        FL_OP(store_part)(g + j, gv, rem);
    }
    if (lo) {
        FL_OP(store_part)(lo + j, loss, rem);
    }
}

FL_INLINE double FL_FN(binary_hinge_impl)(const FL_T *s, const int8_t *y, const FL_T *w,
                                          FL_T delta, FL_T gs, FL_T *g, FL_T *lo, ptrdiff_t n,
                                          const int squared)
{
    fl_vd acc[2] = {{0}, {0}};
    ptrdiff_t j = 0;
    for (; j + FL_N <= n; j += FL_N)
        FL_FN(binary_hinge_step)(s, y, w, delta, gs, g, lo, j, FL_N, squared, acc);
    if (j < n)
        FL_FN(binary_hinge_step)(s, y, w, delta, gs, g, lo, j, n - j, squared, acc);
    return fl_f64_hsum(acc[0] + acc[1]);
}

/* Binary hinge of n scores s with labels y = ±1 (int8 signs): h_j = max(0, Δ - y_j·s_j) (NaN kept),
 * L_j = h_j (or h_j² if squared).  Returns Σ_j w_j L_j in double; with lo: lo[j] = w_j L_j;
 * with g: g[j] = -gs·w_j·y_j·[h_j > 0] (or -2·gs·w_j·y_j·h_j).  g or lo may be s. */
FL_INLINE double FL_FN(binary_hinge)(const FL_T *s, const int8_t *y, const FL_T *w, FL_T delta,
                                     int squared, FL_T gs, FL_T *g, FL_T *lo, ptrdiff_t n)
{
    return squared ? FL_FN(binary_hinge_impl)(s, y, w, delta, gs, g, lo, n, 1)
                   : FL_FN(binary_hinge_impl)(s, y, w, delta, gs, g, lo, n, 0);
}

#else /* scalar: the same results up to rounding */

static inline FL_T FL_FN(sigmoid1)(FL_T x, FL_T *comp, FL_T *e_out)
{
    FL_T e = FL_FN(exp1)(-(FL_T)fabs(x)), small = e / (1 + e), large = 1 - small;
    *comp = x >= 0 ? small : large;
    *e_out = e;
    return x >= 0 ? large : small;
}

static inline void FL_FN(sigmoid)(const FL_T *x, FL_T *out, ptrdiff_t n)
{
    FL_T c, e;
    for (ptrdiff_t j = 0; j < n; j++) out[j] = FL_FN(sigmoid1)(x[j], &c, &e);
}

static inline double FL_FN(sigmoid_ce)(const FL_T *x, const FL_T *y, const FL_T *p, const FL_T *w,
                                       FL_T gs, FL_T *g, FL_T *lo, ptrdiff_t n)
{
    double total = 0.0;
    for (ptrdiff_t j = 0; j < n; j++) {
        FL_T c, e, pv = p ? p[j] : 1, wv = w ? w[j] : 1;
        FL_T sg = FL_FN(sigmoid1)(x[j], &c, &e);
        FL_T py = pv * y[j], ny = 1 - y[j], q = x[j] >= 0 ? ny : py;
        FL_T ax = q == 0 ? 0 : (FL_T)fabs(x[j]) * q;
        FL_T loss = ((py + ny) * (FL_T)log1p(e) + ax) * wv;
        total += loss;
        if (g) g[j] = gs * wv * (ny * sg - py * c);
        if (lo) lo[j] = loss;
    }
    return total;
}

static inline double FL_FN(binary_hinge)(const FL_T *s, const int8_t *y, const FL_T *w, FL_T delta,
                                         int squared, FL_T gs, FL_T *g, FL_T *lo, ptrdiff_t n)
{
    double total = 0.0;
    for (ptrdiff_t j = 0; j < n; j++) {
        FL_T wv = w ? w[j] : 1, t = delta - y[j] * s[j], h = t <= 0 ? 0 : t;
        FL_T loss = (squared ? h * h : h) * wv;
        total += loss;
        if (g) g[j] = squared ? -2 * gs * wv * y[j] * h : (h != h ? h : h > 0 ? -gs * wv * y[j] : 0);
        if (lo) lo[j] = loss;
    }
    return total;
}

#endif /* FL_VECTORS */

#endif /* FL_BITS */
