/* A plain main for a fuzz target: replays every file given, or every file under given folders (the
 * seed corpus), so the corpus runs under ASan/UBSan in `make test` without libFuzzer. The Makefile
 * names each replay program (-DREPLAY_NAME="\"replay_cdz\""), the name of its summary line. */
#include <stdio.h>

#include "cadenza.h"

#ifndef REPLAY_NAME
#define REPLAY_NAME "replay_midi"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
    size_t replayed = 0;
    for (int i = 1; i < argc; i++) {
        char **paths;
        size_t n;
        cdz_error err;
        if (cdz_file_list(argv[i], NULL, &paths, &n, &err) != CDZ_OK) {
            printf("%s\n", err.msg);
            printf(REPLAY_NAME ": 0 passed, 1 failed\n");
            return 1;
        }
        for (size_t k = 0; k < n; k++) {
            uint8_t *bytes;
            size_t len;
            if (cdz_file_read_all(paths[k], &bytes, &len, &err) != CDZ_OK) continue;
            LLVMFuzzerTestOneInput(bytes, len); /* aborts on a failed property */
            cdz_free(bytes);
            replayed++;
        }
        cdz_file_list_free(paths, n);
    }
    printf("replayed %zu inputs\n", replayed);
    printf(REPLAY_NAME ": %zu passed, 0 failed\n", replayed);
    return 0;
}
