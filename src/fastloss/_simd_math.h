/* Vectorisable exp for the fastloss kernels.
 *
 * gcc does not vectorise calls to libm's expf/exp at -O3 (without -ffast-math,
 * which fastloss never uses: it changes the floating-point state of the whole
 * process).  These are branch-free scalar functions with no calls and no
 * float->int conversions, so a loop that calls them vectorises at any
 * instruction set: SSE2 (baseline x86-64), AVX2, AVX-512.  Check with
 * FASTLOSS_VEC_REPORT=1 (adds -fopt-info-vec-optimized to the build).
 *
 * Method (Cody & Waite range reduction, as in Cephes):
 *   n = round(x / ln 2)               via the 1.5·2^p "magic number" add, so the
 *                                     integer n is read straight off the bits
 *   r = x - n·ln2_hi - n·ln2_lo        |r| <= ln2/2, exact high part
 *   exp(r) ≈ polynomial(r)            Cephes' minimax (float), Taylor deg 12 (double)
 *   exp(x) = exp(r) · 2^(n/2) · 2^(n - n/2)
 * Scaling by two powers of two keeps each factor a normal number, so results in
 * the subnormal range round correctly and overflow gives +inf.  Accuracy: about
 * 1 ulp over the whole range (checked against libm in tests/test_simd_math.py).
 * Special values: exp(-inf) = 0, exp(+inf) = +inf, exp(NaN) = NaN.  Inputs
 * whose result rounds to 0 skip the subnormal path (slow on x86); those above
 * the overflow threshold are clamped (NaN-preserving) to give +inf.
 */
#ifndef FASTLOSS_SIMD_MATH_H
#define FASTLOSS_SIMD_MATH_H

#include <stdint.h>
#include <string.h>

/* x, rounded as it is: a product passed through fl_rounded is never fused
 * into an fma with what it is added to.  gcc contracts a*b + c on its own
 * (-ffp-contract=fast, its default), and two inlined or specialised copies of
 * one function may contract differently -- the serial and the threaded loop
 * would then give a row different results. */
static inline double fl_rounded(double x)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && defined(__SSE2__)
    __asm__("" : "+x"(x));
#elif defined(__GNUC__) && defined(__aarch64__)
    __asm__("" : "+w"(x));
#else
    volatile double v = x;
    x = v;
#endif
    return x;
}

static inline float fl_bits_to_f32(int32_t i) { float f; memcpy(&f, &i, sizeof f); return f; }
static inline int32_t fl_f32_to_bits(float f) { int32_t i; memcpy(&i, &f, sizeof i); return i; }
static inline double fl_bits_to_f64(int64_t i) { double f; memcpy(&f, &i, sizeof f); return f; }
static inline int64_t fl_f64_to_bits(double f) { int64_t i; memcpy(&i, &f, sizeof i); return i; }

/* The common core of fl_expf and its vector versions in _simd_rows.h, so that
 * all give the same results: from x (a float or a vector of floats) sets
 *   t  = x·log2(e) + 1.5·2^23   (n = round(x / ln 2) in its low mantissa bits),
 *   nf = n as a float,
 *   p  ≈ exp(r), r = x - n·ln2_hi - n·ln2_lo (Cephes' minimax polynomial).
 * Each step is one a·b + c, which gcc makes an fma where the ISA has one. */
#define FL_EXPF_CORE(x, t, nf, p)                                                   \
    do {                                                                            \
        (t) = (x) * 1.44269504088896341f + 12582912.0f;                             \
        (nf) = (t) - 12582912.0f;                                                   \
        __typeof__(t) r_ = (x) - (nf) * 0.693359375f;                               \
        r_ = r_ - (nf) * -2.12194440e-4f;                                           \
        (p) = r_ * 1.9875691500e-4f + 1.3981999507e-3f;                             \
        (p) = (p) * r_ + 8.3334519073e-3f;                                          \
        (p) = (p) * r_ + 4.1665795894e-2f;                                          \
        (p) = (p) * r_ + 1.6666665459e-1f;                                          \
        (p) = (p) * r_ + 5.0000001201e-1f;                                          \
        (p) = (p) * (r_ * r_) + r_ + 1.0f;                                          \
    } while (0)

/* The same for fl_exp (double): 1.5·2^52, ln2 in two parts (ln2_hi has 32
 * significant bits), and the Taylor series of exp to degree 12: |r| <= 0.3466,
 * so the truncation error r^13/13! < 2e-16 relative. */
#define FL_EXP_CORE(x, t, nf, p)                                                    \
    do {                                                                            \
        (t) = (x) * 1.4426950408889634074 + 6755399441055744.0;                     \
        (nf) = (t) - 6755399441055744.0;                                            \
        __typeof__(t) r_ = (x) - (nf) * 6.93147180369123816490e-1;                  \
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

static inline float fl_expf(float x)
{
    const float magic = 12582912.0f;          /* 1.5 * 2^23 */
    /* Below -104 the result rounds to 0: compute exp(0) there and zero it at
     * the end, so -inf never takes the slow subnormal path.  Above 89 the
     * result is +inf.  The comparisons are false for NaN, which passes. */
    const int tiny = x < -104.0f;
    x = tiny ? 0.0f : x;
    x = x > 89.0f ? 89.0f : x;
    float t, nf, p;
    FL_EXPF_CORE(x, t, nf, p);
    int32_t n = fl_f32_to_bits(t) - fl_f32_to_bits(magic);
    int32_t n1 = n >> 1;
    int32_t n2 = n - n1;
    float s1 = fl_bits_to_f32((n1 + 127) << 23);
    float s2 = fl_bits_to_f32((n2 + 127) << 23);
    return tiny ? 0.0f : p * s1 * s2;
}

static inline double fl_exp(double x)
{
    const double magic = 6755399441055744.0;  /* 1.5 * 2^52 */
    const int tiny = x < -745.2;                /* result rounds to 0 */
    x = tiny ? 0.0 : x;
    x = x > 710.0 ? 710.0 : x;
    double t, nf, p;
    FL_EXP_CORE(x, t, nf, p);
    int64_t n = fl_f64_to_bits(t) - fl_f64_to_bits(magic);
    int64_t n1 = n >> 1;
    int64_t n2 = n - n1;
    double s1 = fl_bits_to_f64((n1 + 1023) << 52);
    double s2 = fl_bits_to_f64((n2 + 1023) << 52);
    return tiny ? 0.0 : p * s1 * s2;
}

#endif /* FASTLOSS_SIMD_MATH_H */
