/* uint8 image batches to normalised float32 in one pass: y = ((float)x - shift) * scale.

   Torch needs three passes for the same values (a uint8 -> float32 conversion, then an in-place
   subtraction and multiplication over the float32 batch, each reading and writing four bytes a
   pixel; its one-operation mixed-type subtraction is slower still). Here each byte is read
   once and each float written once: 0.038 against 0.090 ms per 256x256 RGB image on one core
   of an Intel Xeon. The arithmetic is the same float32 subtraction then multiplication, with
   nothing to contract into a fused multiply-add, so the values are equal bit for bit.

   Two layouts, each seen as rows of `cols` bytes:
   - channels-last (N, H, W, C): a row is one pixel row (W * C values); `shift` and `scale`
     hold `cols` values, the per-channel constants repeated along the row, so the inner loop
     is a plain vector loop over three streams with no index arithmetic;
   - contiguous (N, C, H, W): a row is one channel plane (H * W values); row r takes the
     constants of channel r % channels (`shift` and `scale` hold `channels` values).
   Rows are split between `threads` OpenMP threads (torch's own pool when torch is loaded, see
   time_shift.c); built without OpenMP the pragma is ignored. */

#include <stdint.h>

static void normalize_row(const uint8_t *restrict x, float *restrict y, long cols,
                          const float *restrict shift, const float *restrict scale) {
    for (long j = 0; j < cols; ++j) y[j] = ((float)x[j] - shift[j]) * scale[j];
}

static void normalize_plane(const uint8_t *restrict x, float *restrict y, long cols,
                            float shift, float scale) {
    for (long j = 0; j < cols; ++j) y[j] = ((float)x[j] - shift) * scale;
}

void shiftlab_normalize_channels_last(const uint8_t *x, float *y, long rows, long cols,
                                      const float *shift, const float *scale, int threads) {
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long r = 0; r < rows; ++r) normalize_row(x + r * cols, y + r * cols, cols, shift, scale);
}

void shiftlab_normalize_planes(const uint8_t *x, float *y, long rows, long cols, long channels,
                               const float *shift, const float *scale, int threads) {
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long r = 0; r < rows; ++r) {
        const long c = r % channels;
        normalize_plane(x + r * cols, y + r * cols, cols, shift[c], scale[c]);
    }
}
