import type { Logger } from 'pino';
import type { AlertSink, Finding } from './findings.js';

/** Where the sink writes: the operation store's audit stream (OperationStore implements it). */
export interface AuditWriter {
  audit(entry: { type: string; opId: string; actor: string; data?: Record<string, unknown> }): Promise<void>;
}

/**
 * An AlertSink that records each finding in the audit stream and the log, one open alert per key, until the alert
 * cards (AlertStore) are wired in its place. Open keys live in this process only: a finding raised again after a
 * restart is recorded again.
 */
export class AuditAlertSink implements AlertSink {
  private open = new Map<string, string>();
  private seq = 0;

  constructor(
    private audit: AuditWriter,
    private logger: Logger,
  ) {}

  async raise(finding: Finding): Promise<{ alertId: string; created: boolean }> {
    const had = this.open.get(finding.key);
    const alertId = had ?? `alert-${Date.now().toString(36)}-${(this.seq++).toString(36)}`;
    if (!had) this.open.set(finding.key, alertId);
    await this.audit.audit({
      type: had ? 'alert_updated' : 'alert_raised',
      opId: alertId,
      actor: 'system',
      data: { key: finding.key, source: finding.source, findingType: finding.type, prefix: finding.prefix, title: finding.title, facts: finding.facts, observedAt: finding.observedAt },
    });
    this.logger.warn({ alertId, key: finding.key, findingType: finding.type, prefix: finding.prefix }, `alert: ${finding.title}`);
    return { alertId, created: !had };
  }

  async resolve(key: string, why: string, at: number): Promise<{ alertId: string } | null> {
    const alertId = this.open.get(key);
    if (!alertId) return null;
    this.open.delete(key);
    await this.audit.audit({ type: 'alert_resolved', opId: alertId, actor: 'system', data: { key, why, at } });
    this.logger.info({ alertId, key }, `alert resolved: ${why}`);
    return { alertId };
  }
}
