// Encoding-throughput reference: for every MIDI path in LISTFILE (one per
// line) runs the perf_events.js pipeline with @magenta/music: read file,
// midiToSequenceProto, applySustainControlChanges (skipped with --no-sustain,
// duplicates dropped with --fix-sustain, see perf_events.js),
// absolute quantization at 100 steps/s, Performance.fromNoteSequence
// (maxShiftSteps=100, numVelocityBins=32), token mapping; counts tokens.
// Reading and all encoding steps are inside the timed pass; an untimed
// warm-up pass over the first 50 files runs first.
// Prints one JSON line: reader, version, files, failed, tokens, seconds,
// files_per_s, tokens_per_s.
// Usage: node encode_bench.js [--no-sustain | --fix-sustain] LISTFILE
"use strict";
const fs = require("fs");
const { encodeMidi, sustainOption } = require("./perf_events.js");
const version = require("@magenta/music/package.json").version;

const { sustain, rest: args } = sustainOption(process.argv.slice(2));
if (args.length !== 1) {
  console.error("usage: node encode_bench.js [--no-sustain | --fix-sustain] LISTFILE");
  process.exit(2);
}
const files = fs.readFileSync(args[0], "utf8").split("\n").filter((l) => l.length > 0);

function encodeOne(path) {
  try {
    return encodeMidi(fs.readFileSync(path), sustain).length;
  } catch (e) {
    return -1;
  }
}

for (const f of files.slice(0, 50)) encodeOne(f); // warm-up

let tokens = 0, failed = 0;
const t0 = process.hrtime.bigint();
for (const f of files) {
  const n = encodeOne(f);
  if (n < 0) failed++;
  else tokens += n;
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

console.log(JSON.stringify({
  reader: "@magenta/music", version, files: files.length, failed, tokens, seconds,
  files_per_s: files.length / seconds, tokens_per_s: tokens / seconds,
}));
