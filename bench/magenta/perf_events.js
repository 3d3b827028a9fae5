// Reference performance-event encoding with @magenta/music (magenta-js), for
// cross-checking cadenza's performance encoder.
//
// Pipeline (options of Magenta's Performance RNN "performance_with_dynamics"):
//   1. mm.midiToSequenceProto(bytes)          MIDI -> NoteSequence (via @tonejs/midi)
//   2. mm.sequences.applySustainControlChanges(ns)   SUSTAIN IS APPLIED (CC64,
//      value >= 64 = pedal down), as Magenta's Python Performance RNN pipeline
//      does. magenta-js offers this function on unquantized sequences only;
//      pass --no-sustain to skip it.
//      Known magenta-js quirk: when the pedal is down and a note re-strikes a
//      held pitch at exactly the held note's start time, the zero-length note
//      is pushed into ns.notes again (duplicated) instead of being deleted
//      (its own source comment says "delete this one"; Python magenta deletes
//      it). --fix-sustain drops every note object occurring more than once in
//      ns.notes after sustain, i.e. the intended behaviour. Default is the
//      library's behaviour as shipped.
//   3. absolute quantization at 100 steps/s. magenta-js has NO absolute
//      quantizer (only quantizeNoteSequence(ns, stepsPerQuarter), which needs a
//      single tempo), so quantizeAbsolute() below ports Python's
//      quantize_note_sequence_absolute using the library's own
//      mm.sequences.quantizeToStep (floor(t*100 + 0.5)) and clone(), with the
//      same note rules as the library's private quantizeNotesAndEvents
//      (zero-length note -> end = start + 1; totalQuantizedSteps grows to the
//      last note end).
//   4. mm.performance.Performance.fromNoteSequence(qns, maxShiftSteps=100,
//      numVelocityBins=32)  (instrument undefined: all tracks, drums included)
//      Library details that matter when comparing: notes are sorted by
//      (unquantized startTime, pitch); events by (step, note index, onset
//      before offset); velocity bin = floor((velocity-1)/4)+1; the current bin
//      starts at 32, so no velocity token is emitted before a first note of
//      bin 32; trailing time-shifts pad to totalQuantizedSteps.
//
// Token ids: note-on p -> p, note-off p -> 128+p, time-shift s (1..100) ->
// 255+s, velocity bin b (1..32) -> 355+b.
//
// Usage: node perf_events.js [--no-sustain | --fix-sustain] FILE...
//   prints "PATH<TAB>tok tok tok ..." per file.
"use strict";
const fs = require("fs");
const mm = require("@magenta/music/node/core");

const STEPS_PER_SECOND = 100;
const MAX_SHIFT_STEPS = 100;
const NUM_VELOCITY_BINS = 32;

function quantizeAbsolute(ns, stepsPerSecond) {
  const qns = mm.sequences.clone(ns);
  qns.quantizationInfo = { stepsPerSecond };
  qns.totalQuantizedSteps = mm.sequences.quantizeToStep(ns.totalTime, stepsPerSecond);
  for (const note of qns.notes) {
    note.quantizedStartStep = mm.sequences.quantizeToStep(note.startTime, stepsPerSecond);
    note.quantizedEndStep = mm.sequences.quantizeToStep(note.endTime, stepsPerSecond);
    if (note.quantizedEndStep === note.quantizedStartStep) note.quantizedEndStep += 1;
    if (note.quantizedStartStep < 0 || note.quantizedEndStep < 0) throw new Error("negative note time");
    if (note.quantizedEndStep > qns.totalQuantizedSteps) qns.totalQuantizedSteps = note.quantizedEndStep;
  }
  return qns;
}

function eventToken(e) {
  switch (e.type) {
    case "note-on": return e.pitch;
    case "note-off": return 128 + e.pitch;
    case "time-shift": return 255 + e.steps;
    case "velocity-change": return 355 + e.velocityBin;
    default: throw new Error("unknown event " + JSON.stringify(e));
  }
}

// bytes: Buffer/Uint8Array of a MIDI file -> array of token ids
// sustain: false (skip), true (magenta-js as shipped), "fix" (drop duplicates)
function encodeMidi(bytes, sustain = true) {
  let ns = mm.midiToSequenceProto(bytes);
  if (sustain) ns = mm.sequences.applySustainControlChanges(ns);
  if (sustain === "fix") {
    const seen = new Map();
    for (const n of ns.notes) seen.set(n, (seen.get(n) || 0) + 1);
    ns.notes = ns.notes.filter((n) => seen.get(n) === 1);
  }
  const qns = quantizeAbsolute(ns, STEPS_PER_SECOND);
  const perf = mm.performance.Performance.fromNoteSequence(qns, MAX_SHIFT_STEPS, NUM_VELOCITY_BINS);
  return perf.events.map(eventToken);
}

// argv -> { sustain: true | false | "fix", rest: other args }
function sustainOption(argv) {
  let sustain = true;
  if (argv.includes("--no-sustain")) sustain = false;
  else if (argv.includes("--fix-sustain")) sustain = "fix";
  return { sustain, rest: argv.filter((a) => a !== "--no-sustain" && a !== "--fix-sustain") };
}

module.exports = { encodeMidi, sustainOption, quantizeAbsolute, eventToken, STEPS_PER_SECOND, MAX_SHIFT_STEPS, NUM_VELOCITY_BINS };

if (require.main === module) {
  const { sustain, rest: args } = sustainOption(process.argv.slice(2));
  if (args.length === 0) {
    console.error("usage: node perf_events.js [--no-sustain | --fix-sustain] FILE...");
    process.exit(2);
  }
  let rc = 0;
  for (const path of args) {
    try {
      const toks = encodeMidi(fs.readFileSync(path), sustain);
      process.stdout.write(path + "\t" + toks.join(" ") + "\n");
    } catch (e) {
      console.error(path + ": " + e.message);
      rc = 1;
    }
  }
  process.exit(rc);
}
