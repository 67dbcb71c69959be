#include <stdlib.h>
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
     weight gradient written as gw[k][c][o] (3 × Ci × Co), the bias gradient gb[o].
   Ci and Co are multiples of 16 (the caller checks). Each loop keeps a tile of accumulators in
   registers: a few time steps by one to four vectors of channels. The library is built for
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

/* y[n,f,t,o] = b[o] + sum_k sum_c w[k][c][o] * x[n, f+k-1, t+shift(c), c] for one line
   (n, f), output channels [j, j + NJ·LANES), TB steps a tile. */
INLINE void forward_line(const float *x, const float *w, const float *b, float *y, long n,
                         long f, long F, long T, long Ci, long Co, long S, long G, long j,
                         const int NJ, const int TB) {
    for (long t0 = 0; t0 < T; t0 += TB) {
        const long tb = T - t0 < TB ? T - t0 : TB;
        const int inner = tb == TB && t0 >= 1 && t0 + TB < T;
        vf acc[MAX_TILE];
        for (int p = 0; p < TB; ++p)
            for (int q = 0; q < NJ; ++q) acc[p * NJ + q] = LOAD(b + j + q * LANES);
        for (long k = 0; k < 3; ++k) {
            const long fk = f + k - 1;
            if (fk < 0 || fk >= F) continue;
            const float *xl = x + (n * F + fk) * T * Ci;
            const float *wk = w + k * Ci * Co + j;
            if (inner) {
                /* the three channel groups, each reading its own step: no test per channel */
                for (int group = 0; group < 3; ++group) {
                    const long c0 = group == 0 ? 0 : (group == 1 ? S : S + G);
                    const long c1 = group == 0 ? S : (group == 1 ? S + G : Ci);
                    const long s = group == 0 ? 0 : (group == 1 ? -1 : 1);
                    const float *xt = xl + (t0 + s) * Ci;
                    for (long c = c0; c < c1; ++c) {
                        vf wv[4];
                        for (int q = 0; q < NJ; ++q) wv[q] = LOAD(wk + c * Co + q * LANES);
                        for (int p = 0; p < TB; ++p) {
                            const float v = xt[p * Ci + c];
                            for (int q = 0; q < NJ; ++q) acc[p * NJ + q] += v * wv[q];
                        }
                    }
                }
                continue;
            }
            for (long c = 0; c < Ci; ++c) {
                vf wv[4];
                for (int q = 0; q < NJ; ++q) wv[q] = LOAD(wk + c * Co + q * LANES);
                const long s = shift_of(c, S, G);
                for (int p = 0; p < tb; ++p) {
                    const long ts = t0 + p + s;
                    if (ts < 0 || ts >= T) continue;
                    const float v = xl[ts * Ci + c];
                    for (int q = 0; q < NJ; ++q) acc[p * NJ + q] += v * wv[q];
                }
            }
        }
        float *yl = y + ((n * F + f) * T + t0) * Co + j;
        for (int p = 0; p < tb; ++p)
            for (int q = 0; q < NJ; ++q) STORE(yl + p * Co + q * LANES, acc[p * NJ + q]);
    }
}

#define FORWARD_TILE(NJ) (REGS >= 32 ? 12 / (NJ) : 8 / (NJ))
#define FORWARD_FOR(NJ)                                                                    \
    static void forward_##NJ(const float *x, const float *w, const float *b, float *y, long n, \
                             long f, long F, long T, long Ci, long Co, long S, long G) {   \
        for (long j = 0; j < Co; j += NJ * LANES)                                          \
            forward_line(x, w, b, y, n, f, F, T, Ci, Co, S, G, j, NJ, FORWARD_TILE(NJ));   \
    }
FORWARD_FOR(1)
FORWARD_FOR(2)
FORWARD_FOR(4)

void shiftlab_tsconv_forward(const float *x, const float *w, const float *b, float *y, long N,
                             long F, long T, long Ci, long Co, long S, long G, int threads) {
    const int nj = blocks_for(Co);
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (long line = 0; line < N * F; ++line) {
        const long n = line / F, f = line % F;
        if (nj == 4) forward_4(x, w, b, y, n, f, F, T, Ci, Co, S, G);
        else if (nj == 2) forward_2(x, w, b, y, n, f, F, T, Ci, Co, S, G);
        else forward_1(x, w, b, y, n, f, F, T, Ci, Co, S, G);
    }
}

/* ---------------------------------------------------------------- input gradient */

/* The convolution's transpose gives the gradient of the shifted input, gs[n,f,t,c] =
   sum_k sum_o w[k][c][o] * gy[n, f+1-k, t, o]; the shift's adjoint then reads each channel
   from the other side: gx[t,c] = gs[t - shift(c), c], zero outside [0, T). The loop computes
   gs a tile of steps at a time, keeps the tile before's last two steps, and writes each
   output step as a blend, by lane, of gs at that step and its two neighbours. */
INLINE void grad_input_line(const float *gy, const float *wt, float *gx, long n, long f, long F,
                            long T, long Ci, long Co, long S, long G, long j, const int NJ,
                            const int TB) {
    vi keep[4], from_next[4], from_prev[4]; /* lanes of gs[t], gs[t+1], gs[t-1] */
    for (int q = 0; q < NJ; ++q) {
        keep[q] = from_next[q] = from_prev[q] = (vi){0};
        for (int l = 0; l < LANES; ++l) {
            const long s = shift_of(j + q * LANES + l, S, G);
            keep[q][l] = s == 0 ? -1 : 0;
            from_next[q][l] = s == -1 ? -1 : 0;
            from_prev[q][l] = s == 1 ? -1 : 0;
        }
    }
    float *out = gx + (n * F + f) * T * Ci + j;
    vf before[2][4]; /* gs at t0-2 and t0-1 */
    for (int q = 0; q < NJ; ++q) before[0][q] = before[1][q] = ZERO;
#define BLEND_OUT(u, PREV, HERE, NEXT)                                                     \
    for (int q = 0; q < NJ; ++q)                                                           \
        STORE(out + (u) * Ci + q * LANES,                                                  \
              (vf)(((vi)(HERE)[q] & keep[q]) | ((vi)(NEXT)[q] & from_next[q]) |            \
                   ((vi)(PREV)[q] & from_prev[q])))
    for (long t0 = 0; t0 < T; t0 += TB) {
        const long tb = T - t0 < TB ? T - t0 : TB;
        vf acc[MAX_TILE];
        for (int p = 0; p < TB * NJ; ++p) acc[p] = ZERO;
        for (long k = 0; k < 3; ++k) {
            const long fo = f + 1 - k;
            if (fo < 0 || fo >= F) continue;
            const float *gl = gy + ((n * F + fo) * T + t0) * Co;
            const float *wk = wt + k * Co * Ci + j;
            for (long o = 0; o < Co; ++o) {
                vf wv[4];
                for (int q = 0; q < NJ; ++q) wv[q] = LOAD(wk + o * Ci + q * LANES);
                if (tb == TB) {
                    for (int p = 0; p < TB; ++p) {
                        const float v = gl[p * Co + o];
                        for (int q = 0; q < NJ; ++q) acc[p * NJ + q] += v * wv[q];
                    }
                } else {
                    for (int p = 0; p < tb; ++p) {
                        const float v = gl[p * Co + o];
                        for (int q = 0; q < NJ; ++q) acc[p * NJ + q] += v * wv[q];
                    }
                }
            }
        }
        /* output steps t0-1 .. t0+tb-2 */
        if (t0 >= 1) BLEND_OUT(t0 - 1, before[0], before[1], acc);
        for (int p = 0; p + 1 < tb; ++p)
            BLEND_OUT(t0 + p, (p == 0 ? before[1] : acc + (p - 1) * NJ), acc + p * NJ,
                      acc + (p + 1) * NJ);
        /* keep the last two steps of gs for the next tile (zero before the line's start) */
        for (int q = 0; q < NJ; ++q) {
            before[0][q] = tb >= 2 ? acc[(tb - 2) * NJ + q] : before[1][q];
            before[1][q] = acc[(tb - 1) * NJ + q];
        }
    }
    /* the last step: gs past the end is zero */
    {
        vf none[4];
        for (int q = 0; q < NJ; ++q) none[q] = ZERO;
        BLEND_OUT(T - 1, before[0], before[1], none);
    }
#undef BLEND_OUT
}

#define GRAD_INPUT_TILE(NJ) (REGS >= 32 ? 12 / (NJ) : ((NJ) == 1 ? 8 : 4))
#define GRAD_INPUT_FOR(NJ)                                                                 \
    static void grad_input_##NJ(const float *gy, const float *wt, float *gx, long n, long f, \
                                long F, long T, long Ci, long Co, long S, long G) {        \
        for (long j = 0; j < Ci; j += NJ * LANES)                                          \
            grad_input_line(gy, wt, gx, n, f, F, T, Ci, Co, S, G, j, NJ,                   \
                            GRAD_INPUT_TILE(NJ));                                          \
    }
GRAD_INPUT_FOR(1)
GRAD_INPUT_FOR(2)
GRAD_INPUT_FOR(4)

void shiftlab_tsconv_grad_input(const float *gy, const float *wt, float *gx, long N, long F,
                                long T, long Ci, long Co, long S, long G, int threads) {
    const int nj = blocks_for(Ci);
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (long line = 0; line < N * F; ++line) {
        const long n = line / F, f = line % F;
        if (nj == 4) grad_input_4(gy, wt, gx, n, f, F, T, Ci, Co, S, G);
        else if (nj == 2) grad_input_2(gy, wt, gx, n, f, F, T, Ci, Co, S, G);
        else grad_input_1(gy, wt, gx, n, f, F, T, Ci, Co, S, G);
    }
}

/* ---------------------------------------------------------------- weight gradient */

/* For one line (n, f) and output channels [j, j + NJ·LANES): adds into gw[k][c][o] the sum
   over t of gy[n,f,t,o] * x[n, f+k-1, t+shift(c), c], PAIRS (k, c) pairs a pass, their sums
   in registers, the steps every pair reads without a test and the border steps with one. */
INLINE void grad_weight_line(const float *gy, const float *x, float *gw, long n, long f, long F,
                             long T, long Ci, long Co, long S, long G, long j, const int NJ,
                             const int PAIRS) {
    const float *gl = gy + (n * F + f) * T * Co + j;
    for (long pair0 = 0; pair0 < 3 * Ci; pair0 += PAIRS) {
        const long count = 3 * Ci - pair0 < PAIRS ? 3 * Ci - pair0 : PAIRS;
        const float *src[MAX_TILE]; /* x at t = 0 for each pair, shift included */
        long lo[MAX_TILE], hi[MAX_TILE]; /* the steps t where that x exists */
        long first = 0, last = T;
        int live_all = count == PAIRS, any = 0;
        for (int q = 0; q < PAIRS; ++q) {
            const long pair = pair0 + (q < count ? q : 0);
            const long k = pair / Ci, c = pair % Ci, fk = f + k - 1;
            const long s = shift_of(c, S, G);
            const int live = q < count && fk >= 0 && fk < F;
            src[q] = x + (n * F + (live ? fk : f)) * T * Ci + s * Ci + c;
            lo[q] = live ? (s < 0 ? -s : 0) : T;
            hi[q] = live ? (s > 0 ? T - s : T) : T;
            live_all &= live;
            any |= live;
            if (lo[q] > first) first = lo[q];
            if (hi[q] < last) last = hi[q];
        }
        if (!any) continue;
        if (!live_all || first >= last) first = last = 0;
        vf acc[MAX_TILE];
        for (int p = 0; p < PAIRS * NJ; ++p) acc[p] = ZERO;
        for (long t = first; t < last; ++t) {
            vf g[4];
            for (int q = 0; q < NJ; ++q) g[q] = LOAD(gl + t * Co + q * LANES);
            for (int p = 0; p < PAIRS; ++p) {
                const float v = src[p][t * Ci];
                for (int q = 0; q < NJ; ++q) acc[p * NJ + q] += v * g[q];
            }
        }
        for (long t = 0; t < T; ++t) {
            if (t >= first && t < last) continue;
            vf g[4];
            for (int q = 0; q < NJ; ++q) g[q] = LOAD(gl + t * Co + q * LANES);
            for (int p = 0; p < PAIRS; ++p) {
                if (t < lo[p] || t >= hi[p]) continue;
                const float v = src[p][t * Ci];
                for (int q = 0; q < NJ; ++q) acc[p * NJ + q] += v * g[q];
            }
        }
        for (int p = 0; p < count; ++p)
            for (int q = 0; q < NJ; ++q) {
                float *dst = gw + (pair0 + p) * Co + j + q * LANES;
                STORE(dst, LOAD(dst) + acc[p * NJ + q]);
            }
    }
}

#define GRAD_WEIGHT_PAIRS(NJ) (REGS >= 32 ? 24 / (NJ) : 12 / (NJ))
#define GRAD_WEIGHT_FOR(NJ)                                                                \
    static void grad_weight_##NJ(const float *gy, const float *x, float *gw, long n, long f, \
                                 long F, long T, long Ci, long Co, long S, long G) {       \
        for (long j = 0; j < Co; j += NJ * LANES)                                          \
            grad_weight_line(gy, x, gw, n, f, F, T, Ci, Co, S, G, j, NJ,                   \
                             GRAD_WEIGHT_PAIRS(NJ));                                       \
    }
GRAD_WEIGHT_FOR(1)
GRAD_WEIGHT_FOR(2)
GRAD_WEIGHT_FOR(4)

/* gw[k][c][o] = sum over n, f, t of gy[n,f,t,o] * x[n, f+k-1, t+shift(c), c] and gb[o] = sum
   of gy[n,f,t,o], both zeroed by the caller. Each thread sums its lines into its own copy;
   the copies are added up in thread order at the end. */
void shiftlab_tsconv_grad_weight(const float *gy, const float *x, float *gw, float *gb, long N,
                                 long F, long T, long Ci, long Co, long S, long G,
                                 int threads) {
    const long size = 3 * Ci * Co;
    const int nj = blocks_for(Co);
    if (threads < 1) threads = 1;
    float *partial = calloc((size_t)threads * (size_t)(size + Co), sizeof(float));
    if (partial == NULL) threads = 1; /* sum into gw and gb directly */
    #pragma omp parallel num_threads(threads)
    {
        int me = 0;
#ifdef _OPENMP
        me = omp_get_thread_num();
#endif
        float *mine_w = partial ? partial + (size_t)me * (size + Co) : gw;
        float *mine_b = partial ? mine_w + size : gb;
        #pragma omp for schedule(static)
        for (long line = 0; line < N * F; ++line) {
            const long n = line / F, f = line % F;
            const float *gl = gy + line * T * Co;
            for (long j = 0; j < Co; j += LANES) {
                vf bias = ZERO;
                for (long t = 0; t < T; ++t) bias += LOAD(gl + t * Co + j);
                STORE(mine_b + j, LOAD(mine_b + j) + bias);
            }
            if (nj == 4) grad_weight_4(gy, x, mine_w, n, f, F, T, Ci, Co, S, G);
            else if (nj == 2) grad_weight_2(gy, x, mine_w, n, f, F, T, Ci, Co, S, G);
            else grad_weight_1(gy, x, mine_w, n, f, F, T, Ci, Co, S, G);
        }
    }
    if (partial) {
        for (int th = 0; th < threads; ++th) {
            const float *p = partial + (size_t)th * (size + Co);
            for (long i = 0; i < size; ++i) gw[i] += p[i];
            for (long o = 0; o < Co; ++o) gb[o] += p[size + o];
        }
        free(partial);
    }
}

/* The vector width this build uses (16: AVX-512), for the caller's choice of path. */
int shiftlab_tsconv_lanes(void) { return LANES; }
