import type { AlertSink, Finding } from '../../src/monitors/findings.js';

/** An AlertSink that remembers every call, one open alert per key (as the AlertStore keeps them). */
export class RecordingAlertSink implements AlertSink {
  raised: Finding[] = [];
  resolved: { key: string; why: string; at: number }[] = [];
  private open = new Map<string, string>();
  private n = 0;
  /** When each raise arrived (ms, performance.now()). */
  raisedAt: number[] = [];
  /** Called on each raise, before it returns (tests take a reading at that moment). */
  onRaise: ((finding: Finding) => void) | null = null;

  async raise(finding: Finding): Promise<{ alertId: string; created: boolean }> {
    this.raised.push(finding);
    this.raisedAt.push(performance.now());
    this.onRaise?.(finding);
    const had = this.open.get(finding.key);
    if (had) return { alertId: had, created: false };
    const alertId = `A${++this.n}`;
    this.open.set(finding.key, alertId);
    return { alertId, created: true };
  }

  async resolve(key: string, why: string, at: number): Promise<{ alertId: string } | null> {
    this.resolved.push({ key, why, at });
    const had = this.open.get(key);
    this.open.delete(key);
    return had ? { alertId: had } : null;
  }

  openKeys(): string[] {
    return [...this.open.keys()];
  }

  of(type: Finding['type']): Finding[] {
    return this.raised.filter((f) => f.type === type);
  }
}
