/* Instantiate the templated part of the header named by FL_TEMPLATE twice:
 * for float32 (FL_BITS 32) and float64 (FL_BITS 64); vec.h says which names
 * follow FL_BITS.  A family header ends its own definitions with
 *
 *     #define FL_TEMPLATE "hinge.h"
 *     #include "template.h"
 *
 * and keeps its templated part in an #else branch of `#ifndef FL_BITS`.
 * No include guard: it is included once per family header. */
#define FL_BITS 32
#include FL_TEMPLATE
#undef FL_BITS
#define FL_BITS 64
#include FL_TEMPLATE
#undef FL_BITS
#undef FL_TEMPLATE
