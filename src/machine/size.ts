/**
 * Memory sizes in QEMU's `-m` syntax: a plain number is MiB; K, M, G, T
 * (any case, optionally followed by "B" or "iB") are binary multiples;
 * "B" alone means bytes. Decimal fractions are fine when the result is a
 * whole number of bytes: "1.5G", "0.5".
 */

import { WkvmError } from '../errors.js';

const UNITS: Record<string, bigint> = {
  b: 1n,
  k: 1n << 10n,
  m: 1n << 20n,
  g: 1n << 30n,
  t: 1n << 40n,
};

const SYNTAX = /^(\d+)(?:\.(\d+))?\s*(?:([kmgt])(?:i?b)?|(b))?$/i;

export function parseSize(s: string, what: string): bigint {
  const text = s.trim();
  const m = SYNTAX.exec(text);
  if (!m) throw new WkvmError(`invalid ${what} '${s}'`);
  const [, whole, frac = '', unit, bytesUnit] = m;
  const mult = bytesUnit ? 1n : UNITS[(unit ?? 'm').toLowerCase()]!;
  const scale = 10n ** BigInt(frac.length);
  const scaled = (BigInt(whole!) * scale + BigInt(frac || '0')) * mult;
  if (scaled % scale !== 0n) throw new WkvmError(`invalid ${what} '${s}' (not a whole number of bytes)`);
  const bytes = scaled / scale;
  if (bytes === 0n) throw new WkvmError(`invalid ${what} '${s}' (must be greater than zero)`);
  return bytes;
}

/** "128 MiB", "3 GiB", "1536 KiB", "100 bytes": the largest unit that divides exactly. */
export function formatSize(bytes: bigint): string {
  for (const [suffix, mult] of [['TiB', UNITS.t!], ['GiB', UNITS.g!], ['MiB', UNITS.m!], ['KiB', UNITS.k!]] as const) {
    if (bytes >= mult && bytes % mult === 0n) return `${bytes / mult} ${suffix}`;
  }
  return `${bytes} bytes`;
}
