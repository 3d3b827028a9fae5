/* The backends this build has (cadenza/backend.h): a fixed table, looked up by name. Finding a
 * backend touches nothing; only cdz_backend_check and the backend's own functions do (for cuda,
 * the CUDA runtime starts on the first of them). */
#include <stdio.h>
#include <string.h>

#include "cadenza/backend.h"

extern const cdz_backend cdz_backend_cpu_table; /* src/nn/cpu/backend_cpu.c */
extern const cdz_backend cdz_backend_ref_table; /* src/nn/ref/backend_ref.c */
#ifdef CDZ_HAVE_CUDA                            /* the Makefile defines it where nvcc built src/nn/cuda/ */
#include "cuda/backend_cuda.h"
#endif

static const cdz_backend *const BACKENDS[] = {
    &cdz_backend_cpu_table,
    &cdz_backend_ref_table,
#ifdef CDZ_HAVE_CUDA
    &cdz_backend_cuda_table,
#endif
};

size_t cdz_backend_list(const cdz_backend *const **list) {
    *list = BACKENDS;
    return sizeof BACKENDS / sizeof *BACKENDS;
}

const cdz_backend *cdz_backend_find(const char *name) {
    for (size_t i = 0; i < sizeof BACKENDS / sizeof *BACKENDS; i++)
        if (strcmp(BACKENDS[i]->name, name) == 0) return BACKENDS[i];
    return NULL;
}

const cdz_backend *cdz_backend_cpu(void) { return &cdz_backend_cpu_table; }

const cdz_backend *cdz_backend_reference(void) { return &cdz_backend_ref_table; }

cdz_status cdz_backend_check(const cdz_backend *be, cdz_error *err) {
    if (!be) return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "no such backend in this build");
#ifdef CDZ_HAVE_CUDA
    if (be == &cdz_backend_cuda_table) return cdz_cuda_check(err);
#endif
    return CDZ_OK;
}

static void append(char *buf, size_t n, const char *name) {
    size_t used = strlen(buf);
    if (used < n) snprintf(buf + used, n - used, "%s%s", used ? ", " : "", name);
}

void cdz_backend_missing(const cdz_backend *be, char *buf, size_t n) {
    if (!n) return;
    buf[0] = 0;
#define MISSING(f) \
    if (!be->f) append(buf, n, #f)
    MISSING(linear_forward);         MISSING(linear_backward);          MISSING(embedding_forward);
    MISSING(embedding_backward);     MISSING(softmax_xent_forward);     MISSING(softmax_xent_backward);
    MISSING(lstm_forward);           MISSING(lstm_backward);            MISSING(lstm_cell_forward);
    MISSING(lstm_cell_backward);     MISSING(lstm_step);                MISSING(dropout_forward);
    MISSING(dropout_backward);       MISSING(attn_lstm_forward);        MISSING(attn_lstm_backward);
    MISSING(attn_lstm_step);         MISSING(adamw_step);               MISSING(clip_grad_norm);
    MISSING(layernorm_forward);      MISSING(layernorm_backward);       MISSING(gelu_forward);
    MISSING(gelu_backward);          MISSING(relu_forward);             MISSING(relu_backward);
    MISSING(self_attention_forward); MISSING(self_attention_backward);  MISSING(self_attention_step);
    MISSING(cross_attention_forward); MISSING(cross_attention_backward);
    MISSING(conv1d_forward);         MISSING(conv1d_backward);          MISSING(conv_transpose1d_forward);
    MISSING(conv_transpose1d_backward); MISSING(pad1d_forward);         MISSING(pad1d_backward);
    MISSING(elu_forward);            MISSING(elu_backward);             MISSING(snake_forward);
    MISSING(snake_backward);         MISSING(weight_norm_forward);      MISSING(weight_norm_backward);
    MISSING(rvq_forward);            MISSING(rvq_backward);
#undef MISSING
}
