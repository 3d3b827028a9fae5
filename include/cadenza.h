/* cadenza: every public header. See include/cadenza/<module>.h for each stage. */
#ifndef CADENZA_H
#define CADENZA_H
#include "cadenza/core.h"
#include "cadenza/midi.h"
#include "cadenza/score.h"
#include "cadenza/extract.h"
#include "cadenza/codec.h"
#include "cadenza/data.h"
#include "cadenza/nn.h"
#include "cadenza/backend.h"
#include "cadenza/json.h"
#include "cadenza/safetensors.h"
#include "cadenza/model.h"
#include "cadenza/dist.h"
#include "cadenza/train.h"
#include "cadenza/sample.h"
#include "cadenza/generate.h"
#include "cadenza/eval.h"
#include "cadenza/metrics.h"
#include "cadenza/listen.h"
#include "cadenza/audio.h"
#include "cadenza/plot.h"
#endif
