#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* TSConv's time shift and its (3, 1) convolution in one operator, float32, channels-last
   (N×F×T×C in memory), with its backward: the convolution reads each shifted channel from
   the step before or after, so the shifted tensor is never written, forward or backward.

   Channel layout (the spec's canonical one): static channels [0, S), the group that takes
   the previous time step [S, S+G), the group that takes the next one [S+G, C). Borders are
   zeros. Weights are passed in the layout each loop reads as vectors:
     forward:        w[k][c][o]   (3 × Ci × Co), vectors over output channels o
     input gradient: w[k][o][c]   (3 × Co × Ci), vectors over input channels c
     weight gradient written as gw[k][o][c] (3 × Co × Ci), the bias gradient gb[o].
   Ci and Co are multiples of 16 (the caller checks). Each loop keeps a tile of accumulators in
   registers: the forward and input-gradient loops a few time steps of one or two lines by one
   to four vectors of channels, the weight-gradient loop three taps by eight outputs of one
   vector of input channels (from a buffer of shifted rows). The fixed-count loops over a tile
   are unrolled (UNROLL), so its accumulators stay in registers. The library is built for
   the CPU it runs on (-march=native, cached per CPU): with AVX-512, 16-lane vectors and 32
   registers, otherwise 8-lane vectors and 16 registers; the tile sizes below follow.

   Threads: the caller passes torch's intra-op count; the OpenMP runtime this library links
   by soname is the one torch loaded (see time_shift.c). Sums are taken in a fixed order for a
   given thread count, so results repeat run to run. */

#ifdef __AVX512F__
#define LANES 16
#define REGS 32
#else
#define LANES 8
#define REGS 16
#endif
typedef float vf __attribute__((vector_size(LANES * 4)));
typedef int vi __attribute__((vector_size(LANES * 4)));
/* the same vector at any float's address (unaligned loads and stores) */
typedef float vfu __attribute__((vector_size(LANES * 4), aligned(4), may_alias));
#define LOAD(p) ((vf)(*(const vfu *)(p)))
#define STORE(p, v) (*(vfu *)(p) = (v))
#define ZERO ((vf){0})
#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 64")
#define MAX_TILE 32 /* accumulators a tile may hold (the arrays below; registers in practice) */

/* The time offset a channel reads in the forward shift: 0, -1 (previous step) or +1. */
INLINE long shift_of(long c, long S, long G) { return c < S ? 0 : (c < S + G ? -1 : 1); }

/* Vectors of channels a tile holds side by side: 4, 2 or 1, as many as divide the count. */
static int blocks_for(long channels) {
    const int most = REGS >= 32 ? 4 : 2;
    for (int nj = most; nj > 1; nj /= 2)
        if (channels % (nj * LANES) == 0) return nj;
    return 1;
}

/* ---------------------------------------------------------------- forward */

/* Adds one input row's share into a tile of L output lines (L = 1 or 2): line l reads the
   row with tap k = d - l, through the weights wa (line 0) and wb (line 1); UA and UB say which
   lines take part (compile-time, so the loops carry no test). Two lines side by side use each
   input value twice per load: at 16 and 32 channels a single line's tile loads about one
   value per multiply-add and waits on the loads. */
INLINE void forward_row(vf *acc, const float *xl, const float *wa, const float *wb, long t0,
                        long tb, int inner, long T, long Ci, long Co, long S, long G,
                        const int UA, const int UB, const int NJ, const int TB) {
    vf *acc_b = acc + TB * NJ;
    if (inner) {
        /* the three channel groups, each reading its own step: no test per channel */
        for (int group = 0; group < 3; ++group) {
            const long c0 = group == 0 ? 0 : (group == 1 ? S : S + G);
            const long c1 = group == 0 ? S : (group == 1 ? S + G : Ci);
            const long s = group == 0 ? 0 : (group == 1 ? -1 : 1);
            const float *xt = xl + (t0 + s) * Ci;
            for (long c = c0; c < c1; ++c) {
                vf va[4] = {ZERO}, vb[4] = {ZERO}; /* set and read only for the lines taking part */
                UNROLL for (int q = 0; q < NJ; ++q) {
                    if (UA) va[q] = LOAD(wa + c * Co + q * LANES);
                    if (UB) vb[q] = LOAD(wb + c * Co + q * LANES);
                }
                UNROLL for (int p = 0; p < TB; ++p) {
                    const float v = xt[p * Ci + c];
                    UNROLL for (int q = 0; q < NJ; ++q) {
                        if (UA) acc[p * NJ + q] += v * va[q];
                        if (UB) acc_b[p * NJ + q] += v * vb[q];
                    }
                }
            }
        }
        return;
    }
    for (long c = 0; c < Ci; ++c) {
        vf va[4] = {ZERO}, vb[4] = {ZERO}; /* set and read only for the lines taking part */
        UNROLL for (int q = 0; q < NJ; ++q) {
            if (UA) va[q] = LOAD(wa + c * Co + q * LANES);
            if (UB) vb[q] = LOAD(wb + c * Co + q * LANES);
        }
        const long s = shift_of(c, S, G);
        UNROLL for (int p = 0; p < TB; ++p) {
            const long ts = t0 + p + s;
            if (p >= tb || ts < 0 || ts >= T) continue;
            const float v = xl[ts * Ci + c];
            UNROLL for (int q = 0; q < NJ; ++q) {
                if (UA) acc[p * NJ + q] += v * va[q];
                if (UB) acc_b[p * NJ + q] += v * vb[q];
            }
        }
    }
}

/* y[n,f+l,t,o] = b[o] + sum_k sum_c w[k][c][o] * x[n, f+l+k-1, t+shift(c), c] for L lines
   (l < L, all inside the image), output channels [j, j + NJ·LANES), TB steps a tile. */
INLINE void forward_lines(const float *x, const float *w, const float *b, float *y, long n,
                          long f, long F, long T, long Ci, long Co, long S, long G, long j,
                          const int L, const int NJ, const int TB) {
    for (long t0 = 0; t0 < T; t0 += TB) {
        const long tb = T - t0 < TB ? T - t0 : TB;
        const int inner = tb == TB && t0 >= 1 && t0 + TB < T;
        vf acc[MAX_TILE];
        UNROLL for (int p = 0; p < L * TB; ++p)
            UNROLL for (int q = 0; q < NJ; ++q) acc[p * NJ + q] = LOAD(b + j + q * LANES);
        /* input rows f-1 .. f+L; line l reads row f-1+d with tap d - l */
        for (long d = 0; d < L + 2; ++d) {
            const long r = f - 1 + d;
            if (r < 0 || r >= F) continue;
            const float *xl = x + (n * F + r) * T * Ci;
            const float *wa = w + (d < 3 ? d : 0) * Ci * Co + j;
            const float *wb = w + (d >= 1 ? d - 1 : 0) * Ci * Co + j;
            if (L == 1 || d == 0)
                forward_row(acc, xl, wa, wb, t0, tb, inner, T, Ci, Co, S, G, 1, 0, NJ, TB);
            else if (d == L + 1)
                forward_row(acc, xl, wa, wb, t0, tb, inner, T, Ci, Co, S, G, 0, 1, NJ, TB);
            else
                forward_row(acc, xl, wa, wb, t0, tb, inner, T, Ci, Co, S, G, 1, 1, NJ, TB);
        }
        UNROLL for (int l = 0; l < L; ++l) {
            float *yl = y + ((n * F + f + l) * T + t0) * Co + j;
            UNROLL for (int p = 0; p < TB; ++p)
                if (p < tb)
                    UNROLL for (int q = 0; q < NJ; ++q)
                        STORE(yl + p * Co + q * LANES, acc[(l * TB + p) * NJ + q]);
        }
    }
}

/* Lines a tile holds (two where their loads limit it and the registers allow) and its steps */
#define TILE_LINES(NJ) (REGS >= 32 && (NJ) <= 2 ? 2 : 1)
#define FORWARD_TILE(NJ) (REGS >= 32 ? 12 / (NJ) : 8 / (NJ))
#define FORWARD_FOR(NJ)                                                                    \
    static void forward_##NJ(const float *x, const float *w, const float *b, float *y, long n, \
                             long f, long F, long T, long Ci, long Co, long S, long G) {   \
        for (long j = 0; j < Co; j += NJ * LANES) {                                        \
            if (TILE_LINES(NJ) == 2 && f + 1 < F)                                          \
                forward_lines(x, w, b, y, n, f, F, T, Ci, Co, S, G, j, 2, NJ,              \
                              FORWARD_TILE(NJ));                                           \
            else                                                                           \
                forward_lines(x, w, b, y, n, f, F, T, Ci, Co, S, G, j, 1, NJ,              \
                              FORWARD_TILE(NJ));                                           \
        }                                                                                  \
    }
FORWARD_FOR(1)
FORWARD_FOR(2)
FORWARD_FOR(4)

/* The parallel loop's unit: TILE_LINES(nj) lines of one image (the last may be alone). */
static int lines_a_unit(int nj) {
    return nj == 4 ? TILE_LINES(4) : (nj == 2 ? TILE_LINES(2) : TILE_LINES(1));
}

void shiftlab_tsconv_forward(const float *x, const float *w, const float *b, float *y, long N,
                             long F, long T, long Ci, long Co, long S, long G, int threads) {
    const int nj = blocks_for(Co);
    const long per = lines_a_unit(nj), units = (F + per - 1) / per;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (long unit = 0; unit < N * units; ++unit) {
        const long n = unit / units, f = unit % units * per;
        if (nj == 4) forward_4(x, w, b, y, n, f, F, T, Ci, Co, S, G);
        else if (nj == 2) forward_2(x, w, b, y, n, f, F, T, Ci, Co, S, G);
        else forward_1(x, w, b, y, n, f, F, T, Ci, Co, S, G);
    }
}

/* ---------------------------------------------------------------- input gradient */

/* Adds one row of gy into a tile of L lines of gs (the gradient of the shifted input, see
   below): line l takes the row with tap k = l + 2 - d, through wa (line 0) and wb (line 1),
   UA and UB saying which lines take part (compile-time), as forward_row does. */
INLINE void grad_input_row(vf *acc, const float *gl, const float *wa, const float *wb,
                           long tb, long Ci, long Co, const int UA, const int UB, const int NJ,
                           const int TB, const int FULL) {
    vf *acc_b = acc + TB * NJ;
    for (long o = 0; o < Co; ++o) {
        vf va[4] = {ZERO}, vb[4] = {ZERO}; /* set and read only for the lines taking part */
        UNROLL for (int q = 0; q < NJ; ++q) {
            if (UA) va[q] = LOAD(wa + o * Ci + q * LANES);
            if (UB) vb[q] = LOAD(wb + o * Ci + q * LANES);
        }
        UNROLL for (int p = 0; p < TB; ++p) {
            if (!FULL && p >= tb) continue;
            const float v = gl[p * Co + o];
            UNROLL for (int q = 0; q < NJ; ++q) {
                if (UA) acc[p * NJ + q] += v * va[q];
                if (UB) acc_b[p * NJ + q] += v * vb[q];
            }
        }
    }
}

/* The convolution's transpose gives the gradient of the shifted input, gs[n,f,t,c] =
   sum_k sum_o w[k][c][o] * gy[n, f+1-k, t, o]; the shift's adjoint then reads each channel
   from the other side: gx[t,c] = gs[t - shift(c), c], zero outside [0, T). The loop computes
   gs for L lines (all inside the image) a tile of steps at a time, keeps each line's last two
   steps of the tile before, and writes each output step as a blend, by lane, of gs at that
   step and its two neighbours. */
INLINE void grad_input_lines(const float *gy, const float *wt, float *gx, long n, long f,
                             long F, long T, long Ci, long Co, long S, long G, long j,
                             const int L, const int NJ, const int TB) {
    vi keep[4], from_next[4], from_prev[4]; /* lanes of gs[t], gs[t+1], gs[t-1] */
    UNROLL for (int q = 0; q < NJ; ++q) {
        keep[q] = from_next[q] = from_prev[q] = (vi){0};
        for (int l = 0; l < LANES; ++l) {
            const long s = shift_of(j + q * LANES + l, S, G);
            keep[q][l] = s == 0 ? -1 : 0;
            from_next[q][l] = s == -1 ? -1 : 0;
            from_prev[q][l] = s == 1 ? -1 : 0;
        }
    }
    vf before[2][2][4]; /* per line, gs at t0-2 and t0-1 */
    UNROLL for (int l = 0; l < L; ++l)
        UNROLL for (int q = 0; q < NJ; ++q) before[l][0][q] = before[l][1][q] = ZERO;
#define BLEND_OUT(out, u, PREV, HERE, NEXT)                                                \
    UNROLL for (int q = 0; q < NJ; ++q)                                                    \
        STORE((out) + (u) * Ci + q * LANES,                                                \
              (vf)(((vi)(HERE)[q] & keep[q]) | ((vi)(NEXT)[q] & from_next[q]) |            \
                   ((vi)(PREV)[q] & from_prev[q])))
    for (long t0 = 0; t0 < T; t0 += TB) {
        const long tb = T - t0 < TB ? T - t0 : TB;
        vf acc[MAX_TILE];
        UNROLL for (int p = 0; p < L * TB * NJ; ++p) acc[p] = ZERO;
        /* rows of gy f-1 .. f+L; line l takes row f-1+d with tap l + 2 - d */
        for (long d = 0; d < L + 2; ++d) {
            const long r = f - 1 + d;
            if (r < 0 || r >= F) continue;
            const float *gl = gy + ((n * F + r) * T + t0) * Co;
            const float *wa = wt + (d <= 2 ? 2 - d : 0) * Co * Ci + j;
            const float *wb = wt + (d >= 1 ? 3 - d : 0) * Co * Ci + j;
            const int ua = L == 1 || d <= 2, ub = L == 2 && d >= 1;
            if (tb < TB) /* the line's last tile */
                grad_input_row(acc, gl, wa, wb, tb, Ci, Co, ua, ub, NJ, TB, 0);
            else if (ua && ub)
                grad_input_row(acc, gl, wa, wb, tb, Ci, Co, 1, 1, NJ, TB, 1);
            else if (ua)
                grad_input_row(acc, gl, wa, wb, tb, Ci, Co, 1, 0, NJ, TB, 1);
            else
                grad_input_row(acc, gl, wa, wb, tb, Ci, Co, 0, 1, NJ, TB, 1);
        }
        UNROLL for (int l = 0; l < L; ++l) {
            float *out = gx + (n * F + f + l) * T * Ci + j;
            vf *mine = acc + l * TB * NJ;
            /* output steps t0-1 .. t0+tb-2 */
            if (t0 >= 1) BLEND_OUT(out, t0 - 1, before[l][0], before[l][1], mine);
            UNROLL for (int p = 0; p + 1 < TB; ++p)
                if (p + 1 < tb)
                    BLEND_OUT(out, t0 + p, (p == 0 ? before[l][1] : mine + (p - 1) * NJ),
                              mine + p * NJ, mine + (p + 1) * NJ);
            /* keep the last two steps of gs for the next tile (zero before the line's start) */
            UNROLL for (int q = 0; q < NJ; ++q) {
                vf two_back = before[l][1][q], one_back = ZERO;
                UNROLL for (int p = 0; p < TB; ++p) {
                    if (p == tb - 2) two_back = mine[p * NJ + q];
                    if (p == tb - 1) one_back = mine[p * NJ + q];
                }
                before[l][0][q] = two_back;
                before[l][1][q] = one_back;
            }
        }
    }
    /* the last step: gs past the end is zero */
    UNROLL for (int l = 0; l < L; ++l) {
        float *out = gx + (n * F + f + l) * T * Ci + j;
        vf none[4];
        UNROLL for (int q = 0; q < NJ; ++q) none[q] = ZERO;
        BLEND_OUT(out, T - 1, before[l][0], before[l][1], none);
    }
#undef BLEND_OUT
}

#define GRAD_INPUT_TILE(NJ) (REGS >= 32 ? 12 / (NJ) : ((NJ) == 1 ? 8 : 4))
#define GRAD_INPUT_FOR(NJ)                                                                 \
    static void grad_input_##NJ(const float *gy, const float *wt, float *gx, long n, long f, \
                                long F, long T, long Ci, long Co, long S, long G) {        \
        for (long j = 0; j < Ci; j += NJ * LANES) {                                        \
            if (TILE_LINES(NJ) == 2 && f + 1 < F)                                          \
                grad_input_lines(gy, wt, gx, n, f, F, T, Ci, Co, S, G, j, 2, NJ,           \
                                 GRAD_INPUT_TILE(NJ));                                     \
            else                                                                           \
                grad_input_lines(gy, wt, gx, n, f, F, T, Ci, Co, S, G, j, 1, NJ,           \
                                 GRAD_INPUT_TILE(NJ));                                     \
        }                                                                                  \
    }
GRAD_INPUT_FOR(1)
GRAD_INPUT_FOR(2)
GRAD_INPUT_FOR(4)

void shiftlab_tsconv_grad_input(const float *gy, const float *wt, float *gx, long N, long F,
                                long T, long Ci, long Co, long S, long G, int threads) {
    const int nj = blocks_for(Ci);
    const long per = lines_a_unit(nj), units = (F + per - 1) / per;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (long unit = 0; unit < N * units; ++unit) {
        const long n = unit / units, f = unit % units * per;
        if (nj == 4) grad_input_4(gy, wt, gx, n, f, F, T, Ci, Co, S, G);
        else if (nj == 2) grad_input_2(gy, wt, gx, n, f, F, T, Ci, Co, S, G);
        else grad_input_1(gy, wt, gx, n, f, F, T, Ci, Co, S, G);
    }
}

/* ---------------------------------------------------------------- weight gradient */

/* Writes row r of the shifted input, xs[t][c] = x[n, r, t+shift(c), c] (zero outside
   [0, T)), into a thread's buffer: the weight gradient reads each value of it once per tap
   and block of outputs, as whole vectors of channels, with no test at the borders. */
static void shifted_row(const float *x, float *xs, long n, long r, long F, long T, long Ci,
                        long S, long G) {
    const float *xr = x + (n * F + r) * T * Ci;
    for (long c = 0; c < Ci; c += LANES) {
        vi keep = {0}, from_prev = {0}, from_next = {0};
        for (int l = 0; l < LANES; ++l) {
            const long s = shift_of(c + l, S, G);
            keep[l] = s == 0 ? -1 : 0;
            from_prev[l] = s == -1 ? -1 : 0;
            from_next[l] = s == 1 ? -1 : 0;
        }
        const long s0 = shift_of(c, S, G);
        if (shift_of(c + LANES - 1, S, G) == s0) { /* one group: a copy, offset by its shift */
            for (long t = 0; t < T; ++t) {
                const long ts = t + s0;
                STORE(xs + t * Ci + c, ts >= 0 && ts < T ? LOAD(xr + ts * Ci + c) : ZERO);
            }
            continue;
        }
        for (long t = 0; t < T; ++t) {
            vi v = (vi)LOAD(xr + t * Ci + c) & keep;
            if (t >= 1) v |= (vi)LOAD(xr + (t - 1) * Ci + c) & from_prev;
            if (t + 1 < T) v |= (vi)LOAD(xr + (t + 1) * Ci + c) & from_next;
            STORE(xs + t * Ci + c, (vf)v);
        }
    }
}

/* For one line, adds into gw[k][o][c] the sum over t of gy[t][o] * xs_k[t][c] for the taps
   K0..K2 whose rows exist (compile-time), OUTS outputs from o0 and one vector of input
   channels from c: 3·OUTS sums in registers, each gy value broadcast once for all taps. */
INLINE void grad_weight_block(const float *gl, const float *xs0, const float *xs1,
                              const float *xs2, float *gw, long T, long Ci, long Co, long o0,
                              long c, const int K0, const int K1, const int K2,
                              const int OUTS) {
    vf acc[3][MAX_TILE / 3 + 1];
    UNROLL for (int o = 0; o < OUTS; ++o) acc[0][o] = acc[1][o] = acc[2][o] = ZERO;
    for (long t = 0; t < T; ++t) {
        vf v0 = ZERO, v1 = ZERO, v2 = ZERO;
        if (K0) v0 = LOAD(xs0 + t * Ci + c);
        if (K1) v1 = LOAD(xs1 + t * Ci + c);
        if (K2) v2 = LOAD(xs2 + t * Ci + c);
        UNROLL for (int o = 0; o < OUTS; ++o) {
            const float g = gl[t * Co + o0 + o];
            if (K0) acc[0][o] += g * v0;
            if (K1) acc[1][o] += g * v1;
            if (K2) acc[2][o] += g * v2;
        }
    }
    UNROLL for (int o = 0; o < OUTS; ++o) {
        float *dst = gw + (o0 + o) * Ci + c;
        if (K0) STORE(dst, LOAD(dst) + acc[0][o]);
        if (K1) STORE(dst + Co * Ci, LOAD(dst + Co * Ci) + acc[1][o]);
        if (K2) STORE(dst + 2 * Co * Ci, LOAD(dst + 2 * Co * Ci) + acc[2][o]);
    }
}

#define GRAD_WEIGHT_OUTS (REGS >= 32 ? 8 : 4)
#define GRAD_WEIGHT_TAPS(K0, K1, K2)                                                       \
    for (long c = 0; c < Ci; c += LANES)                                                   \
        for (long o0 = 0; o0 < Co; o0 += GRAD_WEIGHT_OUTS)                                 \
            grad_weight_block(gl, xs[0], xs[1], xs[2], gw, T, Ci, Co, o0, c, K0, K1, K2,   \
                              GRAD_WEIGHT_OUTS)

/* One line's share of gw[k][o][c]; xs[k] is row f+k-1 shifted (unused where it is outside). */
static void grad_weight_line(const float *gl, const float *const xs[3], float *gw, long f,
                             long F, long T, long Ci, long Co) {
    const int up = f >= 1, down = f + 1 < F;
    if (up && down) GRAD_WEIGHT_TAPS(1, 1, 1);
    else if (down) GRAD_WEIGHT_TAPS(0, 1, 1);
    else if (up) GRAD_WEIGHT_TAPS(1, 1, 0);
    else GRAD_WEIGHT_TAPS(0, 1, 0);
}

/* Floats of workspace shiftlab_tsconv_grad_weight needs per thread: its sums of gw and gb
   and three shifted rows. */
long shiftlab_tsconv_workspace(long T, long Ci, long Co) { return 3 * Ci * Co + Co + 3 * T * Ci; }

/* gw[k][o][c] = sum over n, f, t of gy[n,f,t,o] * x[n, f+k-1, t+shift(c), c] and gb[o] = sum
   of gy[n,f,t,o], both zeroed by the caller, in gw's layout (3 × Co × Ci: vectors over input
   channels). `work` holds threads × shiftlab_tsconv_workspace floats, 64-byte aligned. Each
   thread sums its lines into its own copy; the copies are added up in thread order at the
   end, so results repeat run to run. */
void shiftlab_tsconv_grad_weight(const float *gy, const float *x, float *gw, float *gb,
                                 float *work, long N, long F, long T, long Ci, long Co, long S,
                                 long G, int threads) {
    const long size = 3 * Ci * Co, per_thread = shiftlab_tsconv_workspace(T, Ci, Co);
    if (threads < 1) threads = 1;
    #pragma omp parallel num_threads(threads)
    {
        int me = 0;
#ifdef _OPENMP
        me = omp_get_thread_num();
#endif
        float *mine_w = work + (size_t)me * per_thread, *mine_b = mine_w + size;
        float *rows = mine_b + Co; /* rows f-1, f, f+1 shifted, in slots row % 3 */
        long held[3] = {-1, -1, -1}; /* which line n·F + row each slot holds */
        memset(mine_w, 0, (size_t)(size + Co) * sizeof(float));
        #pragma omp for schedule(static)
        for (long line = 0; line < N * F; ++line) {
            const long n = line / F, f = line % F;
            const float *gl = gy + line * T * Co;
            const float *xs[3];
            for (int k = 0; k < 3; ++k) {
                const long r = f + k - 1;
                xs[k] = rows; /* unused where the row is outside */
                if (r < 0 || r >= F) continue;
                float *slot = rows + (r % 3) * T * Ci;
                if (held[r % 3] != n * F + r) {
                    shifted_row(x, slot, n, r, F, T, Ci, S, G);
                    held[r % 3] = n * F + r;
                }
                xs[k] = slot;
            }
            for (long o = 0; o < Co; o += LANES) {
                vf bias = ZERO;
                for (long t = 0; t < T; ++t) bias += LOAD(gl + t * Co + o);
                STORE(mine_b + o, LOAD(mine_b + o) + bias);
            }
            grad_weight_line(gl, xs, mine_w, f, F, T, Ci, Co);
        }
    }
    for (int th = 0; th < threads; ++th) {
        const float *p = work + (size_t)th * per_thread;
        for (long i = 0; i < size; ++i) gw[i] += p[i];
        for (long o = 0; o < Co; ++o) gb[o] += p[size + o];
    }
}

/* The vector width this build uses (16: AVX-512), for the caller's choice of path. */
int shiftlab_tsconv_lanes(void) { return LANES; }
