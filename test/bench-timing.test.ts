// The bench's measurement helpers (bench/timing.ts): the order in which
// measurements taken in turns run, and the medians they give.
import { describe, expect, it } from 'vitest';
import { median, mediansInTurn } from '../bench/timing.js';

describe('bench timing helpers', () => {
  it('mediansInTurn reverses the order every other round, so each measurement goes first as often', async () => {
    const calls: string[] = [];
    const f = (name: string, value: number) => async () => { calls.push(name); return value; };
    const got = await mediansInTurn(4, [f('a', 1), f('b', 2), f('c', 3)]);
    expect(calls.join('')).toBe('abccbaabccba');
    expect(got).toEqual([1, 2, 3]);
  });

  it('a measurement that fails once reads undefined and is not run again; the others go on', async () => {
    const calls: string[] = [];
    let n = 0;
    const flaky = async () => { calls.push('x'); return ++n === 2 ? undefined : 5; };
    const steady = async () => { calls.push('y'); return 7; };
    expect(await mediansInTurn(4, [flaky, steady])).toEqual([undefined, 7]);
    expect(calls.join('')).toBe('xyyxyy');
  });

  it('median: the middle value, or the mean of the middle two; the input is left as it was', () => {
    const v = [5, 1, 4];
    expect(median(v)).toBe(4);
    expect(v).toEqual([5, 1, 4]);
    expect(median([10, 2, 8, 4])).toBe(6);
    expect(median([3])).toBe(3);
  });
});
