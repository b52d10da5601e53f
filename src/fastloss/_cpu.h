/* Run-time CPU feature checks used to pick a kernel build at import.
 *
 * The kernels are compiled several times (baseline x86-64, x86-64-v3 = AVX2+FMA,
 * x86-64-v4 = AVX-512); _dispatch.py loads the best one this CPU (and OS) supports.
 * GCC's and Clang's __builtin_cpu_supports read CPUID and check that the OS saves
 * the wide registers (XGETBV), so a "yes" here means the instructions really run.
 */
#ifndef FASTLOSS_CPU_H
#define FASTLOSS_CPU_H

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))

static int fl_cpu_has_x86_64_v3(void) {
    __builtin_cpu_init();
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
    return __builtin_cpu_supports("x86-64-v3");
#else
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
           __builtin_cpu_supports("f16c");
#endif
}

static int fl_cpu_has_x86_64_v4(void) {
    __builtin_cpu_init();
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
    return __builtin_cpu_supports("x86-64-v4");
#else
    return fl_cpu_has_x86_64_v3() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd");
#endif
}

#else
static int fl_cpu_has_x86_64_v3(void) { return 0; }
static int fl_cpu_has_x86_64_v4(void) { return 0; }
#endif

#endif /* FASTLOSS_CPU_H */
