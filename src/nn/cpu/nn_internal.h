/* Shared by the files of src/nn/cpu/ only. */
#ifndef CADENZA_NN_INTERNAL_H
#define CADENZA_NN_INTERNAL_H
/* c (M, N) += a (M, K; stored K x M if ta) @ b (K, N; stored N x K if tb), row-major. */
void nn_gemm_acc(int ta, int tb, int M, int N, int K, const float *a, const float *b, float *c);
#endif
