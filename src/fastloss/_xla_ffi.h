/* The part of XLA's FFI C API that fastloss's XLA handlers use (kernels/xla.pxi).
 *
 * XLA calls a typed-FFI handler (`jax.ffi.ffi_call`, api_version 1 of
 * `jax.ffi.register_ffi_target`) with one XLA_FFI_CallFrame: its argument and
 * result buffers, its attributes and the API table.  The structures below have
 * the layouts of XLA's C API (xla/ffi/api/c_api.h, FFI API version 0.x, which
 * jaxlib ships under jax.ffi.include_dir()), a C ABI that XLA keeps stable
 * within a major version: every structure starts with its size, and only the
 * leading fields a handler reads are declared here.  Every structure XLA hands
 * over is checked to be at least that large.  tests/test_jax_functional.py
 * compiles this header together with jaxlib's c_api.h and checks every offset.
 *
 * Declared here rather than included so that fastloss builds without JAX.
 */
#ifndef FASTLOSS_XLA_FFI_H
#define FASTLOSS_XLA_FFI_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The API version the handlers declare: the major version of the layouts below,
 * and the oldest minor version that has every field they read. */
#define FL_XLA_API_MAJOR 0
#define FL_XLA_API_MINOR 1

typedef struct FL_XLA_Extension_Base {
    size_t struct_size;
    int type;                               /* XLA_FFI_Extension_Type */
    struct FL_XLA_Extension_Base *next;
} FL_XLA_Extension_Base;

enum { FL_XLA_EXTENSION_METADATA = 1 };

typedef struct {
    size_t struct_size;
    FL_XLA_Extension_Base *extension_start;
    int major_version;
    int minor_version;
} FL_XLA_Api_Version;

typedef struct FL_XLA_Error FL_XLA_Error;   /* opaque: made by the API's Error_Create */

typedef struct {
    size_t struct_size;
    FL_XLA_Extension_Base *extension_start;
    const char *message;
    int errc;                               /* XLA_FFI_Error_Code */
} FL_XLA_Error_Create_Args;

enum { FL_XLA_ERROR_INVALID_ARGUMENT = 3, FL_XLA_ERROR_RESOURCE_EXHAUSTED = 8 };

typedef FL_XLA_Error *FL_XLA_Error_Create(FL_XLA_Error_Create_Args *args);

/* The API table: only its first function, Error_Create, is used. */
typedef struct {
    size_t struct_size;
    FL_XLA_Extension_Base *extension_start;
    FL_XLA_Api_Version api_version;
    const void *internal_api;
    FL_XLA_Error_Create *Error_Create;
} FL_XLA_Api;

/* XLA_FFI_DataType values */
enum {
    FL_XLA_PRED = 1, FL_XLA_S8 = 2, FL_XLA_S16 = 3, FL_XLA_S32 = 4, FL_XLA_S64 = 5,
    FL_XLA_U8 = 6, FL_XLA_U16 = 7, FL_XLA_U32 = 8, FL_XLA_U64 = 9,
    FL_XLA_F16 = 10, FL_XLA_F32 = 11, FL_XLA_F64 = 12, FL_XLA_BF16 = 16,
};

typedef struct {
    size_t struct_size;
    FL_XLA_Extension_Base *extension_start;
    int dtype;                              /* XLA_FFI_DataType */
    void *data;
    int64_t rank;
    int64_t *dims;
} FL_XLA_Buffer;

typedef struct {
    const char *ptr;
    size_t len;
} FL_XLA_ByteSpan;

typedef struct {
    int dtype;
    void *value;
} FL_XLA_Scalar;

enum { FL_XLA_ARG_BUFFER = 1, FL_XLA_ATTR_SCALAR = 3 };

typedef struct {
    size_t struct_size;
    FL_XLA_Extension_Base *extension_start;
    int64_t size;
    int *types;                             /* XLA_FFI_ArgType / RetType */
    void **items;                           /* FL_XLA_Buffer* each */
} FL_XLA_Buffers;

typedef struct {
    size_t struct_size;
    FL_XLA_Extension_Base *extension_start;
    int64_t size;
    int *types;                             /* XLA_FFI_AttrType */
    FL_XLA_ByteSpan **names;
    void **attrs;
} FL_XLA_Attrs;

enum { FL_XLA_STAGE_EXECUTE = 3 };

typedef struct {
    size_t struct_size;
    FL_XLA_Extension_Base *extension_start;
    const FL_XLA_Api *api;
    void *ctx;
    int stage;                              /* XLA_FFI_ExecutionStage */
    FL_XLA_Buffers args;
    FL_XLA_Buffers rets;
    FL_XLA_Attrs attrs;
} FL_XLA_CallFrame;

typedef struct {
    size_t struct_size;
    FL_XLA_Api_Version api_version;
    uint32_t traits;                        /* XLA_FFI_Handler_Traits */
} FL_XLA_Metadata;

typedef struct {
    FL_XLA_Extension_Base extension_base;
    FL_XLA_Metadata *metadata;
} FL_XLA_Metadata_Extension;

/* The sizes up to the last field read, as XLA_FFI_STRUCT_SIZE computes them. */
#define FL_XLA_END(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))
#define FL_XLA_CALL_FRAME_SIZE FL_XLA_END(FL_XLA_CallFrame, attrs)
#define FL_XLA_BUFFER_SIZE FL_XLA_END(FL_XLA_Buffer, dims)
#define FL_XLA_METADATA_SIZE FL_XLA_END(FL_XLA_Metadata, traits)
#define FL_XLA_METADATA_EXTENSION_SIZE FL_XLA_END(FL_XLA_Metadata_Extension, metadata)
#define FL_XLA_API_VERSION_SIZE FL_XLA_END(FL_XLA_Api_Version, minor_version)
#define FL_XLA_ERROR_CREATE_ARGS_SIZE FL_XLA_END(FL_XLA_Error_Create_Args, errc)

/* An error for XLA to raise, with a printf-style message. */
static FL_XLA_Error *fl_xla_error(const FL_XLA_CallFrame *frame, int code, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    FL_XLA_Error_Create_Args args;
    memset(&args, 0, sizeof args);
    args.struct_size = FL_XLA_ERROR_CREATE_ARGS_SIZE;
    args.message = message;                 /* copied by Error_Create */
    args.errc = code;
    return frame->api->Error_Create(&args);
}

/* What every handler does first.  Returns 1 when the call is not one to compute:
 * a metadata query (answered: API version, no traits), or a stage other than
 * execute; *err is then what to return.  0: go on. */
static int fl_xla_preamble(FL_XLA_CallFrame *frame, FL_XLA_Error **err)
{
    *err = NULL;
    FL_XLA_Extension_Base *ext = frame->extension_start;
    if (ext != NULL && ext->type == FL_XLA_EXTENSION_METADATA) {
        FL_XLA_Metadata_Extension *m = (FL_XLA_Metadata_Extension *)ext;
        if (ext->struct_size < FL_XLA_METADATA_EXTENSION_SIZE ||
            m->metadata->struct_size < FL_XLA_METADATA_SIZE) {
            *err = fl_xla_error(frame, FL_XLA_ERROR_INVALID_ARGUMENT,
                                "fastloss: XLA metadata query of an unexpected size");
            return 1;
        }
        m->metadata->api_version.struct_size = FL_XLA_API_VERSION_SIZE;
        m->metadata->api_version.extension_start = NULL;
        m->metadata->api_version.major_version = FL_XLA_API_MAJOR;
        m->metadata->api_version.minor_version = FL_XLA_API_MINOR;
        m->metadata->traits = 0;
        return 1;
    }
    if (frame->struct_size < FL_XLA_CALL_FRAME_SIZE) {
        *err = fl_xla_error(frame, FL_XLA_ERROR_INVALID_ARGUMENT,
                            "fastloss: XLA call frame of %zu bytes, expected at least %zu: "
                            "this jaxlib is older than fastloss's handlers support",
                            frame->struct_size, (size_t)FL_XLA_CALL_FRAME_SIZE);
        return 1;
    }
    return frame->stage != FL_XLA_STAGE_EXECUTE;
}

/* Buffer i of the arguments (rets = 0) or results (rets = 1), NULL if there is none. */
static FL_XLA_Buffer *fl_xla_buffer(const FL_XLA_CallFrame *frame, int rets, int64_t i)
{
    const FL_XLA_Buffers *b = rets ? &frame->rets : &frame->args;
    if (i < 0 || i >= b->size || b->types[i] != FL_XLA_ARG_BUFFER) return NULL;
    FL_XLA_Buffer *buf = (FL_XLA_Buffer *)b->items[i];
    return buf->struct_size >= FL_XLA_BUFFER_SIZE ? buf : NULL;
}

/* The scalar attribute `name`, or NULL. */
static const FL_XLA_Scalar *fl_xla_scalar(const FL_XLA_CallFrame *frame, const char *name)
{
    const FL_XLA_Attrs *a = &frame->attrs;
    const size_t len = strlen(name);
    for (int64_t i = 0; i < a->size; i++) {
        const FL_XLA_ByteSpan *s = a->names[i];
        if (a->types[i] == FL_XLA_ATTR_SCALAR && s->len == len && memcmp(s->ptr, name, len) == 0)
            return (const FL_XLA_Scalar *)a->attrs[i];
    }
    return NULL;
}

/* The scalar attribute `name` as a double: 1 if found (and numeric), else 0. */
static int fl_xla_attr(const FL_XLA_CallFrame *frame, const char *name, double *value)
{
    const FL_XLA_Scalar *x = fl_xla_scalar(frame, name);
    if (x == NULL) return 0;
    switch (x->dtype) {
    case FL_XLA_PRED: *value = *(const uint8_t *)x->value != 0; return 1;
    case FL_XLA_S8: *value = *(const int8_t *)x->value; return 1;
    case FL_XLA_S16: *value = *(const int16_t *)x->value; return 1;
    case FL_XLA_S32: *value = *(const int32_t *)x->value; return 1;
    case FL_XLA_S64: *value = (double)*(const int64_t *)x->value; return 1;
    case FL_XLA_U8: *value = *(const uint8_t *)x->value; return 1;
    case FL_XLA_U16: *value = *(const uint16_t *)x->value; return 1;
    case FL_XLA_U32: *value = *(const uint32_t *)x->value; return 1;
    case FL_XLA_U64: *value = (double)*(const uint64_t *)x->value; return 1;
    case FL_XLA_F32: *value = *(const float *)x->value; return 1;
    case FL_XLA_F64: *value = *(const double *)x->value; return 1;
    default: return 0;
    }
}

/* The integer scalar attribute `name` exactly (1 if found as an integer, else 0). */
static int fl_xla_attr_int(const FL_XLA_CallFrame *frame, const char *name, int64_t *value)
{
    const FL_XLA_Scalar *x = fl_xla_scalar(frame, name);
    if (x == NULL) return 0;
    switch (x->dtype) {
    case FL_XLA_S32: *value = *(const int32_t *)x->value; return 1;
    case FL_XLA_S64: *value = *(const int64_t *)x->value; return 1;
    default: return 0;
    }
}

#endif /* FASTLOSS_XLA_FFI_H */
