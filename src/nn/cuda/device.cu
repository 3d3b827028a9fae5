/* The CUDA backend's device side apart from the layers: device-memory buffers, the error record
 * that the void passes report through, the device check, and cuBLAS loaded on first use. The table
 * itself is in backend_cuda.c.
 *
 * cuBLAS is opened with dlopen when the first product or cdz_cuda_check needs it, not linked: the
 * toolkit here has only its shared libraries (about 600 MB with cuBLASLt), and linking them made
 * every program of the project start some 100 ms slower, GPU or not. The CUDA runtime is linked
 * statically and initialises itself on the first call, which only the cuda backend makes. */
#include <cublas_v2.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cuda_internal.h"

#ifndef CDZ_CUDA_LIBDIR /* the toolkit's library folder, from the Makefile: where to look for cuBLAS last */
#define CDZ_CUDA_LIBDIR "/usr/local/cuda/lib64"
#endif
#define STR_(x) #x
#define STR(x) STR_(x)

/* ---------------- the error record ---------------- */

/* The first error of the process: state 0 none, 1 being written, 2 written. */
enum { ERR_CUDA = 1, ERR_BLAS, ERR_BLAS_LOAD };
static int err_state, err_kind, err_code;
static const char *err_where;

static void record(int kind, int code, const char *where) {
    int expected = 0;
    if (!__atomic_compare_exchange_n(&err_state, &expected, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return;
    err_kind = kind, err_code = code, err_where = where;
    __atomic_store_n(&err_state, 2, __ATOMIC_RELEASE);
}

void nn_cuda_record(cudaError_t e, const char *where) {
    if (e != cudaSuccess) record(ERR_CUDA, (int)e, where);
}

/* ---------------- device facts ---------------- */

static pthread_once_t info_once = PTHREAD_ONCE_INIT;
static int info_sm_count = 1, info_smem_optin = 48 * 1024, info_pools;

static void info_init(void) {
    int dev = 0, sm = 0, smem = 0, pools = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sm, cudaDevAttrMultiProcessorCount, dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, dev);
    if (e != cudaSuccess) {
        cudaGetLastError();
        nn_cuda_record(e, "asking the device for its multiprocessors, shared memory and memory pools");
        return;
    }
    info_sm_count = sm > 0 ? sm : 1;
    info_smem_optin = smem > 0 ? smem : 48 * 1024;
    info_pools = pools;
}

int nn_cuda_sm_count(void) {
    pthread_once(&info_once, info_init);
    return info_sm_count;
}

int nn_cuda_smem_optin(void) {
    pthread_once(&info_once, info_init);
    return info_smem_optin;
}

/* ---------------- scratch ---------------- */

/* Stream-ordered allocation (no wait for the device) where the device has memory pools; else
 * cudaMalloc and cudaFree, which wait. */
void *nn_cuda_scratch(size_t bytes, const char *where) {
    pthread_once(&info_once, info_init);
    void *p = NULL;
    cudaError_t e = info_pools ? cudaMallocAsync(&p, bytes ? bytes : 1, 0) : cudaMalloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        cudaGetLastError();
        nn_cuda_record(e, where);
        return NULL;
    }
    return p;
}

void nn_cuda_scratch_free(void *p, const char *where) {
    if (p) nn_cuda_record(info_pools ? cudaFreeAsync(p, 0) : cudaFree(p), where);
}

/* ---------------- cuBLAS, opened on first use ---------------- */

typedef cublasStatus_t (*blas_create_fn)(cublasHandle_t *);
typedef cublasStatus_t (*blas_sgemm_fn)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                        const float *, const float *, int, const float *, int, const float *, float *,
                                        int);
typedef const char *(*blas_string_fn)(cublasStatus_t);

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER; /* one handle, one caller at a time */
static cublasHandle_t blas_handle;
static blas_sgemm_fn blas_sgemm;
static blas_string_fn blas_string;
static char blas_why[256]; /* why cuBLAS is not usable; "" when it is (written once, inside blas_once) */

static void blas_init(void) {
    const char *name = "libcublas.so." STR(CUBLAS_VER_MAJOR); /* the major version these headers describe */
    void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!lib) lib = dlopen(CDZ_CUDA_LIBDIR "/libcublas.so." STR(CUBLAS_VER_MAJOR), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        snprintf(blas_why, sizeof blas_why, "cuBLAS (%s) could not be loaded: %s", name, why ? why : "dlopen failed");
        return;
    }
    blas_create_fn create = (blas_create_fn)dlsym(lib, "cublasCreate_v2");
    blas_sgemm = (blas_sgemm_fn)dlsym(lib, "cublasSgemm_v2");
    blas_string = (blas_string_fn)dlsym(lib, "cublasGetStatusString");
    if (!create || !blas_sgemm || !blas_string) {
        snprintf(blas_why, sizeof blas_why, "%s lacks cublasCreate_v2, cublasSgemm_v2 or cublasGetStatusString", name);
        return;
    }
    /* cuBLAS works in the context current on the thread: make the runtime's primary context so */
    cudaError_t e = cudaFree(0);
    if (e != cudaSuccess) {
        cudaGetLastError();
        snprintf(blas_why, sizeof blas_why, "cuBLAS needs a CUDA context: %s (%s)", cudaGetErrorString(e),
                 cudaGetErrorName(e));
        return;
    }
    cublasStatus_t st = create(&blas_handle);
    if (st != CUBLAS_STATUS_SUCCESS)
        snprintf(blas_why, sizeof blas_why, "cublasCreate failed: %s", blas_string(st));
    /* the handle stays for the life of the process, on the default stream, in the default (fp32,
     * no TF32) math mode */
}

void nn_cuda_sgemm(bool ta, bool tb, int m, int n, int k, const float *A, int lda, const float *B, int ldb, float beta,
                   float *C, int ldc, const char *where) {
    pthread_once(&blas_once, blas_init);
    if (blas_why[0]) {
        record(ERR_BLAS_LOAD, 0, where);
        return;
    }
    /* A thread that has made no CUDA runtime call yet has no context current; cudaFree(0) makes the
     * primary context current on it, once per thread. */
    static __thread int context_ready;
    if (!context_ready) {
        nn_cuda_record(cudaFree(0), where);
        context_ready = 1;
    }
    const float alpha = 1.0f;
    pthread_mutex_lock(&blas_lock);
    cublasStatus_t st = blas_sgemm(blas_handle, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k,
                                   &alpha, A, lda, B, ldb, &beta, C, ldc);
    pthread_mutex_unlock(&blas_lock);
    if (st != CUBLAS_STATUS_SUCCESS) record(ERR_BLAS, (int)st, where);
}

/* ---------------- the check ---------------- */

static __global__ void add_kernel(float *x, const float *y, size_t n4, size_t n);

/* The recorded error as a status and message; CDZ_OK when there is none. */
static cdz_status report(cdz_error *err) {
    if (__atomic_load_n(&err_state, __ATOMIC_ACQUIRE) == 0) return CDZ_OK;
    while (__atomic_load_n(&err_state, __ATOMIC_ACQUIRE) != 2) {
    } /* another thread is writing the record: a few stores */
    switch (err_kind) {
    case ERR_CUDA:
        return cdz_error_set(err, err_code == cudaErrorMemoryAllocation ? CDZ_ERR_NOMEM : CDZ_ERR_UNSUPPORTED,
                             "CUDA error in %s: %s (%s)", err_where, cudaGetErrorString((cudaError_t)err_code),
                             cudaGetErrorName((cudaError_t)err_code));
    case ERR_BLAS:
        return cdz_error_set(err, err_code == CUBLAS_STATUS_ALLOC_FAILED ? CDZ_ERR_NOMEM : CDZ_ERR_UNSUPPORTED,
                             "cuBLAS error in %s: %s", err_where, blas_string((cublasStatus_t)err_code));
    default:
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "%s: %s", err_where, blas_why);
    }
}

cdz_status cdz_cuda_check(cdz_error *err) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "no CUDA device: cudaGetDeviceCount: %s (%s)",
                             cudaGetErrorString(e), cudaGetErrorName(e));
    }
    if (n == 0) return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "no CUDA device: cudaGetDeviceCount lists none");
    /* a fault inside a kernel shows at the next synchronisation */
    nn_cuda_record(cudaDeviceSynchronize(), "a kernel (found by cdz_backend_check's synchronisation)");
    cdz_status st = report(err);
    if (st != CDZ_OK) return st;
    /* A GPU for which this build has neither code nor PTX it can compile (Makefile: CUDA_GENCODE). Any
     * other error here is the device's (after a fault every call returns the fault): recorded. */
    cudaFuncAttributes attr;
    e = cudaFuncGetAttributes(&attr, add_kernel);
    if (e == cudaErrorNoKernelImageForDevice || e == cudaErrorInvalidDeviceFunction ||
        e == cudaErrorUnsupportedPtxVersion) {
        cudaGetLastError();
        int dev = 0;
        cudaDeviceProp prop;
        if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&prop, dev) != cudaSuccess) {
            cudaGetLastError();
            snprintf(prop.name, sizeof prop.name, "?");
            prop.major = prop.minor = 0;
        }
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED,
                             "CUDA device %d (%s, compute capability %d.%d) cannot run this build's kernels: %s (%s); "
                             "rebuild with a CUDA_GENCODE for it",
                             dev, prop.name, prop.major, prop.minor, cudaGetErrorString(e), cudaGetErrorName(e));
    }
    if (e != cudaSuccess) {
        cudaGetLastError();
        nn_cuda_record(e, "the device (found by cdz_backend_check)");
        return report(err);
    }
    pthread_once(&blas_once, blas_init);
    if (blas_why[0]) return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "%s", blas_why);
    return CDZ_OK;
}

/* ---------------- buffers ---------------- */

cdz_status cdz_cuda_alloc(void **buf, size_t bytes, cdz_error *err) {
    void *p = NULL;
    *buf = NULL;
    size_t n = bytes ? bytes : 1; /* as the CPU's: a zero-byte buffer is still a distinct pointer */
    cudaError_t e = cudaMalloc(&p, n);
    if (e == cudaSuccess) {
        e = cudaMemset(p, 0, n);
        if (e != cudaSuccess) cudaFree(p);
    }
    if (e != cudaSuccess) {
        cudaGetLastError(); /* not a pass's error: the status says it */
        return cdz_error_set(err, e == cudaErrorMemoryAllocation ? CDZ_ERR_NOMEM : CDZ_ERR_UNSUPPORTED,
                             "CUDA could not allocate a buffer of %zu bytes: %s (%s)", bytes, cudaGetErrorString(e),
                             cudaGetErrorName(e));
    }
    *buf = p;
    return CDZ_OK;
}

void cdz_cuda_release(void *buf) {
    if (buf) nn_cuda_record(cudaFree(buf), "release");
}

void cdz_cuda_upload(void *dst, const void *host_src, size_t bytes) {
    if (bytes) nn_cuda_record(cudaMemcpy(dst, host_src, bytes, cudaMemcpyHostToDevice), "upload");
}

void cdz_cuda_download(void *host_dst, const void *src, size_t bytes) {
    if (!bytes) return;
    cudaError_t e = cudaMemcpy(host_dst, src, bytes, cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) {
        memset(host_dst, 0xff, bytes); /* NaN floats rather than stale values that look fine */
        nn_cuda_record(e, "download");
    }
}

void cdz_cuda_zero(void *buf, size_t bytes) {
    if (bytes) nn_cuda_record(cudaMemsetAsync(buf, 0, bytes, 0), "zero");
}

void cdz_cuda_copy(void *dst, const void *src, size_t bytes) {
    if (!bytes || dst == src) return;
    const char *d = (const char *)dst, *s = (const char *)src;
    if (d < s + bytes && s < d + bytes) { /* overlapping (memmove): cudaMemcpy's result is undefined, so stage */
        void *tmp = nn_cuda_scratch(bytes, "copy (overlapping)");
        if (!tmp) return;
        nn_cuda_record(cudaMemcpyAsync(tmp, src, bytes, cudaMemcpyDeviceToDevice, 0), "copy (overlapping)");
        nn_cuda_record(cudaMemcpyAsync(dst, tmp, bytes, cudaMemcpyDeviceToDevice, 0), "copy (overlapping)");
        nn_cuda_scratch_free(tmp, "copy (overlapping)");
        return;
    }
    nn_cuda_record(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, 0), "copy");
}

/* x += y: elements 4i .. 4i+3 as float4s for i < n4, then the rest one by one (n4 = 0 when a
 * pointer is not 16-byte aligned). */
static __global__ void add_kernel(float *x, const float *y, size_t n4, size_t n) {
    size_t stride = (size_t)gridDim.x * blockDim.x, first = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (size_t i = first; i < n4; i += stride) {
        float4 a = reinterpret_cast<float4 *>(x)[i];
        const float4 b = reinterpret_cast<const float4 *>(y)[i];
        a.x += b.x, a.y += b.y, a.z += b.z, a.w += b.w;
        reinterpret_cast<float4 *>(x)[i] = a;
    }
    for (size_t i = 4 * n4 + first; i < n; i += stride) x[i] += y[i];
}

void cdz_cuda_add(float *x, const float *y, size_t n) {
    if (!n) return;
    size_t n4 = nn_cuda_aligned16(x) && nn_cuda_aligned16(y) ? n / 4 : 0;
    add_kernel<<<nn_cuda_blocks(n4 ? n4 : n, CUDA_BLOCK), CUDA_BLOCK>>>(x, y, n4, n);
    CUDA_LAUNCHED("add");
}
