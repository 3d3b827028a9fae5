/* The reference backend's table (cadenza/backend.h, "reference"): host-memory buffers as the CPU
 * backend's, so a model's parameters are read by either without moving them, and the plain-loop layer
 * passes of src/nn/ref/ (fp32 storage, double sums, libm; written from cadenza/nn.h's formulas, not
 * from src/nn/cpu/). Slow and meant to be obviously right: tests/test_backend.c compares every other
 * backend with it, pass by pass. */
#include <string.h>

#include "cadenza/backend.h"
#include "ref.h"

static cdz_status ref_alloc(void **buf, size_t bytes, cdz_error *err) {
    *buf = cdz_calloc(bytes ? bytes : 1, 1);
    return *buf ? CDZ_OK : cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for a buffer of %zu bytes", bytes);
}
static void ref_release(void *buf) { cdz_free(buf); }
static void ref_copy(void *dst, const void *src, size_t bytes) {
    if (bytes) memmove(dst, src, bytes);
}
static void ref_zero(void *buf, size_t bytes) {
    if (bytes) memset(buf, 0, bytes);
}
static void ref_add_buffer(float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

const cdz_backend cdz_backend_ref_table = {
    .name = "reference",
    .host_memory = 1,
    .alloc = ref_alloc,
    .release = ref_release,
    .upload = ref_copy,
    .download = ref_copy,
    .zero = ref_zero,
    .copy = ref_copy,
    .add = ref_add_buffer,
    .linear_forward = ref_linear_forward,
    .linear_backward = ref_linear_backward,
    .embedding_forward = ref_embedding_forward,
    .embedding_backward = ref_embedding_backward,
    .softmax_xent_forward = ref_softmax_xent_forward,
    .softmax_xent_backward = ref_softmax_xent_backward,
    .lstm_forward = ref_lstm_forward,
    .lstm_backward = ref_lstm_backward,
    .lstm_cell_forward = ref_lstm_cell_forward,
    .lstm_cell_backward = ref_lstm_cell_backward,
    .lstm_step = ref_lstm_step,
    .dropout_forward = ref_dropout_forward,
    .dropout_backward = ref_dropout_backward,
    .attn_lstm_forward = ref_attn_lstm_forward,
    .attn_lstm_backward = ref_attn_lstm_backward,
    .attn_lstm_step = ref_attn_lstm_step,
    .adamw_step = ref_adamw_step,
    .clip_grad_norm = ref_clip_grad_norm,
    .layernorm_forward = ref_layernorm_forward,
    .layernorm_backward = ref_layernorm_backward,
    .gelu_forward = ref_gelu_forward,
    .gelu_backward = ref_gelu_backward,
    .relu_forward = ref_relu_forward,
    .relu_backward = ref_relu_backward,
    .self_attention_forward = ref_self_attention_forward,
    .self_attention_backward = ref_self_attention_backward,
    .self_attention_step = ref_self_attention_step,
    .cross_attention_forward = ref_cross_attention_forward,
    .cross_attention_backward = ref_cross_attention_backward,
    .conv1d_forward = ref_conv1d_forward,
    .conv1d_backward = ref_conv1d_backward,
    .conv_transpose1d_forward = ref_conv_transpose1d_forward,
    .conv_transpose1d_backward = ref_conv_transpose1d_backward,
    .pad1d_forward = ref_pad1d_forward,
    .pad1d_backward = ref_pad1d_backward,
    .elu_forward = ref_elu_forward,
    .elu_backward = ref_elu_backward,
    .snake_forward = ref_snake_forward,
    .snake_backward = ref_snake_backward,
    .weight_norm_forward = ref_weight_norm_forward,
    .weight_norm_backward = ref_weight_norm_backward,
    .rvq_forward = ref_rvq_forward,
    .rvq_backward = ref_rvq_backward,
};
