import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../src/slack/work-queue.js';

const later = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe('WorkQueue', () => {
  it('runs at most `concurrency` at once, lets `maxWaiting` wait in order, and turns the rest away at once', async () => {
    const q = new WorkQueue(2, 1);
    const gates = [later(), later(), later()];
    const order: number[] = [];
    const tickets = [q.enter(), q.enter(), q.enter()];
    expect(tickets.every(Boolean)).toBe(true);
    expect(q.enter()).toBeNull(); // 2 running + 1 waiting: full
    const runs = tickets.map((t, i) => t!.run(async () => {
      order.push(i);
      await gates[i]!.promise;
    }));
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([0, 1]);
    expect(q.stats).toEqual({ running: 2, waiting: 1 });
    gates[0]!.resolve();
    await runs[0];
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([0, 1, 2]);
    gates[1]!.resolve();
    gates[2]!.resolve();
    await Promise.all(runs);
    expect(q.stats).toEqual({ running: 0, waiting: 0 });
  });

  it('a failing run frees its slot, and a cancelled ticket gives its place up', async () => {
    const q = new WorkQueue(1, 5);
    await expect(q.enter()!.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    const a = q.enter()!;
    const b = q.enter()!;
    a.cancel();
    let waited = -1;
    await b.run(async (ms) => void (waited = ms));
    expect(waited).toBeGreaterThanOrEqual(0);
    expect(q.stats).toEqual({ running: 0, waiting: 0 });
  });
});
