/* cadenza dist: the group of processes of a data-parallel training run (MPI on CPUs), and a
 * one-process group that needs nothing.
 *
 *   cdz_dist d;
 *   if (cdz_dist_init(&d, &argc, &argv, &err) != CDZ_OK) ...   // MPI only when started by mpirun
 *   printf("rank %d of %d (%s)\n", d.rank, d.size, d.ops->name);
 *   cdz_dist_allreduce_sum_f32(&d, grads, n, &err);             // in place: the sum over every rank
 *   cdz_dist_broadcast(&d, params, n * sizeof *params, 0, &err); // rank 0's bytes everywhere
 *   cdz_dist_finalize(&d);
 *
 * cdz_dist_init starts MPI only when the environment shows a launcher started this process
 * (OMPI_COMM_WORLD_SIZE from Open MPI, PMI_SIZE from MPICH's Hydra, PMIX_RANK from PMIx), so a plain
 * `cadenza train` never touches MPI; without MPI at build time (no CDZ_HAVE_MPI) every group is one
 * process, and a launch of several ranks is refused rather than run as several copies of one job.
 *
 * The collectives go through a table of operations (cdz_dist_ops), so another backend (NCCL
 * all-reduce over GPU buffers) can be plugged in beside MPI without touching the training loop.
 * Every call but cdz_dist_launched is collective: each rank makes the same calls in the same order,
 * from one thread. Results of the reductions are identical on every rank (a sum reduced once and
 * shared), which keeps the ranks' parameters identical step after step. All the MPI calls of
 * cadenza live in src/train/dist.c. */
#ifndef CADENZA_DIST_H
#define CADENZA_DIST_H

#include <stddef.h>

#include "cadenza/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cdz_dist cdz_dist;

/* A backend: in-place sums over all ranks (every rank gets the same result), a broadcast of a root's
 * bytes, and the end of the group. */
typedef struct cdz_dist_ops {
    const char *name; /* "local", "mpi" */
    cdz_status (*allreduce_sum_f32)(cdz_dist *d, float *x, size_t n, cdz_error *err);
    cdz_status (*allreduce_sum_f64)(cdz_dist *d, double *x, size_t n, cdz_error *err);
    cdz_status (*broadcast)(cdz_dist *d, void *buf, size_t bytes, int root, cdz_error *err);
    void (*abort)(cdz_dist *d, int code); /* ends every rank at once; NULL: nothing to end */
    void (*finalize)(cdz_dist *d);
} cdz_dist_ops;

struct cdz_dist {
    int rank, size; /* this process's rank in [0, size) */
    const cdz_dist_ops *ops;
    void *impl;     /* the backend's own state (MPI: its communicator) */
};

/* The number of ranks a launcher announced in the environment (Open MPI, MPICH/Hydra, PMIx); 0 when
 * this process was not started by one (and -1 when one started it without saying how many). */
CDZ_API int cdz_dist_launched(void);
/* 1 when this build can join an MPI launch (compiled with CDZ_HAVE_MPI). */
CDZ_API int cdz_dist_have_mpi(void);
/* A group of one: rank 0 of 1; the collectives copy nothing. */
CDZ_API void cdz_dist_local(cdz_dist *d);
/* MPI when launched by mpirun (see above), else a group of one. Fails when launched as several ranks
 * by a build without MPI, or when MPI cannot start. argc and argv may be NULL. */
CDZ_API cdz_status cdz_dist_init(cdz_dist *d, int *argc, char ***argv, cdz_error *err);
CDZ_API void cdz_dist_finalize(cdz_dist *d);

CDZ_API cdz_status cdz_dist_allreduce_sum_f32(cdz_dist *d, float *x, size_t n, cdz_error *err);
CDZ_API cdz_status cdz_dist_allreduce_sum_f64(cdz_dist *d, double *x, size_t n, cdz_error *err);
CDZ_API cdz_status cdz_dist_broadcast(cdz_dist *d, void *buf, size_t bytes, int root, cdz_error *err);
/* Ends every rank with `code` (MPI_Abort), for a collective that failed on some ranks only, where
 * waiting for the others could last forever. A group of one does nothing: its caller returns. */
CDZ_API void cdz_dist_abort(cdz_dist *d, int code);

#ifdef __cplusplus
}
#endif
#endif
