// After tsc: the declarations of assembly/layout.ts and assembly/board.ts (compiled
// for the host too) name AssemblyScript's u32, which src/types/scalars.ts declares
// globally; tsc drops a reference to it from their .d.ts, so put one back, or a
// consumer's tsc (without skipLibCheck) would not know u32.
import { readFileSync, writeFileSync } from 'node:fs';

const REF = '/// <reference path="../src/types/scalars.d.ts" />\n';
for (const name of ['layout', 'board']) {
  const file = new URL(`../dist/assembly/${name}.d.ts`, import.meta.url);
  const text = readFileSync(file, 'utf8');
  if (!text.startsWith(REF)) writeFileSync(file, REF + text);
}
