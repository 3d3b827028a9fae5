/* Shared by the files of src/midi/ only. */
#ifndef CADENZA_MIDI_INTERNAL_H
#define CADENZA_MIDI_INTERNAL_H
#include "cadenza/midi.h"
#endif
