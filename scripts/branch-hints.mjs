#!/usr/bin/env node
/**
 * Post-build step of the vCPU module (npm run build:wasm): turn its cold()
 * markers into branch hints. AssemblyScript has no way to say that a branch
 * is rarely taken; the vCPU's slow paths (a decode-cache miss, a TLB miss,
 * the checks between slices) call `cold()`, an import that does nothing.
 * Here each such call becomes nops, and the `if` around it gets a hint in
 * the module's metadata.code.branch_hint section (the branch-hinting
 * proposal): unlikely when the marker is in its then-arm, likely when in its
 * else-arm. TurboFan then lays the cold arm out of line with the spills and
 * reloads its calls need, off the interpreter's hot path (src/jit does the
 * same for translations).
 *
 *   node scripts/branch-hints.mjs [build/vcpu.wasm]
 */
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.argv[2] ?? 'build/vcpu.wasm';
const bytes = new Uint8Array(readFileSync(file));
let at = 0;
const u32 = () => { let v = 0, shift = 0, b; do { b = bytes[at++]; v += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80); return v; };
const skipLeb = () => { while (bytes[at++] & 0x80); };
const name = () => { const n = u32(); const s = new TextDecoder().decode(bytes.subarray(at, at + n)); at += n; return s; };
const fail = (msg) => { console.error(`branch-hints: ${file}: ${msg}`); process.exit(1); };

if (bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) fail('not a WebAssembly module');
at = 8;
let marker = -1, funcImports = 0, codeStart = -1;
while (at < bytes.length) {
  const id = bytes[at++], size = u32(), end = at + size;
  if (id === 0 && name() === 'metadata.code.branch_hint') fail('already has branch hints (run once per build)');
  if (id === 2) {
    for (let n = u32(); n > 0; n--) {
      const module = name(), field = name(), kind = bytes[at++];
      if (kind === 0) { if (module === 'hint' && field === 'cold') marker = funcImports; funcImports++; u32(); }
      else if (kind === 1) { at++; const f = bytes[at++]; u32(); if (f & 1) u32(); } // table: reftype, limits
      else if (kind === 2) { const f = bytes[at++]; u32(); if (f & 1) u32(); } // memory: limits
      else at += 2; // global: valtype, mutability
    }
  }
  if (id === 10) codeStart = at - 1 - lebSize(size);
  at = end;
}
if (marker < 0) fail("imports no hint.cold: nothing to do (is assembly/hint.ts used?)");
if (codeStart < 0) fail('no code section');

function lebSize(v) { let n = 1; while (v >= 0x80) { v = Math.floor(v / 128); n++; } return n; }

/** Skip an instruction's immediates (opcode at `at - 1` already read). */
function immediates(op) {
  if (op === 0x02 || op === 0x03 || op === 0x04) { // blocktype: empty, a value type, or a type index (s33)
    const b = bytes[at];
    if (b === 0x40 || (b >= 0x7b && b <= 0x7f) || b === 0x70 || b === 0x6f) at++; else skipLeb();
  } else if (op === 0x0c || op === 0x0d || op === 0x10 || op === 0x12 || (op >= 0x20 && op <= 0x26) || op === 0xd2) skipLeb();
  else if (op === 0x0e) { for (let n = u32(); n >= 0; n--) skipLeb(); }
  else if (op === 0x11 || op === 0x13) { skipLeb(); skipLeb(); }
  else if (op === 0x1c) { for (let n = u32(); n > 0; n--) at++; }
  else if (op >= 0x28 && op <= 0x3e) memarg();
  else if (op === 0x3f || op === 0x40 || op === 0xd0) at++;
  else if (op === 0x41 || op === 0x42) skipLeb();
  else if (op === 0x43) at += 4;
  else if (op === 0x44) at += 8;
  else if (op === 0xfc) {
    const sub = u32();
    if (sub === 8 || sub === 10 || sub === 12 || sub === 14) { skipLeb(); skipLeb(); }
    else if (sub === 9 || sub === 11 || sub === 13 || (sub >= 15 && sub <= 17)) skipLeb();
    else if (sub > 7) fail(`unknown 0xfc ${sub} at ${at}`);
  } else if (op === 0xfd) {
    const sub = u32();
    if (sub <= 11 || sub === 92 || sub === 93) memarg();
    else if (sub === 12 || sub === 13) at += 16;
    else if (sub >= 21 && sub <= 34) at++;
    else if (sub >= 84 && sub <= 91) { memarg(); at++; }
  } else if (op === 0xfe) {
    const sub = u32();
    if (sub === 3) at++; else memarg();
  } else if (!(op <= 0x01 || op === 0x05 || op === 0x0b || op === 0x0f || op === 0x1a || op === 0x1b || (op >= 0x45 && op <= 0xc4) || op === 0xd1)) {
    fail(`unknown opcode 0x${op.toString(16)} at ${at - 1}`);
  }
}
function memarg() { const align = u32(); if (align & 0x40) skipLeb(); skipLeb(); }

// walk every body: each marker call becomes nops, and the branch that leads to it gets a hint. Binaryen
// writes `if (c) { ... }` as an `if`, or as `block (br_if $out (!c)) ... end`: from the marker outward, the
// first `if` it is in (then-arm: unlikely; else-arm: likely), or the last `br_if` before it that leaves a
// block it is in (likely: taken, it skips the cold code); a loop ends the search (no hint)
const hints = []; // [function index, [offset, hint][]]
let markers = 0, unhinted = 0, conflicts = 0;
at = codeStart + 1; u32();
const count = u32();
for (let f = 0; f < count; f++) {
  const size = u32(), start = at, end = at + size;
  for (let n = u32(); n > 0; n--) { skipLeb(); at++; } // locals
  const open = []; // { kind: 'block' | 'loop' | 'if', at: offset of its opcode, inElse }
  const exits = []; // br_ifs so far: { at, target: an entry of `open` }
  const found = new Map(); // offset of a branch -> hint (-1: hinted both ways)
  const hint = (offset, h) => { const had = found.get(offset); found.set(offset, had === undefined || had === h ? h : -1); };
  while (at < end) {
    const pos = at, op = bytes[at++];
    if (op === 0x10) {
      const idx = u32();
      if (idx !== marker) continue;
      bytes.fill(0x01, pos, at); // nop nop...
      markers++;
      let hinted = false;
      for (let k = open.length - 1; k >= 0 && !hinted; k--) {
        const c = open[k];
        if (c.kind === 'loop') break;
        if (c.kind === 'if') { hint(c.at, c.inElse ? 1 : 0); hinted = true; break; }
        const skip = exits.findLast((e) => e.target === c && e.at > c.at);
        if (skip) { hint(skip.at, 1); hinted = true; }
      }
      if (!hinted) unhinted++;
      continue;
    }
    if (op === 0x0d) {
      const label = u32();
      if (label < open.length) exits.push({ at: pos - start, target: open[open.length - 1 - label] });
      continue;
    }
    immediates(op);
    if (op === 0x02) open.push({ kind: 'block', at: pos - start, inElse: false });
    else if (op === 0x03) open.push({ kind: 'loop', at: pos - start, inElse: false });
    else if (op === 0x04) open.push({ kind: 'if', at: pos - start, inElse: false });
    else if (op === 0x05) open.at(-1).inElse = true;
    else if (op === 0x0b) open.pop();
  }
  if (at !== end) fail(`function ${funcImports + f}: decoding ran past its end`);
  const list = [...found].filter(([, h]) => h >= 0).sort((a, b) => a[0] - b[0]);
  conflicts += found.size - list.length;
  if (list.length > 0) hints.push([funcImports + f, list]);
}
if (markers === 0) fail('no cold() call found');

// the section, before the code section (where V8 reads it): id 0, its size, then its name and hints
/** Append v to `to` as an unsigned LEB128. */
const leb = (to, v) => { do { let b = v & 0x7f; v = Math.floor(v / 128); if (v !== 0) b |= 0x80; to.push(b); } while (v !== 0); };
const payload = [];
const sectionName = new TextEncoder().encode('metadata.code.branch_hint');
leb(payload, sectionName.length); payload.push(...sectionName);
leb(payload, hints.length);
for (const [fn, list] of hints) {
  leb(payload, fn); leb(payload, list.length);
  for (const [offset, h] of list) { leb(payload, offset); leb(payload, 1); payload.push(h); }
}
const out = [0];
leb(out, payload.length);
out.push(...payload);
const result = new Uint8Array(bytes.length + out.length);
result.set(bytes.subarray(0, codeStart), 0);
result.set(out, codeStart);
result.set(bytes.subarray(codeStart), codeStart + out.length);
writeFileSync(file, result);
const total = hints.reduce((n, [, l]) => n + l.length, 0);
console.log(`branch-hints: ${file}: ${markers} cold() markers, ${total} hints in ${hints.length} functions${unhinted ? `, ${unhinted} markers with no branch to hint` : ''}${conflicts ? `, ${conflicts} branches hinted both ways (no hint)` : ''}`);
