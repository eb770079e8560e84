import type { SimResponse } from '../http.js';

/**
 * Misbehaviour a routing simulator can be told to show, so tests can prove the adapters fail cleanly:
 * `slow` answers after `delayMs`, `garbage` sends non-JSON, `malformed` sends JSON of the wrong shape,
 * `error` answers HTTP 500 (or `status`).
 */
export type SimFault =
  | { kind: 'none' }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'garbage' }
  | { kind: 'malformed' }
  | { kind: 'error'; status?: number };

export class FaultSwitch {
  fault: SimFault = { kind: 'none' };

  set(fault: SimFault): void {
    this.fault = fault;
  }

  /** Applies the fault around a normal answer. */
  async apply(answer: () => SimResponse | Promise<SimResponse>): Promise<SimResponse> {
    const f = this.fault;
    switch (f.kind) {
      case 'slow':
        await new Promise<void>((resolve) => setTimeout(resolve, f.delayMs).unref());
        return answer();
      case 'garbage':
        return { status: 200, headers: { 'content-type': 'application/json' }, body: '<html>502 Bad Gateway</html>' };
      case 'malformed':
        return { status: 200, body: { status: 'ok', data: { unexpected: true, rrcs: 'nope' } } };
      case 'error':
        return { status: f.status ?? 500, body: { error: 'simulated failure' } };
      case 'none':
        return answer();
    }
  }
}
