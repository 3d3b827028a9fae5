/* libFuzzer target for the MIDI reader, the writer and the score conversion (see midi_oracle.h).
 * Build and run: make fuzz. Without libFuzzer, replay_main.c gives it a plain main. */
#include <stdio.h>
#include <stdlib.h>

#include "midi_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *fail = midi_oracle(data, size);
    if (fail) {
        fprintf(stderr, "midi oracle: %s\n", fail);
        abort();
    }
    return 0;
}
