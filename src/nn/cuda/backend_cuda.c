/* The CUDA backend's table (cadenza/backend.h): device-memory buffers (device.cu) and the layer
 * passes of src/nn/cuda/, each the mirror of its cadenza/nn.h function. Passes not written for CUDA
 * yet stay NULL, so that cdz_backend_missing names them. Built only where nvcc is found. */
#include "backend_cuda.h"

const cdz_backend cdz_backend_cuda_table = {
    .name = "cuda",
    .host_memory = 0, /* device memory, reached through upload and download */
    .alloc = cdz_cuda_alloc,
    .release = cdz_cuda_release,
    .upload = cdz_cuda_upload,
    .download = cdz_cuda_download,
    .zero = cdz_cuda_zero,
    .copy = cdz_cuda_copy,
    .add = cdz_cuda_add,
    .linear_forward = cdz_cuda_linear_forward,
    .linear_backward = cdz_cuda_linear_backward,
    .embedding_forward = cdz_cuda_embedding_forward,
    .embedding_backward = cdz_cuda_embedding_backward,
    .softmax_xent_forward = cdz_cuda_softmax_xent_forward,
    .softmax_xent_backward = cdz_cuda_softmax_xent_backward,
    .dropout_forward = cdz_cuda_dropout_forward,
    .dropout_backward = cdz_cuda_dropout_backward,
    .lstm_cell_forward = cdz_cuda_lstm_cell_forward,
    .lstm_cell_backward = cdz_cuda_lstm_cell_backward,
    .adamw_step = cdz_cuda_adamw_step,
    .clip_grad_norm = cdz_cuda_clip_grad_norm,
    .layernorm_forward = cdz_cuda_layernorm_forward,
    .layernorm_backward = cdz_cuda_layernorm_backward,
    .gelu_forward = cdz_cuda_gelu_forward,
    .gelu_backward = cdz_cuda_gelu_backward,
    .relu_forward = cdz_cuda_relu_forward,
    .relu_backward = cdz_cuda_relu_backward,
};
