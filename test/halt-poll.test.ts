import { describe, expect, it } from 'vitest';
import { HALT_POLL_MAX_MS, HALT_POLL_MIN_MS, nextHaltPoll } from '../src/workers/halt-poll.js';

describe('halt polling: the adaptive window', () => {
  it('grows from none while short halts end after the window, up to its bound', () => {
    let w = 0;
    const seen: number[] = [];
    for (let i = 0; i < 12; i++) { w = nextHaltPoll(w, 0.4, false); seen.push(w); }
    expect(seen[0]).toBe(HALT_POLL_MIN_MS);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]!);
    expect(w).toBe(HALT_POLL_MAX_MS);
  });

  it('keeps a window that caught the wake-up', () => {
    expect(nextHaltPoll(0.32, 0.3, true)).toBe(0.32);
  });

  it('shrinks to none while halts are longer than any window (an idle guest polls nothing)', () => {
    let w = HALT_POLL_MAX_MS;
    for (let i = 0; i < 20; i++) w = nextHaltPoll(w, 4, false);
    expect(w).toBe(0);
    expect(nextHaltPoll(0, 10, false)).toBe(0);
  });
});
