/* The process group of data-parallel training: MPI when cadenza was built with it and started by a
 * launcher, else a group of one. The only file of cadenza that calls MPI (cadenza/dist.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cadenza/dist.h"

#ifdef CDZ_HAVE_MPI
#include <mpi.h>
#endif

/* A whole number from the environment, or -1 when unset or not a number. */
static long env_long(const char *name) {
    const char *s = getenv(name);
    if (!s || !*s) return -1;
    char *end;
    long v = strtol(s, &end, 10);
    return *end || v < 0 ? -1 : v;
}

int cdz_dist_launched(void) {
    long n = env_long("OMPI_COMM_WORLD_SIZE"); /* Open MPI's mpirun */
    if (n < 0) n = env_long("PMI_SIZE");        /* MPICH's Hydra, Intel MPI, Slurm's PMI */
    if (n > INT_MAX) n = INT_MAX;
    if (n > 0) return (int)n;
    return getenv("PMIX_RANK") ? -1 : 0;        /* PMIx (Open MPI 5, srun --mpi=pmix) */
}

int cdz_dist_have_mpi(void) {
#ifdef CDZ_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

/* ---- a group of one ---- */

static cdz_status local_sum_f32(cdz_dist *d, float *x, size_t n, cdz_error *err) {
    (void)d, (void)x, (void)n, (void)err;
    return CDZ_OK;
}
static cdz_status local_sum_f64(cdz_dist *d, double *x, size_t n, cdz_error *err) {
    (void)d, (void)x, (void)n, (void)err;
    return CDZ_OK;
}
static cdz_status local_broadcast(cdz_dist *d, void *buf, size_t bytes, int root, cdz_error *err) {
    (void)d, (void)buf, (void)bytes;
    return root == 0 ? CDZ_OK : cdz_error_set(err, CDZ_ERR_ARG, "broadcast from rank %d in a group of one", root);
}
static void local_finalize(cdz_dist *d) { (void)d; }

static const cdz_dist_ops LOCAL_OPS = {"local", local_sum_f32, local_sum_f64, local_broadcast, NULL, local_finalize};

void cdz_dist_local(cdz_dist *d) {
    d->rank = 0, d->size = 1;
    d->ops = &LOCAL_OPS;
    d->impl = NULL;
}

/* ---- MPI ---- */

#ifdef CDZ_HAVE_MPI
/* MPI starts once per process, so its state is one static group. */
static struct mpi_group {
    MPI_Comm comm;
    int we_started; /* MPI_Init was ours, so MPI_Finalize is too */
} g_mpi;

static cdz_status mpi_error(cdz_error *err, int code, const char *what) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) len = 0;
    text[len < MPI_MAX_ERROR_STRING ? len : MPI_MAX_ERROR_STRING - 1] = 0;
    return cdz_error_set(err, CDZ_ERR_IO, "MPI %s failed: %s", what, len ? text : "unknown error");
}

/* MPI counts are int: long buffers go in pieces of at most INT_MAX elements. */
static cdz_status mpi_sum(cdz_dist *d, void *x, size_t n, MPI_Datatype type, size_t elem, cdz_error *err) {
    struct mpi_group *g = d->impl;
    for (size_t at = 0; at < n;) {
        int k = n - at > (size_t)INT_MAX ? INT_MAX : (int)(n - at);
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)x + at * elem, k, type, MPI_SUM, g->comm);
        if (rc != MPI_SUCCESS) return mpi_error(err, rc, "all-reduce");
        at += (size_t)k;
    }
    return CDZ_OK;
}
static cdz_status mpi_sum_f32(cdz_dist *d, float *x, size_t n, cdz_error *err) {
    return mpi_sum(d, x, n, MPI_FLOAT, sizeof *x, err);
}
static cdz_status mpi_sum_f64(cdz_dist *d, double *x, size_t n, cdz_error *err) {
    return mpi_sum(d, x, n, MPI_DOUBLE, sizeof *x, err);
}
static cdz_status mpi_broadcast(cdz_dist *d, void *buf, size_t bytes, int root, cdz_error *err) {
    struct mpi_group *g = d->impl;
    if (root < 0 || root >= d->size)
        return cdz_error_set(err, CDZ_ERR_ARG, "broadcast from rank %d in a group of %d", root, d->size);
    for (size_t at = 0; at < bytes;) {
        int k = bytes - at > (size_t)INT_MAX ? INT_MAX : (int)(bytes - at);
        int rc = MPI_Bcast((char *)buf + at, k, MPI_BYTE, root, g->comm);
        if (rc != MPI_SUCCESS) return mpi_error(err, rc, "broadcast");
        at += (size_t)k;
    }
    return CDZ_OK;
}
static void mpi_abort(cdz_dist *d, int code) {
    struct mpi_group *g = d->impl;
    MPI_Abort(g->comm, code);
}
static void mpi_finalize(cdz_dist *d) {
    struct mpi_group *g = d->impl;
    MPI_Comm_free(&g->comm);
    if (g->we_started) {
        int done = 0;
        MPI_Finalized(&done);
        if (!done) MPI_Finalize();
    }
    g->we_started = 0;
}

static const cdz_dist_ops MPI_OPS = {"mpi", mpi_sum_f32, mpi_sum_f64, mpi_broadcast, mpi_abort, mpi_finalize};
#endif

cdz_status cdz_dist_init(cdz_dist *d, int *argc, char ***argv, cdz_error *err) {
    cdz_dist_local(d);
    int launched = cdz_dist_launched();
    if (launched == 0) return CDZ_OK;
#ifdef CDZ_HAVE_MPI
    int up = 0, rc = MPI_Initialized(&up);
    if (rc == MPI_SUCCESS && !up) {
        rc = MPI_Init(argc && argv ? argc : NULL, argc && argv ? argv : NULL);
        g_mpi.we_started = rc == MPI_SUCCESS;
    }
    if (rc != MPI_SUCCESS) return mpi_error(err, rc, "start (MPI_Init)");
    /* a communicator of our own, whose errors come back as codes instead of ending the job */
    rc = MPI_Comm_dup(MPI_COMM_WORLD, &g_mpi.comm);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_set_errhandler(g_mpi.comm, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(g_mpi.comm, &d->rank);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(g_mpi.comm, &d->size);
    if (rc != MPI_SUCCESS) {
        if (g_mpi.we_started) MPI_Finalize();
        g_mpi.we_started = 0;
        cdz_dist_local(d);
        return mpi_error(err, rc, "set-up of the communicator");
    }
    d->ops = &MPI_OPS;
    d->impl = &g_mpi;
    return CDZ_OK;
#else
    (void)argc, (void)argv;
    if (launched == 1) return CDZ_OK;
    if (launched < 0 && env_long("PMIX_RANK") == 0) return CDZ_OK; /* could be a launch of one */
    return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "started by an MPI launcher (%s ranks) but this cadenza was "
                         "built without MPI: install Open MPI (libopenmpi-dev) or MPICH and rebuild",
                         launched > 0 ? "several" : "an unknown number of");
#endif
}

void cdz_dist_finalize(cdz_dist *d) {
    if (d->ops && d->ops->finalize) d->ops->finalize(d);
    cdz_dist_local(d);
}

cdz_status cdz_dist_allreduce_sum_f32(cdz_dist *d, float *x, size_t n, cdz_error *err) {
    return d->size > 1 ? d->ops->allreduce_sum_f32(d, x, n, err) : CDZ_OK;
}

cdz_status cdz_dist_allreduce_sum_f64(cdz_dist *d, double *x, size_t n, cdz_error *err) {
    return d->size > 1 ? d->ops->allreduce_sum_f64(d, x, n, err) : CDZ_OK;
}

cdz_status cdz_dist_broadcast(cdz_dist *d, void *buf, size_t bytes, int root, cdz_error *err) {
    return d->ops->broadcast(d, buf, bytes, root, err);
}

void cdz_dist_abort(cdz_dist *d, int code) {
    if (d->size > 1 && d->ops->abort) d->ops->abort(d, code);
}
