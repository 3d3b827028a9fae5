/* Data-parallel training (cadenza/dist.h, `mpirun -np 2 cadenza train`): a group of one without a
 * launcher; the same losses, evaluation and final parameters from 2 MPI ranks as from 1 process with
 * the same global batch and seed, without dropout and with it (attention_rnn); rank 0 alone logs and
 * writes; resume; a batch that the ranks cannot
 * share is a usage error. Runs the built program given as argv[1] (default build/cadenza) from the
 * repository root. Without mpirun, or where it cannot start two ranks here, the MPI part prints
 * "SKIPPED: <reason>" and passes. */
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static const char *prog;
static char dir[] = "/tmp/cadenza_dist_XXXXXX";
static char out_path[300], err_path[300];
static char out[1 << 16], err[1 << 16];

/* Runs a shell command line, capturing stdout and stderr; returns the exit status (-1: killed). */
static int sh(const char *cmd) { return test_shell(cmd, out_path, err_path, out, sizeof out, err, sizeof err); }

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}


/* The "loss" (or "eval_loss") of each logged step of a --log file, by step (NAN where none). */
static int read_losses(const char *path, const char *key, double *loss, int max_step) {
    for (int i = 0; i <= max_step; i++) loss[i] = NAN;
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[1024], pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        const char *v = strstr(line, pat);
        int step;
        if (!v || sscanf(line, "{\"step\":%d", &step) != 1 || step < 0 || step > max_step) continue;
        loss[step] = atof(v + strlen(pat));
        n++;
    }
    fclose(f);
    return n;
}

/* The largest difference between two checkpoints' parameters (INFINITY when either does not load or
 * their shapes differ). */
static double param_diff(const char *a, const char *b) {
    cdz_model *ma = NULL, *mb = NULL;
    cdz_error e = {0};
    if (cdz_checkpoint_load(a, &ma, &e) != CDZ_OK) return INFINITY;
    if (cdz_checkpoint_load(b, &mb, &e) != CDZ_OK) {
        cdz_model_free(ma);
        return INFINITY;
    }
    double worst = ma->n_params == mb->n_params ? 0 : INFINITY;
    for (size_t i = 0; i < ma->n_params && i < mb->n_params; i++) {
        double dv = fabs((double)ma->params[i] - (double)mb->params[i]);
        if (!(dv <= worst)) worst = dv;
    }
    cdz_model_free(ma);
    cdz_model_free(mb);
    return worst;
}

/* Without a launcher in the environment the group is this process alone, and its collectives leave
 * the data as it is. */
static void test_local_group(void) {
    cdz_dist d;
    cdz_error e = {0};
    if (cdz_dist_launched() != 0) {
        printf("note: this test itself runs under an MPI launcher; skipping the local-group checks\n");
        return;
    }
    CHECK_INT(cdz_dist_init(&d, NULL, NULL, &e), CDZ_OK);
    CHECK_INT(d.rank, 0);
    CHECK_INT(d.size, 1);
    CHECK(strcmp(d.ops->name, "local") == 0, "backend %s", d.ops->name);
    float x[3] = {1, 2, 3};
    double y[2] = {4, 5};
    CHECK_INT(cdz_dist_allreduce_sum_f32(&d, x, 3, &e), CDZ_OK);
    CHECK_INT(cdz_dist_allreduce_sum_f64(&d, y, 2, &e), CDZ_OK);
    CHECK(x[0] == 1 && x[2] == 3 && y[1] == 5, "a group of one sums to itself");
    CHECK_INT(cdz_dist_broadcast(&d, x, sizeof x, 0, &e), CDZ_OK);
    CHECK_INT(cdz_dist_broadcast(&d, x, sizeof x, 1, &e), CDZ_ERR_ARG);
    cdz_dist_finalize(&d);
    CHECK_INT(d.size, 1);
}

/* The group of two the trainer would get from mpirun, without its collectives (used only for the
 * batch check, which makes none). */
static cdz_status no_sum_f32(cdz_dist *d, float *x, size_t n, cdz_error *e) {
    (void)d, (void)x, (void)n;
    return cdz_error_set(e, CDZ_ERR_UNSUPPORTED, "not in this test");
}

static void test_batch_share(const char *data) {
    cdz_model *m = NULL;
    cdz_dataset ds;
    cdz_trainer t;
    cdz_error e = {0};
    if (cdz_dataset_open(&ds, data, &e) != CDZ_OK || cdz_model_create(&m, "melody_rnn", "tiny_attention", &e) != CDZ_OK) {
        CHECK(0, "set-up: %s", e.msg);
        return;
    }
    cdz_train_config c = cdz_train_config_for(m);
    c.batch = 9, c.seq = 8;
    CHECK_INT(cdz_trainer_init(&t, m, &ds, &c, &e), CDZ_OK);
    cdz_dist_ops ops = {"fake", no_sum_f32, NULL, NULL, NULL, NULL};
    cdz_dist two = {1, 2, &ops, NULL};
    CHECK_INT(cdz_trainer_distribute(&t, &two, &e), CDZ_ERR_ARG);
    CHECK_STR_CONTAINS(e.msg, "a batch of 9 windows cannot be shared equally among 2 ranks");
    CHECK(t.dist == NULL, "the trainer stays on one process");
    cdz_dist one;
    cdz_dist_local(&one);
    CHECK_INT(cdz_trainer_distribute(&t, &one, &e), CDZ_OK);
    CHECK(t.dist == NULL, "a group of one changes nothing");
    cdz_trainer_free(&t);
    cdz_model_free(m);
    cdz_dataset_close(&ds);
}

/* `mpirun -np 2 test_dist --worker DATA`: the library under MPI. Each rank checks the collectives,
 * the shared evaluation against cdz_evaluate (every stopping point of --eval-tokens) and the replica
 * check, and prints its own summary line ("rank0: ...", "rank1: ..."). */
static int worker(const char *data) {
    cdz_dist d;
    cdz_error e = {0};
    if (cdz_dist_init(&d, NULL, NULL, &e) != CDZ_OK) {
        printf("FAIL: %s\n", e.msg);
        return 1;
    }
    CHECK_INT(d.size, 2);
    CHECK_INT(cdz_dist_launched(), 2);
    CHECK(strcmp(d.ops->name, "mpi") == 0, "backend %s", d.ops->name);
    float x[3] = {(float)d.rank + 1, 10.0f * ((float)d.rank + 1), -1};
    double y = 0.5 * (d.rank + 1);
    int v = d.rank == 1 ? 42 : 0;
    CHECK_INT(cdz_dist_allreduce_sum_f32(&d, x, 3, &e), CDZ_OK);
    CHECK_INT(cdz_dist_allreduce_sum_f64(&d, &y, 1, &e), CDZ_OK);
    CHECK_INT(cdz_dist_broadcast(&d, &v, sizeof v, 1, &e), CDZ_OK);
    CHECK(x[0] == 3 && x[1] == 30 && x[2] == -2 && y == 1.5 && v == 42, "sums %g %g %g %g, broadcast %d", x[0], x[1],
          x[2], y, v);
    CHECK_INT(cdz_dist_broadcast(&d, &v, sizeof v, 2, &e), CDZ_ERR_ARG);

    cdz_dataset ds;
    cdz_model *m = NULL;
    if (cdz_dataset_open(&ds, data, &e) != CDZ_OK || cdz_model_create(&m, "melody_rnn", "tiny_attention", &e) != CDZ_OK) {
        CHECK(0, "set-up: %s", e.msg);
        cdz_dist_finalize(&d);
        return test_summary(d.rank ? "rank1" : "rank0");
    }
    cdz_model_init_params(m, 3);
    /* batches of 2 windows of 8 tokens: a dozen rounds, stopping anywhere in one */
    const int64_t limits[4] = {0, 40, 57, 100};
    for (int k = 0; k < 4; k++) {
        cdz_loss_stats a, b;
        CHECK_INT(cdz_evaluate(m, &ds, CDZ_SPLIT_EVAL, 2, 8, limits[k], &a, &e), CDZ_OK);
        CHECK_INT(cdz_evaluate_dist(m, &ds, CDZ_SPLIT_EVAL, 2, 8, limits[k], &d, &b, &e), CDZ_OK);
        CHECK_INT(b.tokens, a.tokens);
        CHECK_INT(b.correct, a.correct);
        /* the same float terms added in double, per batch first: ~1e-16 relative */
        CHECK_NEAR(b.loss_sum, a.loss_sum, 1e-9 * a.loss_sum);
    }
    cdz_loss_stats none;
    CHECK_INT(cdz_evaluate_dist(m, &ds, CDZ_SPLIT_TEST, 2, 8, 0, &d, &none, &e), CDZ_ERR_ARG);

    /* replicas: equal after set-up; rank 1's copy changed is found and replaced by rank 0's */
    cdz_trainer t;
    cdz_train_config c = cdz_train_config_for(m);
    c.batch = 4, c.seq = 8;
    int differ = -1;
    CHECK_INT(cdz_trainer_init(&t, m, &ds, &c, &e), CDZ_OK);
    CHECK_INT(cdz_trainer_distribute(&t, &d, &e), CDZ_OK);
    CHECK_INT(cdz_trainer_check_replicas(&t, &differ, &e), CDZ_OK);
    CHECK_INT(differ, 0);
    float first = m->params[0];
    if (d.rank == 1) m->params[0] += 1, t.v[5] = 1;
    CHECK_INT(cdz_trainer_check_replicas(&t, &differ, &e), CDZ_OK);
    CHECK_INT(differ, 1);
    CHECK(m->params[0] == first && t.v[5] == 0, "rank 0's copy everywhere: %g %g", m->params[0], t.v[5]);
    CHECK_INT(cdz_trainer_check_replicas(&t, &differ, &e), CDZ_OK);
    CHECK_INT(differ, 0);
    /* a step on 2 ranks */
    cdz_train_step_info info;
    CHECK_INT(cdz_trainer_step(&t, &info, &e), CDZ_OK);
    CHECK(info.tokens > 0 && isfinite(info.loss), "step: %lld tokens, loss %g", (long long)info.tokens, info.loss);
    CHECK_INT(cdz_trainer_check_replicas(&t, &differ, &e), CDZ_OK);
    CHECK_INT(differ, 0);
    cdz_trainer_free(&t);
    cdz_model_free(m);
    cdz_dataset_close(&ds);
    int rank = d.rank;
    cdz_dist_finalize(&d);
    return test_summary(rank ? "rank1" : "rank0");
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "--worker") == 0) return worker(argv[2]);
    prog = argc > 1 ? argv[1] : "build/cadenza";
    const char *self = argv[0];
    if (!mkdtemp(dir)) return 1;
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    snprintf(err_path, sizeof err_path, "%s/err", dir);
    test_local_group();

    /* a tiny dataset and a dropout-free config (dropout is checked further down) */
    char tunes[300], data[300], cfg[300], cmd[4096];
    snprintf(tunes, sizeof tunes, "%s/tunes", dir);
    snprintf(data, sizeof data, "%s/tunes.cdz", dir);
    snprintf(cfg, sizeof cfg, "%s/small.json", dir);
    mkdir(tunes, 0777);
    test_write_melodies(tunes, 10, 1);
    snprintf(cmd, sizeof cmd, "%s dataset build --codec key_melody2 --in %s --out %s --eval-fraction 0.3", prog, tunes, data);
    CHECK_INT(sh(cmd), 0);
    test_batch_share(data);
    FILE *f = fopen(cfg, "w");
    if (f) {
        fputs("{\"kind\":\"melody_rnn\",\"config_name\":\"small\",\"codec\":\"key_melody2\",\"input\":\"key_melody\","
              "\"layers\":2,\"hidden\":24,\"attn_length\":4,\"dropout_keep\":1,\"batch\":8,\"seq\":160,\"lr\":0.01,"
              "\"clip\":1,\"weight_decay\":0.01,\"warmup_steps\":0}", f);
        fclose(f);
    }
    const int steps = 10, more = 14;
    /* --transpose draws from the shared rng too, so it checks that the ranks keep it in step */
    char common[1200];
    snprintf(common, sizeof common, "train --data %s --config %s --batch 8 --seed 5 --transpose -2:2 --eval-every 5 "
             "--eval-tokens 0 --log-every 1 --checkpoint-every 100", data, cfg);
    snprintf(cmd, sizeof cmd, "%s %s --steps %d --out %s/one.safetensors --log %s/one.jsonl", prog, common, steps, dir, dir);
    CHECK_INT(sh(cmd), 0);
    CHECK(strstr(err, "data-parallel") == NULL, "one process says nothing of ranks: %s", err);

    /* Can mpirun start two ranks of cadenza here? Open MPI refuses root without --allow-run-as-root,
     * and more ranks than cores without --oversubscribe; plm isolated needs no ssh/rsh and the vader
     * (shared memory) transport no network, as in a container. */
    char mpirun[600];
    int have = sh("mpirun --version") == 0;
    int ompi = have && (strstr(out, "Open MPI") || strstr(err, "Open MPI"));
    snprintf(mpirun, sizeof mpirun, "mpirun %s-np 2", ompi ? "--allow-run-as-root --oversubscribe --bind-to none "
             "--mca plm isolated --mca btl self,vader -x OPENBLAS_NUM_THREADS=1 " : "");
    snprintf(cmd, sizeof cmd, "%s %s train --print-config --config basic_rnn", mpirun, prog);
    int probe = have ? sh(cmd) : -1;
    if (have && probe != 0) {
        /* without plm isolated (older Open MPI) */
        snprintf(mpirun, sizeof mpirun, "mpirun %s-np 2", ompi ? "--allow-run-as-root --oversubscribe --bind-to none "
                 "-x OPENBLAS_NUM_THREADS=1 " : "");
        snprintf(cmd, sizeof cmd, "%s %s train --print-config --config basic_rnn", mpirun, prog);
        probe = sh(cmd);
    }
    if (!have || probe != 0 || count(out, "\"config_name\":\"basic_rnn\"") != 1) {
        char why[200] = "mpirun is not installed";
        if (have) {
            snprintf(why, sizeof why, "mpirun could not start 2 ranks (status %d): %.150s", probe, err);
            for (char *p = why; *p; p++)
                if (*p == '\n') *p = ' ';
        }
        printf("SKIPPED: %s\n", why);
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) printf("note: could not remove %s\n", dir);
        return test_summary("test_dist");
    }
    CHECK_INT(count(out, "\"config_name\":\"basic_rnn\""), 1); /* rank 0 alone prints */

    /* the same run on 2 ranks */
    snprintf(cmd, sizeof cmd, "%s %s %s --steps %d --out %s/two.safetensors --log %s/two.jsonl", mpirun, prog, common,
             steps, dir, dir);
    CHECK_INT(sh(cmd), 0);
    CHECK_STR_CONTAINS(err, "data-parallel over 2 ranks (MPI), batch 8 = 2 x 4");
    CHECK_INT(count(err, "data-parallel over"), 1);
    CHECK_INT(count(err, "training melody_rnn/small"), 1);
    CHECK_INT(count(err, "checkpoint: "), 1);
    CHECK_INT(count(err, "eval at step 5"), 1);
    if (t_failed) printf("2-rank stderr:\n%s\n", err);

    /* Tolerances: the 2 ranks add the same float32 terms in another order (matrix products over 4 rows
     * instead of 8, each rank's mean weighted by its tokens, then the all-reduce), about 1e-7 relative
     * per sum, and 10 AdamW steps at lr 0.01 carry that into parameters that move ~1e-1 in all.
     * Measured here: the logged losses equal at their 6 decimals (1e-6 at most), parameters within 1e-5.
     * Tried by hand, weighting the ranks' gradients equally instead of by their tokens (the windows here
     * hold 128 to 161 tokens) moved the losses by 2e-4 to 3e-4 and the parameters by 9e-3 within these
     * steps: 5e-5 for the losses and 1e-4 for the parameters sit between the two (50 and 10 times
     * above the noise, 4 and 90 times below that error). */
    const double tol = 5e-5, ptol = 1e-4;
    double one[32], two[32], eone[32], etwo[32];
    char path1[400], path2[400];
    snprintf(path1, sizeof path1, "%s/one.jsonl", dir);
    snprintf(path2, sizeof path2, "%s/two.jsonl", dir);
    CHECK_INT(read_losses(path1, "loss", one, 31), steps);
    CHECK_INT(read_losses(path2, "loss", two, 31), steps); /* one line per step: rank 1 logged nothing */
    double worst = 0;
    for (int s = 1; s <= steps; s++) {
        CHECK_NEAR(two[s], one[s], tol);
        if (fabs(two[s] - one[s]) > worst) worst = fabs(two[s] - one[s]);
    }
    CHECK(one[steps] < one[1], "the loss falls: %g to %g", one[1], one[steps]);
    CHECK_INT(read_losses(path1, "eval_loss", eone, 31), 2); /* steps 5 and 10 */
    CHECK_INT(read_losses(path2, "eval_loss", etwo, 31), 2);
    CHECK_NEAR(etwo[5], eone[5], tol);
    CHECK_NEAR(etwo[steps], eone[steps], tol);
    snprintf(path1, sizeof path1, "%s/one.safetensors", dir);
    snprintf(path2, sizeof path2, "%s/two.safetensors", dir);
    double pd = param_diff(path1, path2);
    CHECK(pd <= ptol, "final parameters differ by %g (tolerance %g)", pd, ptol);
    printf("1 vs 2 ranks: losses within %.3g, parameters within %.3g over %d steps\n", worst, pd, steps);
    /* nothing else written: no temporary checkpoint of another rank, no extra file */
    snprintf(cmd, sizeof cmd, "ls %s", dir);
    sh(cmd);
    CHECK_INT(count(out, "\n"), 9); /* err, out, small.json, tunes, tunes.cdz, one.jsonl, one.safetensors, two.* */

    /* resume: 2 ranks from the 2-rank checkpoint and 1 process from its own go on alike */
    snprintf(cmd, sizeof cmd, "%s train --data %s --resume %s --steps %d --log %s/one.jsonl --log-every 1", prog, data,
             path1, more, dir);
    CHECK_INT(sh(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s %s train --data %s --resume %s --steps %d --log %s/two.jsonl --log-every 1", mpirun,
             prog, data, path2, more, dir);
    CHECK_INT(sh(cmd), 0);
    CHECK_STR_CONTAINS(err, "steps 10 to 14, batch 8 x 160 tokens");
    snprintf(path1, sizeof path1, "%s/one.jsonl", dir);
    snprintf(path2, sizeof path2, "%s/two.jsonl", dir);
    read_losses(path1, "loss", one, 31);
    read_losses(path2, "loss", two, 31);
    for (int s = steps + 1; s <= more; s++) CHECK_NEAR(two[s], one[s], tol);

    /* With dropout: attention_rnn itself (dropout keep 0.5 on both LSTM layers' outputs), at a short
     * window. Each window's masks are drawn by its index in the global batch, so 2 ranks give the
     * losses and parameters of 1 process as without dropout (the same tolerances: the same float sums
     * in another order). Measured here: the losses equal at their 6 decimals, parameters within
     * 5e-6. When each rank drew its masks from a stream of its own (before masks were keyed by the
     * window's index), the same runs' losses differed by 1.6e-3 at the first step and 6e-2 by the
     * sixth. */
    snprintf(common, sizeof common, "train --data %s --config attention_rnn --batch 8 --seq 48 --seed 9 --transpose -2:2 "
             "--eval-every 3 --eval-tokens 0 --log-every 1 --checkpoint-every 100", data);
    const int dsteps = 6;
    snprintf(cmd, sizeof cmd, "%s %s --steps %d --out %s/drop1.safetensors --log %s/drop1.jsonl", prog, common, dsteps, dir,
             dir);
    CHECK_INT(sh(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s %s %s --steps %d --out %s/drop2.safetensors --log %s/drop2.jsonl", mpirun, prog, common,
             dsteps, dir, dir);
    CHECK_INT(sh(cmd), 0);
    CHECK_STR_CONTAINS(err, "training melody_rnn/attention_rnn");
    snprintf(path1, sizeof path1, "%s/drop1.jsonl", dir);
    snprintf(path2, sizeof path2, "%s/drop2.jsonl", dir);
    CHECK_INT(read_losses(path1, "loss", one, 31), dsteps);
    CHECK_INT(read_losses(path2, "loss", two, 31), dsteps);
    worst = 0;
    for (int s = 1; s <= dsteps; s++) {
        CHECK_NEAR(two[s], one[s], tol);
        if (fabs(two[s] - one[s]) > worst) worst = fabs(two[s] - one[s]);
    }
    CHECK_INT(read_losses(path1, "eval_loss", eone, 31), 2); /* steps 3 and 6 */
    CHECK_INT(read_losses(path2, "eval_loss", etwo, 31), 2);
    CHECK_NEAR(etwo[3], eone[3], tol);
    CHECK_NEAR(etwo[dsteps], eone[dsteps], tol);
    snprintf(path1, sizeof path1, "%s/drop1.safetensors", dir);
    snprintf(path2, sizeof path2, "%s/drop2.safetensors", dir);
    pd = param_diff(path1, path2);
    CHECK(pd <= ptol, "with dropout: final parameters differ by %g (tolerance %g)", pd, ptol);
    printf("attention_rnn with dropout, 1 vs 2 ranks: losses within %.3g, parameters within %.3g over %d steps\n", worst,
           pd, dsteps);

    /* a global batch the ranks cannot share: a usage error, said once */
    snprintf(cmd, sizeof cmd, "%s %s train --data %s --config %s --batch 9 --steps 1 --out %s/odd.safetensors", mpirun,
             prog, data, cfg, dir);
    CHECK_INT(sh(cmd), 2);
    CHECK_STR_CONTAINS(err, "a batch of 9 windows cannot be shared equally among 2 ranks");
    CHECK_INT(count(err, "cannot be shared"), 1);
    snprintf(path1, sizeof path1, "%s/odd.safetensors", dir);
    struct stat st;
    CHECK(stat(path1, &st) != 0, "no checkpoint for a run that did not start");

    /* the library under MPI (this program as 2 ranks) */
    snprintf(cmd, sizeof cmd, "%s %s --worker %s", mpirun, self, data);
    int wrc = sh(cmd);
    CHECK_INT(wrc, 0);
    CHECK_STR_CONTAINS(out, "rank0: ");
    CHECK_STR_CONTAINS(out, "rank1: ");
    CHECK_INT(count(out, " 0 failed"), 2);
    if (wrc || count(out, " 0 failed") != 2) printf("the 2 ranks of --worker said:\n%s%s\n", out, err);

    /* a failure only rank 1 sees (its own --data): rank 1 says why, rank 0 stops too, nothing written */
    snprintf(cmd, sizeof cmd, "%s sh -c 'if [ \"${OMPI_COMM_WORLD_RANK:-$PMI_RANK}\" = 1 ]; then d=%s/missing.cdz; "
             "else d=%s; fi; exec %s train --data $d --config %s --steps 2 --out %s/odd.safetensors'", mpirun, dir, data,
             prog, cfg, dir);
    CHECK_INT(sh(cmd), 1);
    CHECK_STR_CONTAINS(err, "cadenza: rank 1: ");
    CHECK_STR_CONTAINS(err, "missing.cdz");
    CHECK_STR_CONTAINS(err, "1 of 2 ranks failed (rank 1 says why)");
    CHECK(stat(path1, &st) != 0, "no checkpoint for a run that did not start");

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", dir);
    return test_summary("test_dist");
}
