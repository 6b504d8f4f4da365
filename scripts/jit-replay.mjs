// Replay JIT batches captured from a run (WKVM_JIT_CAPTURE=FILE, src/jit/service.ts)
// through the translator: its time per unit cold (the first pass) and warm
// (later passes, as V8 optimizes it), and a digest of everything it made,
// which a change that should not alter the translations must leave the same.
//   WKVM_JIT_CAPTURE=/tmp/batches.jsonl npx wkvm run ...   (after npm run build)
//   node scripts/jit-replay.mjs /tmp/batches.jsonl [passes]
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { loadVcpuModule } from '../dist/src/accel/module.js';
import { offThreadTranslator } from '../dist/src/jit/service.js';
import { translateRequest } from '../dist/src/jit/jit.js';

const [file, passArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node scripts/jit-replay.mjs FILE [passes]');
  process.exit(2);
}
let batches;
try {
  batches = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
} catch (e) {
  console.error(`jit-replay: cannot read ${file}: ${e.message}`);
  process.exit(1);
}
const passes = Math.max(1, Number(passArg ?? 10));
const { module, layout: L } = loadVcpuModule();
// one memory holding every page and counter block at the host address it had
let end = 0;
for (const b of batches) {
  for (const page of Object.keys(b.pages)) end = Math.max(end, Number(page) + 0x1000);
  end = Math.max(end, b.req.base + L.V_JIT_COUNTS + 4 * L.JIT_COUNTERS);
}
const pages = Math.ceil(end / 0x10000);
const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
const ram = new Uint8Array(memory.buffer);
const decoded = batches.map((b) => ({
  pages: Object.entries(b.pages).map(([page, bytes]) => [Number(page), Buffer.from(bytes, 'base64')]),
  counters: Buffer.from(b.counters, 'base64'),
}));
const translator = offThreadTranslator(module, memory, L, batches[0].fused);

function pass() {
  const hash = createHash('sha256');
  let ms = 0, units = 0;
  batches.forEach((b, k) => {
    for (const [page, bytes] of decoded[k].pages) ram.set(bytes, page);
    ram.set(decoded[k].counters, b.req.base + L.V_JIT_COUNTS);
    const t0 = performance.now();
    const out = translateRequest(b.req, translator);
    ms += performance.now() - t0;
    units += out.units.length;
    if (out.bytes) hash.update(out.bytes);
    hash.update(JSON.stringify(out.refused));
  });
  return { ms, units, digest: hash.digest('hex').slice(0, 16) };
}

const results = Array.from({ length: passes }, pass);
const [first] = results;
const us = (r) => (1000 * r.ms / Math.max(1, r.units)).toFixed(0);
const last = results.at(-1);
console.log(`${batches.length} batches, ${first.units} units; pass 1 ${first.ms.toFixed(1)} ms (${us(first)} us a unit), ` +
  `pass ${passes} ${last.ms.toFixed(1)} ms (${us(last)} us a unit); digest ${first.digest}` +
  (results.every((r) => r.digest === first.digest) ? '' : ' (differs between passes!)'));
