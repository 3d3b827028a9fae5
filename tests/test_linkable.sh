#!/bin/sh
# The shared library as another program sees it: it exports the public cdz_ names and nothing else,
# and examples/generate_melody.c, linked against it (not the static library), generates a melody.
# Usage: sh tests/test_linkable.sh BUILD_DIR   (from the repository root)
build=${1:-build}
passed=0
failed=0
check() { # condition-status, message
    if [ "$1" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $2"; fi
}
so="$build/libcadenza.so"
ex="$build/examples/generate_melody"
[ -f "$so" ]; check $? "$so was built"
others=$(nm -D --defined-only "$so" 2>/dev/null | awk '{print $3}' | grep -v '^cdz_' | grep -v '^_' | head -5)
[ -z "$others" ]; check $? "libcadenza.so exports only cdz_ names (also: $others)"
for sym in cdz_model_create cdz_session_new cdz_session_feed cdz_generate_score cdz_checkpoint_load cdz_backend_find; do
    nm -D --defined-only "$so" | awk '{print $3}' | grep -qx "$sym"; check $? "libcadenza.so exports $sym"
done
nm -D --defined-only "$so" | awk '{print $3}' | grep -qx blk_ff_forward
[ $? -ne 0 ]; check $? "an internal function (blk_ff_forward) stays inside"
ldd "$ex" 2>/dev/null | grep -q 'libcadenza.so'; check $? "$ex links libcadenza.so"
tmp=$(mktemp -d)
"$ex" models/attention_rnn.safetensors "$tmp/melody.mid" 3 >"$tmp/out" 2>&1; rc=$?
check $rc "the example ran: $(cat "$tmp/out")"
grep -q 'melody_rnn model attention_rnn' "$tmp/out"; check $? "the example named its model: $(cat "$tmp/out")"
"$build/cadenza" midi info "$tmp/melody.mid" >/dev/null 2>&1; check $? "the example wrote a MIDI file cadenza reads"
"$ex" >/dev/null 2>&1
[ $? -eq 2 ]; check $? "the example says how to use it"
rm -rf "$tmp"
echo "test_linkable: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
