// Runs the inputs scripts/fuzz-checkpoints.ts asks for, a batch at a time, and reports each one's outcome. It runs
// in a worker thread so that the parent can time an input out (the index it is on is in shared memory) and
// terminate a reader that hangs or runs out of memory without taking the fuzzer down.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');

require('tsx/cjs'); // the worker has its own module registry: register the TypeScript loader here too
const { makeTargets, makeCase, runCase } = require('./fuzz-checkpoints');

const targets = makeTargets();
const current = workerData.current;

parentPort.on('message', ({ seed, from, to }) => {
  const results = [];
  for (let i = from; i < to; i++) {
    Atomics.store(current, 0, i);
    results.push(runCase(targets, makeCase(targets, seed, i)));
  }
  parentPort.postMessage({ results });
});
parentPort.postMessage({ ready: true });
