// Parse-throughput reference: reads every MIDI file listed in LISTFILE
// (one path per line) and parses it with @tonejs/midi (`new Midi(buffer)`).
// Reading (fs.readFileSync) and parsing are both inside the timed pass;
// a warm-up pass over the first 200 files runs first (untimed).
// Prints one JSON line: files, failures, bytes, seconds, files/s, MB/s (1e6).
// Usage: node parse_bench.js LISTFILE
"use strict";
const fs = require("fs");
const { Midi } = require("@tonejs/midi");
const version = require("@tonejs/midi/package.json").version;

if (process.argv.length !== 3) {
  console.error("usage: node parse_bench.js LISTFILE");
  process.exit(2);
}
const files = fs.readFileSync(process.argv[2], "utf8").split("\n").filter((l) => l.length > 0);

function parseOne(path) {
  const buf = fs.readFileSync(path);
  try {
    new Midi(buf);
    return [buf.length, true];
  } catch (e) {
    return [buf.length, false];
  }
}

for (const f of files.slice(0, 200)) parseOne(f); // warm-up

let bytes = 0, failed = 0;
const t0 = process.hrtime.bigint();
for (const f of files) {
  const [n, ok] = parseOne(f);
  bytes += n;
  if (!ok) failed++;
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

console.log(JSON.stringify({
  reader: "@tonejs/midi", version, files: files.length, failed, bytes, seconds,
  files_per_s: files.length / seconds, mb_per_s: bytes / 1e6 / seconds,
}));
