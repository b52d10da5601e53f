/* exp, log and log1p for the fastloss kernels: scalar and vector, one place.
 *
 * gcc does not vectorise calls to libm's expf/exp at -O3 (without -ffast-math,
 * which fastloss never uses: it changes the floating-point state of the whole
 * process).  These are branch-free, with no calls, so the kernels run them a
 * vector at a time at any instruction set: SSE2 (baseline x86-64), AVX2,
 * AVX-512, NEON.
 *
 * exp (Cody & Waite range reduction, as in Cephes):
 *   n = round(x / ln 2)               via the 1.5·2^p "magic number" add, so the
 *                                     integer n is read straight off the bits
 *   r = x - n·ln2_hi - n·ln2_lo        |r| <= ln2/2, exact high part
 *   exp(r) ≈ polynomial(r)            Cephes' minimax (float), Taylor deg 12 (double)
 *   exp(x) = exp(r) · 2^n
 * The scalar version scales by two powers of two, 2^(n/2) · 2^(n - n/2), so
 * that each factor is a normal number: results in the subnormal range round
 * correctly and overflow gives +inf.  Accuracy: within 1 ulp (float) and 2
 * ulps (double) of NumPy's exp over the whole range (tests/test_simd.py).  Special values:
 * exp(-inf) = 0, exp(+inf) = +inf, exp(NaN) = NaN.  Inputs whose result rounds
 * to 0 skip the subnormal path (slow on x86); those above the overflow
 * threshold are clamped (NaN-preserving) to give +inf.
 */
#ifndef FL_BITS
#ifndef FASTLOSS_SIMD_MATH_H
#define FASTLOSS_SIMD_MATH_H

#include "vec.h"

/* The core shared by every exp of a dtype, so that all give the same
 * results: from x (of type T, a float or a vector of floats) sets
 *   t  = x·log2(e) + 1.5·2^23   (n = round(x / ln 2) in its low mantissa bits),
 *   nf = n as a float,
 *   p  ≈ exp(r), r = x - n·ln2_hi - n·ln2_lo (Cephes' minimax polynomial).
 * Each step is one a·b + c, which gcc makes an fma where the ISA has one. */
#define FL_EXP_CORE_32(T, x, t, nf, p)                                              \
    do {                                                                            \
        (t) = (x) * 1.44269504088896341f + 12582912.0f;                             \
        (nf) = (t) - 12582912.0f;                                                   \
        T r_ = (x) - (nf) * 0.693359375f;                                           \
        r_ = r_ - (nf) * -2.12194440e-4f;                                           \
        (p) = r_ * 1.9875691500e-4f + 1.3981999507e-3f;                             \
        (p) = (p) * r_ + 8.3334519073e-3f;                                          \
        (p) = (p) * r_ + 4.1665795894e-2f;                                          \
        (p) = (p) * r_ + 1.6666665459e-1f;                                          \
        (p) = (p) * r_ + 5.0000001201e-1f;                                          \
        (p) = (p) * (r_ * r_) + r_ + 1.0f;                                          \
    } while (0)

/* The same for double: 1.5·2^52, ln2 in two parts (ln2_hi has 32
 * significant bits), and the Taylor series of exp to degree 12: |r| <= 0.3466,
 * so the truncation error r^13/13! < 2e-16 relative. */
#define FL_EXP_CORE_64(T, x, t, nf, p)                                              \
    do {                                                                            \
        (t) = (x) * 1.4426950408889634074 + 6755399441055744.0;                     \
        (nf) = (t) - 6755399441055744.0;                                            \
        T r_ = (x) - (nf) * 6.93147180369123816490e-1;                              \
        r_ = r_ - (nf) * 1.90821492927058770002e-10;                                \
        (p) = r_ * 2.08767569878680989792e-9 + 2.50521083854417187751e-8;  /* 1/12!, 1/11! */ \
        (p) = (p) * r_ + 2.75573192239858906526e-7;                        /* 1/10! */ \
        (p) = (p) * r_ + 2.75573192239858906526e-6;                        /* 1/9! */  \
        (p) = (p) * r_ + 2.48015873015873015873e-5;                        /* 1/8! */  \
        (p) = (p) * r_ + 1.98412698412698412698e-4;                        /* 1/7! */  \
        (p) = (p) * r_ + 1.38888888888888888889e-3;                        /* 1/6! */  \
        (p) = (p) * r_ + 8.33333333333333333333e-3;                        /* 1/5! */  \
        (p) = (p) * r_ + 4.16666666666666666667e-2;                        /* 1/4! */  \
        (p) = (p) * r_ + 1.66666666666666666667e-1;                        /* 1/3! */  \
        (p) = (p) * r_ + 0.5;                                                       \
        (p) = (p) * (r_ * r_) + r_ + 1.0;                                           \
    } while (0)

#define FL_EXP_CORE FL_CAT(FL_EXP_CORE_, FL_BITS)
/* exp(x) rounds to 0 below this (so x is taken as 0 there and the result zeroed) */
#define FL_EXP_ZERO_BELOW FL_CAT(FL_EXP_ZERO_BELOW_, FL_BITS)
#define FL_EXP_ZERO_BELOW_32 -104.0f
#define FL_EXP_ZERO_BELOW_64 -745.2
/* and is +inf above this, which x is clamped to (NaN-preserving) */
#define FL_EXP_CLAMP_ABOVE FL_CAT(FL_EXP_CLAMP_ABOVE_, FL_BITS)
#define FL_EXP_CLAMP_ABOVE_32 89.0f
#define FL_EXP_CLAMP_ABOVE_64 710.0
/* results are normal numbers for x in [LO, HI] */
#define FL_EXP_NORMAL_LO FL_CAT(FL_EXP_NORMAL_LO_, FL_BITS)
#define FL_EXP_NORMAL_LO_32 -87.0f
#define FL_EXP_NORMAL_LO_64 -708.0
#define FL_EXP_NORMAL_HI FL_CAT(FL_EXP_NORMAL_HI_, FL_BITS)
#define FL_EXP_NORMAL_HI_32 88.0f
#define FL_EXP_NORMAL_HI_64 709.0
#define FL_EXP_MAGIC FL_CAT(FL_EXP_MAGIC_, FL_BITS)    /* 1.5 · 2^mantissa bits */
#define FL_EXP_MAGIC_32 12582912.0f
#define FL_EXP_MAGIC_64 6755399441055744.0
#define FL_EXP_BIAS FL_CAT(FL_EXP_BIAS_, FL_BITS)      /* of the exponent field */
#define FL_EXP_BIAS_32 127
#define FL_EXP_BIAS_64 1023
#define FL_MANT FL_CAT(FL_MANT_, FL_BITS)              /* mantissa bits */
#define FL_MANT_32 23
#define FL_MANT_64 52
/* log1p_unit's series: last odd power */
#define FL_LOG1P_TOP FL_CAT(FL_LOG1P_TOP_, FL_BITS)
#define FL_LOG1P_TOP_32 15
#define FL_LOG1P_TOP_64 31

#define FL_TEMPLATE "math.h"
#include "template.h"

#if FL_VECTORS

#if FL_X86 && defined(__AVX512F__)
typedef float fl_vf8 __attribute__((vector_size(32)));

/* fl_f32_exp on 8 lanes, for a row's last partial vector of at most 8
 * elements: processors that run a 512-bit operation as two 256-bit halves
 * (AMD Zen 4) do it in half the time of a 16-lane one.  The same core, so
 * the same results. */
FL_INLINE __m256 fl_f32_exp8(__m256 xv)
{
    const __mmask8 keep = _mm256_cmp_ps_mask(xv, _mm256_set1_ps(-104.0f), _CMP_NLT_UQ);
    fl_vf8 x = (fl_vf8)xv, t, nf, p;
    FL_EXP_CORE_32(fl_vf8, x, t, nf, p);
    return _mm256_maskz_scalef_ps(keep, (__m256)p, (__m256)nf);
}
#endif

/* Natural log of a vector of positive doubles, ~1 ulp; NaN propagates.
 * x = 2^e · m with m in [√½, √2); log m = 2·atanh(f), f = (m-1)/(m+1), |f| <= 0.1716,
 * summed to f^23 (truncation < 1e-17 relative); e·ln2 in two parts (fdlibm's). */
FL_INLINE fl_vd fl_f64_log(fl_vd x)
{
    const fl_vd magic = fl_f64_splat(6755399441055744.0); /* 1.5·2^52: int64 -> double */
    fl_vq bits = (fl_vq)x;
    fl_vl e = (fl_vl)((bits >> 52) & 0x7ff) - 1023;
    fl_vd m = (fl_vd)((bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
    fl_vl big = m > 1.4142135623730951;
    m = fl_f64_select(big, m * 0.5, m);
    e -= big;                                           /* big is -1 where true */
    fl_vd ed = (fl_vd)((fl_vl)magic + e) - magic;
    fl_vd f = (m - 1.0) / (m + 1.0);
    fl_vd f2 = f * f;
    fl_vd p = fl_f64_splat(1.0 / 23);
    /* (spelled out: as a loop over k, gcc does not always unroll it where it
     * inlines this, and then divides 1.0 / k in every step) */
    p = p * f2 + 1.0 / 21;
    p = p * f2 + 1.0 / 19;
    p = p * f2 + 1.0 / 17;
    p = p * f2 + 1.0 / 15;
    p = p * f2 + 1.0 / 13;
    p = p * f2 + 1.0 / 11;
    p = p * f2 + 1.0 / 9;
    p = p * f2 + 1.0 / 7;
    p = p * f2 + 1.0 / 5;
    p = p * f2 + 1.0 / 3;
    /* The products are rounded as they are: whether gcc fuses one of them
     * into an fma with the sum differs between inlined copies of this
     * function (seen: the serial and the threaded loop of softmax_cross_entropy),
     * and so would the last bit of the log of a sum >= 2 (e != 0). */
    fl_vd ln2_hi = ed * 6.93147180369123816490e-1, ln2_lo = ed * 1.90821492927058770002e-10;
    fl_vd tail = 2.0 * f * f2 * p;
    FL_VROUNDED(ln2_hi);
    FL_VROUNDED(ln2_lo);
    FL_VROUNDED(tail);
    fl_vd r = ln2_hi + (2.0 * f + (tail + ln2_lo));
    return fl_f64_select(x != x, x, r);
}

/* out[k] = log(x[k]) for k < 8 (positive finite doubles or NaN). */
FL_INLINE void fl_log8_f64(const double *x, double *out)
{
    for (int k = 0; k < 8; k += FL_ND) fl_f64_store(out + k, fl_f64_log(fl_f64_load(x + k)));
}

/* out[k] = log1p(t[k]) for 8 doubles t >= -1/2 (NaN propagates):
 * log(u) - ((u - 1) - t) / u with u = 1 + t, which corrects the rounding of u. */
FL_INLINE void fl_log1p8_f64(const double *t, double *out)
{
    for (int k = 0; k < 8; k += FL_ND) {
        fl_vd tv = fl_f64_load(t + k), u = tv + 1.0;
        fl_f64_store(out + k, fl_f64_log(u) - ((u - 1.0) - tv) / u);
    }
}

#else /* scalar */

static inline void fl_log8_f64(const double *x, double *out)
{
    for (int k = 0; k < 8; k++) out[k] = log(x[k]);
}

static inline void fl_log1p8_f64(const double *t, double *out)
{
    for (int k = 0; k < 8; k++) out[k] = log1p(t[k]);
}

#endif /* FL_VECTORS */

#endif /* FASTLOSS_SIMD_MATH_H */

#else /* FL_BITS: the body of template.h's two passes */

/* exp of one number (the scalar path and the row-by-row fallbacks). */
static inline FL_T FL_FN(exp1)(FL_T x)
{
    const FL_T magic = FL_EXP_MAGIC;
    /* Below FL_EXP_ZERO_BELOW the result rounds to 0: compute exp(0) there
     * and zero it at the end, so -inf never takes the slow subnormal path.
     * The comparisons are false for NaN, which passes. */
    const int tiny = x < FL_EXP_ZERO_BELOW;
    x = tiny ? (FL_T)0 : x;
    x = x > FL_EXP_CLAMP_ABOVE ? FL_EXP_CLAMP_ABOVE : x;
    FL_T t, nf, p;
    FL_EXP_CORE(FL_T, x, t, nf, p);
    FL_IT n = FL_OP(to_bits)(t) - FL_OP(to_bits)(magic);
    FL_IT n1 = n >> 1;
    FL_IT n2 = n - n1;
    FL_T s1 = FL_OP(from_bits)((n1 + FL_EXP_BIAS) << FL_MANT);
    FL_T s2 = FL_OP(from_bits)((n2 + FL_EXP_BIAS) << FL_MANT);
    return tiny ? (FL_T)0 : p * s1 * s2;
}

#if FL_VECTORS

/* exp, a vector at a time: the same results as FL_FN(exp1).
 *
 * The scaling by 2^n is where the instruction sets differ.  AVX-512 has
 * vscalefps/pd, which multiplies by 2^n with one rounding over the whole
 * range (overflow to +inf and subnormal results included).  Elsewhere the
 * common case -- every lane's result a normal number, as in a softmax where
 * x = s - max <= 0 -- adds n to the exponent field of the polynomial's
 * result, and a vector with any lane outside [FL_EXP_NORMAL_LO, _HI] (or
 * NaN) takes the two-factor scaling of the scalar exp, which is exact there
 * too.  The AVX-512 version does not clamp large x: it is exact up to the
 * overflow threshold (+inf beyond it, up to ~2.9e6 for float, where the
 * rounding of x/ln2 by the magic number stops working); callers with larger
 * x clamp first (FL_OP(exp_clamp)). */
FL_INLINE FL_V FL_OP(exp)(FL_V x)
{
#if FL_X86 && defined(__AVX512F__)
    /* Lanes whose result rounds to 0 (and -inf) are zeroed by the mask of the
     * final scalef, whatever they computed meanwhile (NaN for -inf: AVX-512
     * takes no assist for NaN or inf).  NaN is kept (unordered compare). */
    const FL_MASK512 keep = FL_MM_(_mm512_cmp_p, _mask)(
        (FL_M512)x, FL_MM(_mm512_set1_p)(FL_EXP_ZERO_BELOW), _CMP_NLT_UQ);
#else
    const FL_V hi = FL_OP(splat)(FL_EXP_CLAMP_ABOVE), zero = {0};
    /* Lanes whose result rounds to 0 compute exp(0) and are zeroed at the end,
     * so that -inf scores and padding never take the (slow, microcode-assisted
     * on x86) subnormal path. */
    const FL_VM tiny = x < FL_EXP_ZERO_BELOW;
    x = FL_OP(select)(tiny, zero, x);
    x = FL_OP(select)(x > hi, hi, x);
#endif
    FL_V t, nf, p;
    FL_EXP_CORE(FL_V, x, t, nf, p);
#if FL_X86 && defined(__AVX512F__)
    return (FL_V)FL_MM(_mm512_maskz_scalef_p)(keep, (FL_M512)p, (FL_M512)nf);
#else
    FL_VM n = (FL_VM)t - (FL_VM)FL_OP(splat)(FL_EXP_MAGIC);
    if (__builtin_expect(FL_OP(any)(~((x >= FL_EXP_NORMAL_LO) & (x <= FL_EXP_NORMAL_HI))), 0)) {
        /* n1 = floor(n / 2) with a logical shift (every instruction set has one) */
        FL_VM n1 = (FL_VM)((FL_VU)(n + 2 * (FL_EXP_BIAS + 1)) >> 1) - (FL_EXP_BIAS + 1);
        FL_VM n2 = n - n1;
        return (FL_V)((FL_VM)(p * (FL_V)((n1 + FL_EXP_BIAS) << FL_MANT) *
                              (FL_V)((n2 + FL_EXP_BIAS) << FL_MANT)) & ~tiny);
    }
    /* p in [0.7, 1.42] and n within the exponent range: p·2^n is normal, its
     * exponent field is p's plus n (tiny lanes have x = 0, n = 0, and are zeroed) */
    return (FL_V)(((FL_VM)p + (n << FL_MANT)) & ~tiny);
#endif
}

/* min(v, FL_EXP_CLAMP_ABOVE) before the AVX-512 exp, which does not clamp
 * (NaN stays: MINPS returns its second operand when one is NaN); the other
 * exps clamp themselves. */
FL_INLINE FL_V FL_OP(exp_clamp)(FL_V v)
{
#if FL_X86 && defined(__AVX512F__)
    return (FL_V)FL_MM(_mm512_min_p)(FL_MM(_mm512_set1_p)(FL_EXP_CLAMP_ABOVE), (FL_M512)v);
#else
    return v;
#endif
}

/* log(1 + e) for 0 <= e <= 1, as 2·atanh(s) = 2(s + s³/3 + s⁵/5 + ...), s = e/(2 + e) <= 1/3:
 * no 1 + e is ever rounded, so tiny e keeps its full precision (log1p(e) = e).
 * The series is cut after s^FL_LOG1P_TOP (s¹⁵ float, < 2e-9 relative; s³¹
 * double, < 2e-17).  NaN passes. */
FL_INLINE FL_V FL_OP(log1p_unit)(FL_V e)
{
    FL_V s = e / ((FL_T)2 + e);
    FL_V z = s * s;
    FL_V p = FL_OP(splat)((FL_T)2 / (FL_T)FL_LOG1P_TOP);
    /* unrolled, so that every 2/k is a constant (see fl_f64_log) */
#pragma GCC unroll 16
    for (int k = FL_LOG1P_TOP - 2; k >= 3; k -= 2) p = p * z + (FL_T)2 / (FL_T)k;
    return (s * z) * p + (s + s);
}

#endif /* FL_VECTORS */

#endif /* FL_BITS */
