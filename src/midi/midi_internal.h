/* Shared by the files of src/midi/ only. */
#ifndef CADENZA_MIDI_INTERNAL_H
#define CADENZA_MIDI_INTERNAL_H
#include "cadenza/midi.h"

/* cdz_midi_channel_data_len for the reader's and writer's loops, inlined. */
static inline int midi_data_len(uint8_t status) {
    uint8_t k = status & 0xF0;
    return (k == CDZ_MIDI_PROGRAM_CHANGE || k == CDZ_MIDI_CHANNEL_PRESSURE) ? 1 : 2;
}
#endif
