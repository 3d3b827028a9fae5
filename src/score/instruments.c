/* Instrument summaries and General MIDI names. */
#include "score_internal.h"

#include <string.h>

typedef struct inst_key {
    cdz_instrument inst;
    size_t first; /* index of its first note */
} inst_key;

static int by_group(const void *pa, const void *pb) {
    const inst_key *a = pa, *b = pb;
    if (a->inst.track != b->inst.track) return a->inst.track < b->inst.track ? -1 : 1;
    if (a->inst.channel != b->inst.channel) return a->inst.channel < b->inst.channel ? -1 : 1;
    if (a->inst.program != b->inst.program) return a->inst.program < b->inst.program ? -1 : 1;
    return (a->first > b->first) - (a->first < b->first);
}

static int by_first(const void *pa, const void *pb) {
    const inst_key *a = pa, *b = pb;
    return (a->first > b->first) - (a->first < b->first);
}

cdz_status cdz_score_instruments(const cdz_score *s, cdz_instrument **out, size_t *n, cdz_error *err) {
    *out = NULL;
    *n = 0;
    if (s->n_notes == 0) return CDZ_OK;
    /* Sort (group, first index) pairs so grouping is O(n log n) however many instruments there are. */
    inst_key *k = cdz_calloc(s->n_notes, sizeof *k);
    if (!k) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory listing instruments");
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *nt = &s->notes[i];
        k[i] = (inst_key){{nt->track, nt->channel, nt->program, nt->is_drum, 1}, i};
    }
    qsort(k, s->n_notes, sizeof *k, by_group);
    size_t groups = 0;
    for (size_t i = 0; i < s->n_notes; i++) {
        if (groups && by_group(&(inst_key){k[i].inst, 0}, &(inst_key){k[groups - 1].inst, 0}) == 0)
            k[groups - 1].inst.n_notes++;
        else
            k[groups++] = k[i];
    }
    qsort(k, groups, sizeof *k, by_first);
    cdz_instrument *r = cdz_calloc(groups, sizeof *r);
    if (!r) {
        cdz_free(k);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory listing instruments");
    }
    for (size_t i = 0; i < groups; i++) r[i] = k[i].inst;
    cdz_free(k);
    *out = r;
    *n = groups;
    return CDZ_OK;
}

static const char *const GM_NAMES[128] = {
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet", "Celesta", "Glockenspiel", "Music Box",
    "Vibraphone", "Marimba", "Xylophone", "Tubular Bells", "Dulcimer", "Drawbar Organ", "Percussive Organ",
    "Rock Organ", "Church Organ", "Reed Organ", "Accordion", "Harmonica", "Tango Accordion",
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)", "Electric Guitar (clean)",
    "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar", "Guitar Harmonics", "Acoustic Bass",
    "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass", "Slap Bass 1", "Slap Bass 2",
    "Synth Bass 1", "Synth Bass 2", "Violin", "Viola", "Cello", "Contrabass", "Tremolo Strings",
    "Pizzicato Strings", "Orchestral Harp", "Timpani", "String Ensemble 1", "String Ensemble 2",
    "Synth Strings 1", "Synth Strings 2", "Choir Aahs", "Voice Oohs", "Synth Voice", "Orchestra Hit", "Trumpet",
    "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section", "Synth Brass 1", "Synth Brass 2",
    "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe", "English Horn", "Bassoon", "Clarinet",
    "Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)", "Lead 5 (charang)",
    "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)", "Pad 1 (new age)", "Pad 2 (warm)",
    "Pad 3 (polysynth)", "Pad 4 (choir)", "Pad 5 (bowed)", "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)",
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)", "FX 5 (brightness)",
    "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)", "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba",
    "Bagpipe", "Fiddle", "Shanai", "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum",
    "Melodic Tom", "Synth Drum", "Reverse Cymbal", "Guitar Fret Noise", "Breath Noise", "Seashore",
    "Bird Tweet", "Telephone Ring", "Helicopter", "Applause", "Gunshot",
};

const char *cdz_gm_program_name(uint8_t program, int is_drum) {
    if (is_drum) return "Drums";
    return program < 128 ? GM_NAMES[program] : "Unknown";
}
