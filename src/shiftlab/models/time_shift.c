#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The loops are compiled twice on x86-64, for AVX2 and for the baseline, and the loader picks
   the one this CPU runs (GCC's and Clang's function multi-versioning): the library a cache
   directory holds then runs on any x86-64 machine it is copied to. */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef VECTOR_CLONES
#define VECTOR_CLONES
#endif

/* What one of the two loops below reads: `lines` lines of the tensor's layout. */
typedef struct {
    const char *src; char *dst;
    long lines;
    long T, F, C, S, g, elem;
    int forward;
    const char *aux; /* the fused ReLU's backward: the layer's output */
    long first;      /* the first line this job does (of `lines`); threads split the lines */
} job_t;

/* Per channel c of a C-channel layout, for the forward shift (`forward` = 1) or its adjoint. */
#define MAKE_MASKS(UTYPE, C, S, G, forward, keep, prev, next)                              \
    do {                                                                                   \
        const long take_prev_ = (forward) ? (S) : (S) + (G);                              \
        const long take_next_ = (forward) ? (S) + (G) : (S);                              \
        for (long c = 0; c < (C); ++c) {                                                   \
            const int p_ = c >= take_prev_ && c < take_prev_ + (G);                        \
            const int n_ = c >= take_next_ && c < take_next_ + (G);                        \
            prev[c] = p_ ? (UTYPE)~(UTYPE)0 : 0; next[c] = n_ ? (UTYPE)~(UTYPE)0 : 0;      \
            keep[c] = p_ || n_ ? 0 : (UTYPE)~(UTYPE)0;                                     \
        }                                                                                  \
    } while (0)

/* The same masks repeated for a block of R rows (R × C elements), for loops that run over
   whole blocks of rows at once. */
#define BLOCK_MASKS(UTYPE, C, S, G, forward, R, keep, prev, next)                          \
    for (long r_ = 0; r_ < (R); ++r_)                                                      \
        MAKE_MASKS(UTYPE, C, S, G, forward, ((keep) + r_ * (C)), ((prev) + r_ * (C)),      \
                   ((next) + r_ * (C)))

/* Channels-last: lines of T rows of C elements, one line per (n, f), one row per t. Within a
   row the static channels come first, then the group that takes the previous step, then the
   group that takes the next one; `forward` = 0 swaps the two groups' directions (the adjoint,
   for gradients). Inside a line every output element is one of three inputs: the same place,
   one row back or one row on, chosen per channel; the loop blends the three with bit masks
   laid out for a block of rows, which the compiler turns into vector loads and ands with no
   gather and no branch. The first and last rows, where a group reads nothing, are written
   apart. Typed by element size so that bits move untouched (any dtype). */
#define SHIFT_ROWS(NAME, TYPE)                                                             \
VECTOR_CLONES static void NAME(const job_t *j) {                                           \
    const long C = j->C, S = j->S, G = j->g, T = j->T;                                     \
    const long take_prev = j->forward ? S : S + G, take_next = j->forward ? S + G : S;     \
    const long R = C >= 256 ? 1 : (256 + C - 1) / C, B = R * C; /* rows, elements a block */ \
    TYPE keep[B], prev[B], next[B];                                                        \
    BLOCK_MASKS(TYPE, C, S, G, j->forward, R, keep, prev, next);                           \
    const TYPE *src = (const TYPE *)j->src; TYPE *dst = (TYPE *)j->dst;                    \
    for (long line = j->first; line < j->first + j->lines; ++line) {                  \
        const TYPE *in = src + line * T * C; TYPE *out = dst + line * T * C;               \
        for (long t = 1; t < T - 1;) {                                                     \
            const long rows = T - 1 - t < R ? T - 1 - t : R, n = rows * C;                 \
            const TYPE *i = in + t * C; TYPE *o = out + t * C;                             \
            for (long k = 0; k < n; ++k)                                                   \
                o[k] = (i[k] & keep[k]) | (i[k - C] & prev[k]) | (i[k + C] & next[k]);     \
            t += rows;                                                                     \
        }                                                                                  \
        for (long t = 0; t < T; t += T - 1 > 0 ? T - 1 : 1) { /* the first and last rows */ \
            const TYPE *i = in + t * C; TYPE *o = out + t * C;                             \
            for (long c = 0; c < S; ++c) o[c] = i[c];                                      \
            for (long c = 0; c < G; ++c) {                                                 \
                o[take_prev + c] = t > 0 ? i[take_prev + c - C] : 0;                       \
                o[take_next + c] = t < T - 1 ? i[take_next + c + C] : 0;                   \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
}
SHIFT_ROWS(shift_rows_1, uint8_t)
SHIFT_ROWS(shift_rows_2, uint16_t)
SHIFT_ROWS(shift_rows_4, uint32_t)
SHIFT_ROWS(shift_rows_8, uint64_t)

static void shift_rows(const job_t *j) {
    switch (j->elem) {
        case 1: shift_rows_1(j); return;
        case 2: shift_rows_2(j); return;
        case 4: shift_rows_4(j); return;
        default: shift_rows_8(j); return; /* the caller passes only 1, 2, 4 or 8 */
    }
}

/* Contiguous N×C×F×T: lines of T elements, one per (n, c, f). */
static void shift_lines(const job_t *j) {
    const long E = j->elem, L = j->T * E;
    for (long r = j->first; r < j->first + j->lines; ++r) {
        const long c = (r / j->F) % j->C;
        const char *in = j->src + r * L;
        char *out = j->dst + r * L;
        int take_prev = c >= j->S && c < j->S + j->g;
        if (c < j->S) { memcpy(out, in, L); continue; }
        if (!j->forward) take_prev = !take_prev;
        if (take_prev) { memset(out, 0, E); memcpy(out + E, in, L - E); }
        else { memcpy(out, in + E, L - E); memset(out + L - E, 0, E); }
    }
}

/* ReLU and the shift in one pass (ReLU commutes with the shift: the border's zero is its own
   ReLU), for floating-point element types, on their bits so that the blend above still
   vectorises. NONPOS is all ones where a value is <= 0 and not NaN (ReLU keeps NaN, as torch
   does). BACKWARD = 0: out = relu(shift(src)). BACKWARD = 1: out = the adjoint shift of the
   gradient `src` where the layer's output `aux` (also read through the adjoint shift) is > 0
   or NaN, zero elsewhere: what ReLU's backward followed by the shift's backward give, read
   from the output alone, since an input the shift drops at the border gets no gradient. */
#define F64_ABS 0x7fffffffffffffffull
#define F64_INF 0x7ff0000000000000ull
/* The floating-point types the fused ReLU knows, by their bits: an unsigned type of their
   size, the sign bit, the mask of the magnitude, the bits of +infinity. FLOAT_KINDS makes a
   family's loops for each type, forward (NAME_f32) and backward (NAME_f32_bw). */
#define BOTH_DIRECTIONS(FAMILY, NAME, SUFFIX, TYPE, SIGN, ABS, INF)                        \
    FAMILY(NAME##_##SUFFIX, TYPE, SIGN, ABS, INF, 0)                                       \
    FAMILY(NAME##_##SUFFIX##_bw, TYPE, SIGN, ABS, INF, 1)
#define FLOAT_KINDS(FAMILY, NAME)                                                          \
    BOTH_DIRECTIONS(FAMILY, NAME, f32, uint32_t, 31, 0x7fffffffu, 0x7f800000u)             \
    BOTH_DIRECTIONS(FAMILY, NAME, f64, uint64_t, 63, F64_ABS, F64_INF)                     \
    BOTH_DIRECTIONS(FAMILY, NAME, bf16, uint16_t, 15, 0x7fffu, 0x7f80u)                    \
    BOTH_DIRECTIONS(FAMILY, NAME, f16, uint16_t, 15, 0x7fffu, 0x7c00u)
#define NONPOS(TYPE, v, SIGN, ABS, INF) \
    ((TYPE)0 - (TYPE)(((v) == 0) | ((((v) >> SIGN) & 1) & (((v) & ABS) <= INF))))
#define RELU_SHIFT_ROWS(NAME, TYPE, SIGN, ABS, INF, BACKWARD)                              \
VECTOR_CLONES static void NAME(const job_t *j) {                                           \
    const long C = j->C, S = j->S, G = j->g, T = j->T;                                     \
    const long take_prev = j->forward ? S : S + G, take_next = j->forward ? S + G : S;     \
    const long R = C >= 256 ? 1 : (256 + C - 1) / C, B = R * C;                            \
    TYPE keep[B], prev[B], next[B];                                                        \
    BLOCK_MASKS(TYPE, C, S, G, j->forward, R, keep, prev, next);                           \
    const TYPE *src = (const TYPE *)j->src, *aux = (const TYPE *)j->aux;                   \
    TYPE *dst = (TYPE *)j->dst;                                                            \
    for (long line = j->first; line < j->first + j->lines; ++line) {                       \
        const TYPE *in = src + line * T * C; TYPE *out = dst + line * T * C;               \
        const TYPE *ya = BACKWARD ? aux + line * T * C : in;                               \
        for (long t = 1; t < T - 1;) {                                                     \
            const long rows = T - 1 - t < R ? T - 1 - t : R, n = rows * C;                 \
            const TYPE *i = in + t * C, *y = ya + t * C; TYPE *o = out + t * C;            \
            for (long k = 0; k < n; ++k) {                                                 \
                const TYPE v = (i[k] & keep[k]) | (i[k - C] & prev[k]) | (i[k + C] & next[k]); \
                const TYPE m = BACKWARD                                                    \
                    ? (y[k] & keep[k]) | (y[k - C] & prev[k]) | (y[k + C] & next[k]) : v;  \
                o[k] = v & ~NONPOS(TYPE, m, SIGN, ABS, INF);                               \
            }                                                                              \
            t += rows;                                                                     \
        }                                                                                  \
        for (long t = 0; t < T; t += T - 1 > 0 ? T - 1 : 1) { /* the first and last rows */ \
            const TYPE *i = in + t * C, *y = ya + t * C; TYPE *o = out + t * C;            \
            for (long c = 0; c < C; ++c) {                                                 \
                long from = 0; int inside = 1;                                             \
                if (c >= take_prev && c < take_prev + G) { from = -C; inside = t > 0; }    \
                if (c >= take_next && c < take_next + G) { from = C; inside = t < T - 1; } \
                const TYPE v = inside ? i[c + from] : 0, m = inside ? y[c + from] : 0;     \
                o[c] = v & ~NONPOS(TYPE, m, SIGN, ABS, INF);                               \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
}
FLOAT_KINDS(RELU_SHIFT_ROWS, relu_shift_rows)

/* Contiguous N×C×F×T: lines of T elements, one per (n, c, f); each line reads one step back,
   one on, or in place, and its first or last element is the border's zero. */
#define RELU_SHIFT_LINES(NAME, TYPE, SIGN, ABS, INF, BACKWARD)                             \
VECTOR_CLONES static void NAME(const job_t *j) {                                           \
    const long T = j->T;                                                                   \
    for (long r = j->first; r < j->first + j->lines; ++r) {                                \
        const long c = (r / j->F) % j->C;                                                  \
        const TYPE *in = (const TYPE *)j->src + r * T; TYPE *out = (TYPE *)j->dst + r * T; \
        const TYPE *y = BACKWARD ? (const TYPE *)j->aux + r * T : in;                      \
        int take_prev = c >= j->S && c < j->S + j->g;                                      \
        if (!j->forward && c >= j->S) take_prev = !take_prev;                              \
        const long from = c < j->S ? 0 : take_prev ? -1 : 1;                              \
        const long lo = from < 0 ? 1 : 0, hi = from > 0 ? T - 1 : T;                       \
        if (lo) out[0] = 0;                                                                \
        if (hi < T) out[T - 1] = 0;                                                        \
        for (long t = lo; t < hi; ++t) {                                                   \
            const TYPE v = in[t + from], m = y[t + from];                                  \
            out[t] = v & ~NONPOS(TYPE, m, SIGN, ABS, INF);                                 \
        }                                                                                  \
    }                                                                                      \
}
FLOAT_KINDS(RELU_SHIFT_LINES, relu_shift_lines)

typedef void (*kernel_t)(const job_t *);
/* [kind][layout][backward]: kind 0 float32, 1 float64, 2 bfloat16, 3 float16;
   layout 0 channels-last, 1 contiguous. */
static const kernel_t relu_shift_kernels[4][2][2] = {
    {{relu_shift_rows_f32, relu_shift_rows_f32_bw},
     {relu_shift_lines_f32, relu_shift_lines_f32_bw}},
    {{relu_shift_rows_f64, relu_shift_rows_f64_bw},
     {relu_shift_lines_f64, relu_shift_lines_f64_bw}},
    {{relu_shift_rows_bf16, relu_shift_rows_bf16_bw},
     {relu_shift_lines_bf16, relu_shift_lines_bf16_bw}},
    {{relu_shift_rows_f16, relu_shift_rows_f16_bw},
     {relu_shift_lines_f16, relu_shift_lines_f16_bw}},
};

/* Splits a job's lines between `threads` OpenMP threads. The library is linked against the
   OpenMP runtime by its soname (libgomp.so.1), so in a process that has imported torch it
   runs on torch's own thread pool, whose workers are already awake after torch's last
   parallel operation; threads of its own would compete with them for the cores. The caller
   asks for one thread where the tensor is too small for a parallel region to pay. Built
   without OpenMP, the pragma is ignored and the loop runs on the calling thread. */
static void run_split(kernel_t kernel, const job_t *job, int threads) {
    if (threads > job->lines) threads = (int)job->lines;
    if (threads <= 1) { kernel(job); return; }
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int p = 0; p < threads; ++p) {
        const long base = job->lines / threads, extra = job->lines % threads;
        job_t part = *job;
        part.first = base * p + (p < extra ? p : extra);
        part.lines = base + (p < extra);
        kernel(&part);
    }
}

/* Forward (aux = NULL, backward = 0): out = relu(shift(x)). Backward (backward = 1): x is the
   gradient of the output, aux the output itself, out the gradient of the input. `lines` as
   for the shift of the same layout; F is used by the contiguous layout only. */
void shiftlab_relu_shift(const void *x, const void *aux, void *out, long lines, long C,
                         long F, long T, long S, long g, int kind, int contiguous,
                         int backward, int threads) {
    job_t j = {(const char *)x, (char *)out, lines, T, F, C, S, g, 0, !backward,
               (const char *)aux, 0};
    run_split(relu_shift_kernels[kind][contiguous][backward], &j, threads);
}

/* x, out: channels-last N×C×F×T; `lines` = N*F lines of T rows of C elements of `elem` bytes. */
void shiftlab_shift_channels_last(const void *x, void *out, long lines, long T, long C,
                                  long S, long g, long elem, int forward, int threads) {
    job_t j = {(const char *)x, (char *)out, lines, T, 1, C, S, g, elem, forward, NULL, 0};
    run_split(shift_rows, &j, threads);
}

/* x, out: contiguous N×C×F×T; `lines` = N*C*F lines of T elements of `elem` bytes. */
void shiftlab_shift_contiguous(const void *x, void *out, long lines, long C, long F, long T,
                               long S, long g, long elem, int forward, int threads) {
    job_t j = {(const char *)x, (char *)out, lines, T, F, C, S, g, elem, forward, NULL, 0};
    run_split(shift_lines, &j, threads);
}

/* ---- The shift fused into the U-Net's pooling and its upsampling + concatenation ----------

   Channels-last, float32 and float64. Both ops already read their inputs and write a new
   tensor; writing that tensor shifted costs the same pass and saves the shift's own pass,
   forward and backward. Every output row is a blend of three source rows (the same time
   step, one back, one on) with per-channel bit masks, as above; a row outside the tensor is
   read from a row of zeros, which gives the zero border. */

enum { MAX_ROW = 4096 };
static const uint64_t zero_row[MAX_ROW] = {0};

/* Row t of a line of T rows of `stride` elements: the row itself and its neighbours in time,
   a row of zeros where a neighbour is outside the line. */
#define NEIGHBOURS(UTYPE, line, t, T, stride, cur, before, after)                          \
    const UTYPE *cur = (line) + (t) * (stride);                                            \
    const UTYPE *before = (t) > 0 ? cur - (stride) : (const UTYPE *)zero_row;              \
    const UTYPE *after = (t) < (T) - 1 ? cur + (stride) : (const UTYPE *)zero_row

#define BLEND(cur, before, after, k, m)                                                    \
    (((cur)[k] & keep[(m)]) | ((before)[k] & prev[(m)]) | ((after)[k] & next[(m)]))

#define FUSED_OPS(SUFFIX, UTYPE, FTYPE)                                                    \
static inline FTYPE as_float_##SUFFIX(UTYPE bits) { FTYPE v; memcpy(&v, &bits, sizeof v); \
    return v; }                                                                            \
static inline UTYPE as_bits_##SUFFIX(FTYPE v) { UTYPE b; memcpy(&b, &v, sizeof b);         \
    return b; }                                                                            \
/* max_pool2d((2, 1)) over frequency, then the shift: x N×F×T×C (channels-last memory),     \
   out N×(F/2)×T×C. The larger of the two rows wins, the first on a tie, NaN over a number, \
   as torch's pooling decides. Rows 1 to T-2 of a line run as one flat loop over blocks of  \
   R rows (masks laid out for a block, as in the shift above); the first and last rows read \
   the row of zeros. */                                                                    \
VECTOR_CLONES void shiftlab_pool_shift_##SUFFIX(const UTYPE *x, UTYPE *out, long N, long F, \
        long T, long C, long S, long G, int threads) {                                     \
    const long R = C >= 256 ? 1 : (256 + C - 1) / C, B = R * C;                            \
    UTYPE keep[B], prev[B], next[B];                                                       \
    BLOCK_MASKS(UTYPE, C, S, G, 1, R, keep, prev, next);                                   \
    const long Fo = F / 2;                                                                 \
    _Pragma("omp parallel for num_threads(threads) schedule(static)")                      \
    for (long line = 0; line < N * Fo; ++line) {                                           \
        const long n = line / Fo, f = line % Fo;                                           \
        const UTYPE *upper = x + ((n * F + 2 * f) * T) * C, *lower = upper + T * C;        \
        UTYPE *o = out + line * T * C;                                                     \
        for (long t = 1; t < T - 1;) {                                                     \
            const long rows = T - 1 - t < R ? T - 1 - t : R, count = rows * C;             \
            const UTYPE *u = upper + t * C, *l = lower + t * C; UTYPE *ot = o + t * C;     \
            for (long k = 0; k < count; ++k) {                                             \
                const FTYPE a = as_float_##SUFFIX(BLEND(u, u - C, u + C, k, k));           \
                const FTYPE b = as_float_##SUFFIX(BLEND(l, l - C, l + C, k, k));           \
                ot[k] = as_bits_##SUFFIX(b > a || b != b ? b : a);                         \
            }                                                                              \
            t += rows;                                                                     \
        }                                                                                  \
        for (long t = 0; t < T; t += T - 1 > 0 ? T - 1 : 1) {                              \
            NEIGHBOURS(UTYPE, upper, t, T, C, u, ub, ua);                                  \
            NEIGHBOURS(UTYPE, lower, t, T, C, l, lb, la);                                  \
            for (long c = 0; c < C; ++c) {                                                 \
                const FTYPE a = as_float_##SUFFIX(BLEND(u, ub, ua, c, c));                 \
                const FTYPE b = as_float_##SUFFIX(BLEND(l, lb, la, c, c));                 \
                o[t * C + c] = as_bits_##SUFFIX(b > a || b != b ? b : a);                  \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
}                                                                                          \
/* Its backward: the output's gradient `grad` (N×(F/2)×T×C) goes, shifted back, to whichever \
   of the two input rows won (x, N×F×T×C, decides again); the other gets zero. */          \
VECTOR_CLONES void shiftlab_pool_shift_backward_##SUFFIX(const UTYPE *grad, const UTYPE *x, \
        UTYPE *gx, long N, long F, long T, long C, long S, long G, int threads) {          \
    const long R = C >= 256 ? 1 : (256 + C - 1) / C, B = R * C;                            \
    UTYPE keep[B], prev[B], next[B];                                                       \
    BLOCK_MASKS(UTYPE, C, S, G, 0, R, keep, prev, next);                                   \
    const long Fo = F / 2;                                                                 \
    _Pragma("omp parallel for num_threads(threads) schedule(static)")                      \
    for (long line = 0; line < N * Fo; ++line) {                                           \
        const long n = line / Fo, f = line % Fo;                                           \
        const long top = ((n * F + 2 * f) * T) * C;                                        \
        const UTYPE *gline = grad + line * T * C;                                          \
        for (long t = 1; t < T - 1;) {                                                     \
            const long rows = T - 1 - t < R ? T - 1 - t : R, count = rows * C;             \
            const UTYPE *g = gline + t * C, *xu = x + top + t * C, *xl = xu + T * C;       \
            UTYPE *ou = gx + top + t * C, *ol = ou + T * C;                                \
            for (long k = 0; k < count; ++k) {                                             \
                const UTYPE v = BLEND(g, g - C, g + C, k, k);                              \
                const FTYPE a = as_float_##SUFFIX(xu[k]), b = as_float_##SUFFIX(xl[k]);    \
                const UTYPE second = (UTYPE)0 - (UTYPE)(b > a || b != b);                  \
                ou[k] = v & ~second; ol[k] = v & second;                                   \
            }                                                                              \
            t += rows;                                                                     \
        }                                                                                  \
        for (long t = 0; t < T; t += T - 1 > 0 ? T - 1 : 1) {                              \
            NEIGHBOURS(UTYPE, gline, t, T, C, g, gb, ga);                                  \
            const UTYPE *xu = x + top + t * C, *xl = xu + T * C;                           \
            UTYPE *ou = gx + top + t * C, *ol = ou + T * C;                                \
            for (long c = 0; c < C; ++c) {                                                 \
                const UTYPE v = BLEND(g, gb, ga, c, c);                                    \
                const FTYPE a = as_float_##SUFFIX(xu[c]), b = as_float_##SUFFIX(xl[c]);    \
                const UTYPE second = (UTYPE)0 - (UTYPE)(b > a || b != b);                  \
                ou[c] = v & ~second; ol[c] = v & second;                                   \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
}                                                                                          \
/* Nearest upsampling (2, 1) of `low` (N×(F/2)×T×Ca), concatenated on channels with `skip`  \
   (N×F×T×Cb), then the shift of the Ca + Cb channels: out N×F×T×(Ca+Cb). Pure data         \
   movement. */                                                                            \
VECTOR_CLONES void shiftlab_upcat_shift_##SUFFIX(const UTYPE *low, const UTYPE *skip,      \
        UTYPE *out, long N, long F, long T, long Ca, long Cb, long S, long G, int threads) { \
    const long C = Ca + Cb;                                                                \
    UTYPE keep[C], prev[C], next[C];                                                       \
    MAKE_MASKS(UTYPE, C, S, G, 1, keep, prev, next);                                       \
    _Pragma("omp parallel for num_threads(threads) schedule(static)")                      \
    for (long line = 0; line < N * F; ++line) {                                            \
        const long n = line / F, f = line % F;                                             \
        const UTYPE *aline = low + ((n * (F / 2) + f / 2) * T) * Ca;                       \
        const UTYPE *bline = skip + line * T * Cb;                                         \
        UTYPE *o = out + line * T * C;                                                     \
        for (long t = 0; t < T; ++t) {                                                     \
            NEIGHBOURS(UTYPE, aline, t, T, Ca, a, ab, aa);                                 \
            NEIGHBOURS(UTYPE, bline, t, T, Cb, b, bb, ba);                                 \
            UTYPE *row = o + t * C;                                                        \
            for (long c = 0; c < Ca; ++c) row[c] = BLEND(a, ab, aa, c, c);                 \
            for (long c = 0; c < Cb; ++c) row[Ca + c] = BLEND(b, bb, ba, c, Ca + c);       \
        }                                                                                  \
    }                                                                                      \
}                                                                                          \
/* Its backward: the output's gradient `grad` (N×F×T×(Ca+Cb)), shifted back, split: the     \
   skip's part as it is, the low-resolution part summed over each pair of rows. */         \
VECTOR_CLONES void shiftlab_upcat_shift_backward_##SUFFIX(const UTYPE *grad, UTYPE *glow,  \
        UTYPE *gskip, long N, long F, long T, long Ca, long Cb, long S, long G,            \
        int threads) {                                                                     \
    const long C = Ca + Cb, Fl = F / 2;                                                    \
    UTYPE keep[C], prev[C], next[C];                                                       \
    MAKE_MASKS(UTYPE, C, S, G, 0, keep, prev, next);                                       \
    _Pragma("omp parallel for num_threads(threads) schedule(static)")                      \
    for (long line = 0; line < N * Fl; ++line) {                                           \
        const long n = line / Fl, f = line % Fl;                                           \
        const UTYPE *upper = grad + ((n * F + 2 * f) * T) * C, *lower = upper + T * C;     \
        UTYPE *gl = glow + line * T * Ca;                                                  \
        UTYPE *gs_upper = gskip + ((n * F + 2 * f) * T) * Cb, *gs_lower = gs_upper + T * Cb; \
        for (long t = 0; t < T; ++t) {                                                     \
            NEIGHBOURS(UTYPE, upper, t, T, C, u, ub, ua);                                  \
            NEIGHBOURS(UTYPE, lower, t, T, C, l, lb, la);                                  \
            for (long c = 0; c < Ca; ++c)                                                  \
                gl[t * Ca + c] = as_bits_##SUFFIX(as_float_##SUFFIX(BLEND(u, ub, ua, c, c)) \
                    + as_float_##SUFFIX(BLEND(l, lb, la, c, c)));                          \
            for (long c = Ca; c < C; ++c) {                                                \
                gs_upper[t * Cb + c - Ca] = BLEND(u, ub, ua, c, c);                        \
                gs_lower[t * Cb + c - Ca] = BLEND(l, lb, la, c, c);                        \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
}
FUSED_OPS(f32, uint32_t, float)
FUSED_OPS(f64, uint64_t, double)
