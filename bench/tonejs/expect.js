// Expected values from @tonejs/midi for cross-checking cadenza's reader.
// For each file prints (tab-separated): path, total notes over all tracks,
// max note end time in seconds (note.time + note.duration, 6 decimals),
// header ppq, number of tracks (after tonejs's own track splitting/dropping).
// Usage: node expect.js FILE...
"use strict";
const fs = require("fs");
const { Midi } = require("@tonejs/midi");

for (const path of process.argv.slice(2)) {
  const midi = new Midi(fs.readFileSync(path));
  let notes = 0, end = 0;
  for (const track of midi.tracks) {
    notes += track.notes.length;
    for (const n of track.notes) end = Math.max(end, n.time + n.duration);
  }
  console.log([path, notes, end.toFixed(6), midi.header.ppq, midi.tracks.length].join("\t"));
}
