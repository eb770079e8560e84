import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { AckGate } from '../../src/slack/work-queue.js';

/** A request through the gate's wrapped listener; `answer()` finishes its response. */
function arrive(gate: AckGate): { answer(): void } {
  const res = new EventEmitter();
  gate.wrap(() => undefined)({} as IncomingMessage, res as unknown as ServerResponse);
  return { answer: () => res.emit('finish') };
}
const settled = async (p: Promise<void>, ms: number) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

describe('AckGate: work after an ack waits for the acks in flight', () => {
  it('a quiet process lets work go at once', async () => {
    expect(await settled(new AckGate(1000, 3).idle(), 5)).toBe(true);
  });

  it('work waits while a request is unanswered, and goes once it is answered and the process is quiet', async () => {
    const gate = new AckGate(5000, 3);
    const a = arrive(gate);
    const idle = gate.idle();
    expect(await settled(idle, 30)).toBe(false);
    expect(gate.inFlight).toBe(1);
    a.answer();
    expect(gate.inFlight).toBe(0);
    expect(await settled(idle, 200)).toBe(true);
  });

  it('a request arriving during the quiet period holds the work until it is answered too', async () => {
    const gate = new AckGate(5000, 20);
    const a = arrive(gate);
    const idle = gate.idle();
    a.answer();
    const b = arrive(gate); // within the 20 ms quiet period
    expect(await settled(idle, 60)).toBe(false);
    b.answer();
    expect(await settled(idle, 200)).toBe(true);
  });

  it('is bounded: under a stream that never stops, work goes after maxWaitMs', async () => {
    const gate = new AckGate(50, 3);
    arrive(gate); // never answered
    const t0 = Date.now();
    await gate.idle();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
  });

  it('a socket closed without an answer counts as done, once', async () => {
    const gate = new AckGate(5000, 1);
    const res = new EventEmitter();
    gate.wrap(() => undefined)({} as IncomingMessage, res as unknown as ServerResponse);
    res.emit('close');
    res.emit('finish');
    expect(gate.inFlight).toBe(0);
    expect(await settled(gate.idle(), 100)).toBe(true);
  });
});
