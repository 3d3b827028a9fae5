/* A program of one's own that uses cadenza as a shared library: it loads a melody model, asks the
 * library's generator for eight bars after middle C, and writes them as a MIDI file. It includes only
 * the public header and links libcadenza.so:
 *
 *   cc generate_melody.c -Iinclude -Lbuild -lcadenza -o generate_melody
 *   ./generate_melody models/attention_rnn.safetensors melody.mid [seed]
 *
 * (`make` builds it as build/examples/generate_melody.) */
#include <stdio.h>
#include <stdlib.h>

#include "cadenza.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.safetensors OUT.mid [seed]\n", argv[0]);
        return 2;
    }
    cdz_error err = {0};
    cdz_model *model = NULL;
    if (cdz_checkpoint_load(argv[1], &model, &err) != CDZ_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    cdz_gen_request rq = cdz_gen_default_request(); /* no primer: the model's own start */
    rq.unit = CDZ_LEN_BARS;
    rq.length = 8;
    rq.seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    cdz_gen_result res;
    int rc = 0;
    if (cdz_generate_score(model, &rq, &res, &err) != CDZ_OK) {
        fprintf(stderr, "%s\n", err.msg);
        rc = 1;
    } else {
        const cdz_score *s = &res.scores[0];
        if (cdz_score_write_file(s, argv[2], 1, &err) != CDZ_OK) {
            fprintf(stderr, "%s\n", err.msg);
            rc = 1;
        } else {
            printf("%s: %s model %s, %zu notes, %.1f s at %.0f qpm, log-likelihood %.2f\n", argv[2],
                   cdz_model_kind_name(model), cdz_model_config_name(model), s->n_notes, s->duration_s, res.qpm,
                   res.loglik[0]);
        }
        cdz_gen_result_free(&res);
    }
    cdz_model_free(model);
    return rc;
}
