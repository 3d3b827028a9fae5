/* Shared by the files of src/codec/ only. */
#ifndef CADENZA_CODEC_INTERNAL_H
#define CADENZA_CODEC_INTERNAL_H
#include "cadenza/codec.h"

extern const cdz_codec codec_melody;
extern const cdz_codec codec_performance;
extern const cdz_codec codec_chorale;
extern const cdz_codec codec_lookback;
extern const cdz_codec codec_key_melody;
extern const cdz_codec codec_multitrack;
extern const cdz_codec codec_vae_mel_2bar;
extern const cdz_codec codec_vae_mel_16bar;
extern const cdz_codec codec_vae_drums;
#endif
