# cadenza: one Makefile for the library, the program, tests, sanitizer and fuzz builds.
#   make            build build/libcadenza.a, build/libcadenza.so, build/cadenza and the examples
#   make test       install what is missing, build, run every test (ends with "N passed, M failed")
#   make demo       install what is missing, build, run the main job
#   make deps       install the Debian packages the build can use (skipped when present)
#   make fuzz       run each libFuzzer target (midi, safetensors, cdz) in turn for FUZZ_SECONDS (needs clang);
#                   FUZZ_TARGET=cdz runs one
#   make bench      build and run the benchmarks in bench/
#   make SANITIZE=address,undefined   a sanitized build in build/san/
CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif
CLANG ?= clang
FUZZ_SECONDS ?= 600

# (-Wno-missing-braces: a cdz_window's first member is a union of token and audio pointers, and {seq, start, n}
# initializes it without inner braces, as C allows)
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2 -Wno-format-nonliteral -Wno-missing-braces
CFLAGS ?= -O2 -g
CPPFLAGS += -Iinclude -D_POSIX_C_SOURCE=200809L
# -fopenmp-simd: only the "omp simd" loop hints (reductions the compiler may reorder), no OpenMP runtime.
# -fPIC: the same objects make the static and the shared library.
ALL_CFLAGS = -std=c11 $(WARN) -fopenmp-simd -fPIC $(CFLAGS)
LDLIBS += -lm -lpthread

ifdef SANITIZE
BUILD := build/san
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
else
BUILD := build
endif

# The CPU layers' hot loops select on float compares (the clamps and NaN guards of nn_exp): GCC only
# if-converts and vectorises them when compares may not trap. Nothing in cadenza reads the floating-point
# exception flags; without this the attention score loop ran scalar and training was 4x slower (measured).
$(BUILD)/obj/src/nn/cpu/%.o: ALL_CFLAGS += -fno-trapping-math

# ---- optional libraries: detected, reported, never required ----
have_pc = $(shell pkg-config --exists $(1) 2>/dev/null && echo yes || echo no)
have_cmd = $(shell command -v $(1) >/dev/null 2>&1 && echo yes || echo no)
HAVE_OPENBLAS := $(call have_pc,openblas)
HAVE_OPENMP := $(shell printf 'int main(void){return 0;}' | $(CC) -fopenmp -x c - -o /dev/null >/dev/null 2>&1 && echo yes || echo no)
HAVE_CUDA := $(call have_cmd,nvcc)
HAVE_FLUIDSYNTH := $(call have_pc,fluidsynth)
HAVE_MPI := $(call have_cmd,mpicc)
HAVE_MHD := $(call have_pc,libmicrohttpd)
HAVE_PNG := $(call have_pc,libpng)
HAVE_KISSFFT := $(call have_pc,kissfft-float)
# OpenBLAS for the CPU layers' matrix products (plain loops without it).
ifeq ($(HAVE_OPENBLAS),yes)
CPPFLAGS += -DCDZ_HAVE_OPENBLAS $(shell pkg-config --cflags openblas)
LDLIBS += $(shell pkg-config --libs openblas)
endif
# FluidSynth renders MIDI to audio (cadenza render; without it render says how to install it).
# Its flags go to render.c alone: they define feature macros (_XOPEN_SOURCE=600, _DEFAULT_SOURCE)
# that would change what every other file sees.
ifeq ($(HAVE_FLUIDSYNTH),yes)
$(BUILD)/obj/src/audio/render.o: CPPFLAGS += -DCDZ_HAVE_FLUIDSYNTH $(shell pkg-config --cflags fluidsynth)
LDLIBS += $(shell pkg-config --libs fluidsynth)
# FluidSynth's SoundFont loaders (libinstpatch) also report through GLib's log, which prints to the
# terminal: render.c catches those too, where GLib is found (FluidSynth 2.3 depends on it).
ifeq ($(call have_pc,glib-2.0),yes)
$(BUILD)/obj/src/audio/render.o: CPPFLAGS += -DCDZ_HAVE_GLIB $(shell pkg-config --cflags glib-2.0)
LDLIBS += $(shell pkg-config --libs glib-2.0)
endif
endif
# KissFFT (BSD-3-Clause) for the spectral measures of audio (STFT and mel distances; eval audio).
ifeq ($(HAVE_KISSFFT),yes)
CPPFLAGS += -DCDZ_HAVE_KISSFFT $(shell pkg-config --cflags kissfft-float)
LDLIBS += $(shell pkg-config --libs kissfft-float)
endif
# libpng writes and reads the piano-roll pictures (cadenza plot; SVG needs nothing).
ifeq ($(HAVE_PNG),yes)
CPPFLAGS += -DCDZ_HAVE_PNG $(shell pkg-config --cflags libpng)
LDLIBS += $(shell pkg-config --libs libpng)
endif
# ---- MPI: data-parallel training (cadenza train under mpirun) ----
# Only src/train/dist.c calls MPI, so only it gets the headers and -DCDZ_HAVE_MPI; every program links
# the library (Open MPI: mpicc --showme; MPICH: mpicc -show prints the whole compiler line). Without
# mpicc, dist.c builds its one-process fallback and nothing links MPI.
ifeq ($(HAVE_MPI),yes)
MPI_CFLAGS := $(shell mpicc --showme:compile 2>/dev/null)
MPI_LIBS := $(shell mpicc --showme:link 2>/dev/null)
ifeq ($(strip $(MPI_LIBS)),)
MPI_SHOW := $(shell mpicc -show 2>/dev/null)
MPI_CFLAGS := $(filter -I% -D%,$(MPI_SHOW))
MPI_LIBS := $(filter -L% -l% -Wl%,$(MPI_SHOW))
endif
$(BUILD)/obj/src/train/dist.o: CPPFLAGS += -DCDZ_HAVE_MPI $(MPI_CFLAGS)
LDLIBS += $(MPI_LIBS)
endif
# ---- end of MPI ----
# OpenMP threads are not used: threading the layers' row loops made a melody_rnn training step 4.4
# times slower (OpenMP's spinning threads and OpenBLAS's compete for the two cores) and no faster with
# OMP_WAIT_POLICY=passive (docs/PERF.md). The matrix products run on OpenBLAS's threads; the row loops
# are vectorised (-fopenmp-simd) on one.
ifeq ($(MAKELEVEL),0)
$(info cadenza: openblas=$(HAVE_OPENBLAS) openmp=$(HAVE_OPENMP) cuda=$(HAVE_CUDA) fluidsynth=$(HAVE_FLUIDSYNTH) libpng=$(HAVE_PNG) kissfft=$(HAVE_KISSFFT) mpi=$(HAVE_MPI) libmicrohttpd=$(HAVE_MHD))
endif

# ---- CUDA: the cuda backend (src/nn/cuda/), built only where nvcc is found ----
# Where nvcc is found and the build is not a SANITIZE one (nvcc does not take -fsanitize), nvcc
# compiles src/nn/cuda/*.cu (and $(CC) its *.c) into libcadenza.a, src/nn/backend.c registers the
# backend (-DCDZ_HAVE_CUDA), and every program links the CUDA runtime: the static one
# (libcudart_static.a, which needs -ldl -lrt -lpthread) where the toolkit has it, else the shared one
# with an rpath, and libstdc++ (nvcc's host code is C++: its launch stubs use guarded statics and
# exception tables). The runtime starts on the first CUDA call, which only the cuda backend makes.
# cuBLAS is not linked: src/nn/cuda/device.cu opens it with dlopen on first use (this toolkit has
# only the shared cuBLAS, and linking it made every program start about 100 ms slower).
# sm_90 code for the H100 plus compute_90 PTX that newer GPUs compile at load; override
# CUDA_GENCODE for another GPU.
NVCC ?= nvcc
CUDA_GENCODE ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
NVCCFLAGS ?= -O3 -std=c++17 $(CUDA_GENCODE) -lineinfo -Xcompiler -Wall,-Wextra
CUDA_LIB_OBJ :=
ifeq ($(HAVE_CUDA),yes)
ifndef SANITIZE
# the toolkit's folder: $CUDA_HOME, else where nvcc says it runs from (nvcc may be a wrapper script)
CUDA_HOME ?= $(realpath $(shell $(NVCC) --dryrun -E -x cu /dev/null 2>&1 | sed -n 's/^\#\$$ TOP=//p' | head -n 1))
CUDA_LIBDIR := $(firstword $(wildcard $(CUDA_HOME)/lib64 $(CUDA_HOME)/lib))
CUDA_LIB_OBJ := $(patsubst %.cu,$(BUILD)/obj/%.o,$(sort $(wildcard src/nn/cuda/*.cu))) \
    $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard src/nn/cuda/*.c)))
$(BUILD)/obj/src/nn/backend.o: CPPFLAGS += -DCDZ_HAVE_CUDA
ifneq ($(wildcard $(CUDA_LIBDIR)/libcudart_static.a),)
CUDA_RT := static
LDLIBS += -L$(CUDA_LIBDIR) -lcudart_static -ldl -lrt -lpthread -lstdc++
else
CUDA_RT := shared
LDLIBS += -L$(CUDA_LIBDIR) -Wl,-rpath,$(CUDA_LIBDIR) -lcudart -ldl -lstdc++
endif
endif
endif
# backend.o registers the cuda backend or not: rebuild it (and so the archive) when that changes
CUDA_STAMP := $(BUILD)/obj/cuda-$(if $(CUDA_LIB_OBJ),yes,no).stamp
# ---- end of the cuda backend ----

LIB_SRC := $(sort $(wildcard src/core/*.c src/midi/*.c src/score/*.c src/extract/*.c src/codec/*.c src/data/*.c src/nn/*.c src/nn/cpu/*.c src/nn/ref/*.c src/models/*.c src/train/*.c src/sample/*.c src/eval/*.c src/audio/*.c src/plot/*.c))
APP_SRC := $(sort $(wildcard src/app/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
EXAMPLE_SRC := $(sort $(wildcard examples/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
APP_OBJ := $(APP_SRC:%.c=$(BUILD)/obj/%.o)
TESTS := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCHES := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
EXAMPLES := $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)
HEADERS := $(wildcard include/*.h include/cadenza/*.h src/*/*.h src/*/*/*.h tests/*.h)
FUZZ_HEADERS := $(wildcard tests/fuzz/*.h)
# The fuzz targets (tests/fuzz/fuzz_NAME.c), each with its seed corpus (the MIDI one's is tests/fuzz/corpus)
# and a plain replay main that `make check` runs over that corpus under the sanitizers.
FUZZ_TARGETS := midi safetensors cdz codes
REPLAYS := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/replay_%)

.PHONY: all lib test check demo deps fuzz fuzz-seeds fuzz-replay bench clean
all: $(BUILD)/libcadenza.a $(BUILD)/libcadenza.so $(BUILD)/cadenza $(EXAMPLES)

lib: $(BUILD)/libcadenza.a $(BUILD)/libcadenza.so

$(BUILD)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/src/nn/cuda/%.o: src/nn/cuda/%.cu $(HEADERS) $(wildcard src/nn/cuda/*.cuh)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -Xcompiler -fPIC -Iinclude -DCDZ_CUDA_LIBDIR='"$(CUDA_LIBDIR)"' -c $< -o $@

$(BUILD)/obj/src/nn/backend.o: $(CUDA_STAMP)
$(CUDA_STAMP):
	@mkdir -p $(dir $@)
	@rm -f $(BUILD)/obj/cuda-*.stamp
	@touch $@

$(BUILD)/libcadenza.a: $(LIB_OBJ) $(CUDA_LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# The shared library for other programs and bindings: the public functions (cdz_*) exported, everything
# else local (src/libcadenza.map), the optional libraries it was built with as its own dependencies.
$(BUILD)/libcadenza.so: $(LIB_OBJ) $(CUDA_LIB_OBJ) src/libcadenza.map
	$(CC) -shared $(ALL_CFLAGS) $(LDFLAGS) -Wl,--version-script=src/libcadenza.map -Wl,-soname,libcadenza.so -o $@ \
	    $(LIB_OBJ) $(CUDA_LIB_OBJ) $(LDLIBS)

# Example programs (examples/*.c) link the shared library, as another program would; the rpath finds it
# beside them in the build folder.
$(BUILD)/examples/%: examples/%.c $(BUILD)/libcadenza.so $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< -L$(BUILD) -lcadenza -Wl,-rpath,'$$ORIGIN/..' -lm

$(BUILD)/cadenza: $(APP_OBJ) $(BUILD)/libcadenza.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(APP_OBJ) $(BUILD)/libcadenza.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libcadenza.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libcadenza.a $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libcadenza.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libcadenza.a $(LDLIBS)

# A fuzz target's plain main: replays files or folders (the seed corpus) without libFuzzer.
$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c $(BUILD)/libcadenza.a $(HEADERS) $(FUZZ_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DREPLAY_NAME='"replay_$*"' $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay_main.c $(BUILD)/libcadenza.a $(LDLIBS)

# The seed corpora of the safetensors and cdz targets, made by the library's writers (tests/fuzz/make_seeds.c).
$(BUILD)/fuzz/make_seeds: tests/fuzz/make_seeds.c $(BUILD)/libcadenza.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libcadenza.a $(LDLIBS)

fuzz-seeds: $(BUILD)/fuzz/make_seeds
	@mkdir -p tests/fuzz/corpus_safetensors tests/fuzz/corpus_cdz tests/fuzz/corpus_codes
	./$(BUILD)/fuzz/make_seeds tests/fuzz/corpus_safetensors tests/fuzz/corpus_cdz tests/fuzz/corpus_codes

# ---- CUDA kernel workbench (dev/cuda/): built only where nvcc is found ----
# Each dev/cuda/NAME.cu is a program (the library's CPU reference, numbered kernel versions with the
# library's shipped kernel among them, their validation and timing) built into build/cuda-dev/NAME
# against build/libcadenza.a. `make check` builds them and tests/run.sh runs them with --validate;
# without a GPU each prints SKIPPED and passes. `make test-cuda` builds and runs only these. The
# sanitized builds leave them out (nvcc does not take -fsanitize).
# LDLIBS in the form nvcc takes: -l and -L as they are, -Wl,a,b through -Xlinker, others (-pthread)
# through -Xcompiler.
cuda_comma := ,
nvcc_ldflag = $(if $(filter -l% -L%,$(1)),$(1),$(if $(filter -Wl$(cuda_comma)%,$(1)),-Xlinker $(patsubst -Wl$(cuda_comma)%,%,$(1)),-Xcompiler $(1)))
CUDA_DEV :=
ifeq ($(HAVE_CUDA),yes)
ifndef SANITIZE
CUDA_DEV := $(patsubst dev/cuda/%.cu,$(BUILD)/cuda-dev/%,$(sort $(wildcard dev/cuda/*.cu)))
endif
endif
.PHONY: cuda-dev test-cuda

cuda-dev: $(CUDA_DEV)
ifeq ($(CUDA_DEV),)
	@echo "cuda-dev: skipped (nvcc: $(HAVE_CUDA)$(if $(SANITIZE),; not in a SANITIZE build))"
endif

$(BUILD)/cuda-dev/%: dev/cuda/%.cu dev/cuda/common.h $(BUILD)/libcadenza.a $(HEADERS) $(wildcard src/nn/cuda/*.cuh)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -Iinclude -o $@ $< $(BUILD)/libcadenza.a --cudart $(CUDA_RT) $(foreach f,$(LDLIBS),$(call nvcc_ldflag,$(f)))

# Every version of every kernel against the CPU reference, with a short timing; the summary adds up
# the programs' "cuda_NAME: N passed, M failed" lines.
test-cuda: $(CUDA_DEV)
ifeq ($(CUDA_DEV),)
	@echo "test-cuda: needs nvcc (found: $(HAVE_CUDA)) and a build without SANITIZE"; exit 1
else
	@mkdir -p $(BUILD)/test-cuda
	@rc=0; for t in $(CUDA_DEV); do \
	    echo "== $$t --validate"; \
	    ./$$t --validate >$(BUILD)/test-cuda/$${t##*/}.log 2>&1 || rc=1; \
	    cat $(BUILD)/test-cuda/$${t##*/}.log; \
	done; \
	cat $(CUDA_DEV:$(BUILD)/cuda-dev/%=$(BUILD)/test-cuda/%.log) | awk '/^cuda_[A-Za-z0-9_]+: [0-9]+ passed, [0-9]+ failed$$/ { p += $$2; f += $$4 } \
	    END { print p " passed, " f " failed" }'; \
	exit $$rc
endif
# ---- end of CUDA ----

deps:
	@sh scripts/deps.sh

# `make test` first installs what is missing, then runs `check` in a fresh make so detection sees it.
test: deps
	@$(MAKE) --no-print-directory check

check: all $(TESTS) $(REPLAYS) $(CUDA_DEV)
	@$(MAKE) --no-print-directory SANITIZE=address,undefined $(FUZZ_TARGETS:%=build/san/fuzz/replay_%) build/san/tests/test_robust build/san/tests/test_faults \
	    build/san/tests/test_midi build/san/tests/test_score build/san/tests/test_core build/san/tests/test_data \
	    build/san/tests/test_codec build/san/tests/test_nn build/san/tests/test_transformer build/san/tests/test_music_transformer build/san/tests/test_accompaniment build/san/tests/test_checkpoint build/san/tests/test_models build/san/tests/test_eval build/san/tests/test_audio build/san/tests/test_metrics build/san/tests/test_listen build/san/tests/test_plot build/san/tests/test_backend build/san/tests/test_backend_models build/san/tests/test_session build/san/tests/test_generate build/san/tests/test_remi build/san/tests/test_music_vae build/san/tests/test_piece_eval build/san/tests/test_ensemble build/san/tests/test_conv build/san/tests/test_audio_metrics build/san/tests/test_audio_codec
	@sh tests/run.sh $(BUILD)

# The main job: three melodies from the shipped model (models/attention_rnn.safetensors), continuing a
# primer, written to generated/ as MIDI and WAV (FluidSynth), with a piano-roll picture of the first; then
# a MusicVAE interpolation from "Twinkle, Twinkle" to "Ode to Joy" in 11 steps (models/vae_mel_2bar),
# generated/interpolation/ with one piano roll per step (interpolation.png) and WAVs; then a minute of a
# baroque string trio (models/ensemble) and a second piano part written under "Ode to Joy" by infilling; then
# ten seconds of music generated as sound (models/audio_prior and its codec, models/audio_codec_small) and its spectrogram.
demo: deps
	@$(MAKE) --no-print-directory all
	./$(BUILD)/cadenza generate --primer-pitches "60,-2,-2,-2,62,-2,64,-2,65,-2,-2,-2,67,-2,-2,-2" --bars 8 \
	    --num-outputs 3 --seed 1 --out-dir generated --wav --force
	./$(BUILD)/cadenza plot generated/attention_rnn_seed1_1.mid --out generated/attention_rnn_seed1_1.png --force
	./$(BUILD)/cadenza vae interpolate examples/vae/twinkle.mid examples/vae/ode_to_joy.mid --model vae_mel_2bar \
	    --steps 11 --out-dir generated/interpolation --plot --wav --force
	./$(BUILD)/cadenza generate --model ensemble --style baroque --instruments violin,viola,cello --minutes 1 --seed 1 \
	    --out generated/ensemble_baroque.mid --plot --wav --force
	./$(BUILD)/cadenza infill examples/vae/ode_to_joy.mid --keep 0 --style classical --instruments piano --model ensemble \
	    --seed 1 --out generated/ode_to_joy_piano.mid --plot --wav --force
	./$(BUILD)/cadenza audio generate --seconds 10 --style pop --seed 1 --out generated/audio_pop.wav --force
	./$(BUILD)/cadenza plot --spectrogram generated/audio_pop.wav --out generated/audio_pop.png --force

# libFuzzer needs clang; the same target sources also build the plain replay mains above. The library is
# compiled once for all targets (build/fuzz/obj/, coverage-instrumented, ASan and UBSan), and the targets
# run one after the other, each for FUZZ_SECONDS (with tests/fuzz/NAME.dict where there is one), new inputs
# going to build/fuzz/work/NAME/, crashes to build/fuzz/found/NAME-*, the output to build/fuzz/NAME.log
# (its last lines: executions, exec/s, cov, ft).
FUZZ_TARGET ?= $(FUZZ_TARGETS)
FUZZ_CFLAGS := -std=c11 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o)
.SECONDARY: $(FUZZ_OBJ)

build/fuzz/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ) $(HEADERS) $(FUZZ_HEADERS)
	$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(LDLIBS)

fuzz: $(FUZZ_TARGET:%=build/fuzz/fuzz_%)
	@mkdir -p build/fuzz/found $(FUZZ_TARGET:%=build/fuzz/work/%)
	@rc=0; for t in $(FUZZ_TARGET); do \
	    case $$t in midi) corpus=tests/fuzz/corpus; max=65536 ;; *) corpus=tests/fuzz/corpus_$$t; max=16384 ;; esac; \
	    dict=; [ -f tests/fuzz/$$t.dict ] && dict=-dict=tests/fuzz/$$t.dict; \
	    echo "== fuzz_$$t for $(FUZZ_SECONDS) s: ./build/fuzz/fuzz_$$t $$dict build/fuzz/work/$$t $$corpus"; \
	    ./build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -max_len=$$max -timeout=30 $$dict \
	        -artifact_prefix=build/fuzz/found/$$t- build/fuzz/work/$$t $$corpus >build/fuzz/$$t.log 2>&1 || rc=1; \
	    grep -E '^#[0-9]+[[:space:]]+DONE|^stat::|^==[0-9]+==ERROR|^SUMMARY|artifact' build/fuzz/$$t.log; \
	done; exit $$rc

bench: all $(BENCHES)
	@sh scripts/deps.sh bench
	sh bench/run.sh $(BUILD)

clean:
	rm -rf build
