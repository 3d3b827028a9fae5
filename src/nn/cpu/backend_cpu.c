/* The CPU backend's table: the layer passes of src/nn/cpu/ (cadenza/nn.h) and host-memory buffers. */
#include <string.h>

#include "cadenza/backend.h"

static cdz_status cpu_alloc(void **buf, size_t bytes, cdz_error *err) {
    *buf = cdz_calloc(bytes ? bytes : 1, 1);
    return *buf ? CDZ_OK : cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for a buffer of %zu bytes", bytes);
}
static void cpu_release(void *buf) { cdz_free(buf); }
static void cpu_copy(void *dst, const void *src, size_t bytes) {
    if (bytes) memmove(dst, src, bytes);
}
static void cpu_zero(void *buf, size_t bytes) {
    if (bytes) memset(buf, 0, bytes);
}
static void cpu_add(float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

const cdz_backend cdz_backend_cpu_table = {
    .name = "cpu",
    .host_memory = 1,
    .alloc = cpu_alloc,
    .release = cpu_release,
    .upload = cpu_copy,
    .download = cpu_copy,
    .zero = cpu_zero,
    .copy = cpu_copy,
    .add = cpu_add,
    .linear_forward = cdz_linear_forward,
    .linear_backward = cdz_linear_backward,
    .embedding_forward = cdz_embedding_forward,
    .embedding_backward = cdz_embedding_backward,
    .softmax_xent_forward = cdz_softmax_xent_forward,
    .softmax_xent_backward = cdz_softmax_xent_backward,
    .lstm_forward = cdz_lstm_forward,
    .lstm_backward = cdz_lstm_backward,
    .lstm_cell_forward = cdz_lstm_cell_forward,
    .lstm_cell_backward = cdz_lstm_cell_backward,
    .lstm_step = cdz_lstm_step,
    .dropout_forward = cdz_dropout_forward,
    .dropout_backward = cdz_dropout_backward,
    .attn_lstm_forward = cdz_attn_lstm_forward,
    .attn_lstm_backward = cdz_attn_lstm_backward,
    .attn_lstm_step = cdz_attn_lstm_step,
    .adamw_step = cdz_adamw_step,
    .clip_grad_norm = cdz_clip_grad_norm,
    .layernorm_forward = cdz_layernorm_forward,
    .layernorm_backward = cdz_layernorm_backward,
    .gelu_forward = cdz_gelu_forward,
    .gelu_backward = cdz_gelu_backward,
    .relu_forward = cdz_relu_forward,
    .relu_backward = cdz_relu_backward,
    .self_attention_forward = cdz_self_attention_forward,
    .self_attention_backward = cdz_self_attention_backward,
    .self_attention_step = cdz_self_attention_step,
    .cross_attention_forward = cdz_cross_attention_forward,
    .cross_attention_backward = cdz_cross_attention_backward,
    .conv1d_forward = cdz_conv1d_forward,
    .conv1d_backward = cdz_conv1d_backward,
    .conv_transpose1d_forward = cdz_conv_transpose1d_forward,
    .conv_transpose1d_backward = cdz_conv_transpose1d_backward,
    .pad1d_forward = cdz_pad1d_forward,
    .pad1d_backward = cdz_pad1d_backward,
    .elu_forward = cdz_elu_forward,
    .elu_backward = cdz_elu_backward,
    .snake_forward = cdz_snake_forward,
    .snake_backward = cdz_snake_backward,
    .weight_norm_forward = cdz_weight_norm_forward,
    .weight_norm_backward = cdz_weight_norm_backward,
    .rvq_forward = cdz_rvq_forward,
    .rvq_backward = cdz_rvq_backward,
};
