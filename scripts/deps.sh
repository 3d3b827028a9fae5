#!/bin/sh
# Installs the Debian packages cadenza's build and tests can use, skipping those already present.
# Required: a C compiler and make. Optional (the build works without each): OpenBLAS, FluidSynth with
# a General MIDI SoundFont, MPI, libmicrohttpd, libpng/zlib, KissFFT, clang with libFuzzer, Node.js for the
# reference benchmarks. Never fails the build: a package that cannot be installed is reported.
set -u
want="build-essential pkg-config clang libclang-rt-dev libopenblas-dev libfluidsynth-dev fluid-soundfont-gm \
libopenmpi-dev openmpi-bin libmicrohttpd-dev libpng-dev zlib1g-dev libkissfft-dev mma"
# Node.js (for the reference benchmarks) may come from elsewhere with npm bundled: look for the commands.
# `deps.sh bench` adds Debian's PyTorch, the reference of the model benchmarks (large; not needed to build or test),
# and opus-tools, the reference of the audio codec (scripts/audio_opus_baseline.sh).
[ "${1:-}" = bench ] && want="$want python3-torch opus-tools"
command -v node >/dev/null 2>&1 || want="$want nodejs"
command -v npm >/dev/null 2>&1 || want="$want npm"
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "deps: all packages present"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: not a Debian/Ubuntu system; install by hand if wanted:$missing"
    exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
        echo "deps: not root and no sudo; install by hand if wanted:$missing"
        exit 0
    fi
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null 2>&1 || echo "deps: apt-get update failed; trying the install anyway"
# One at a time, so one unavailable package does not stop the others.
for p in $missing; do
    $sudo apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 || echo "deps: could not install $p (the build goes on without it)"
done
exit 0
