import { promises as dns } from 'node:dns';
import { DEFAULT_ROUTING_TIMEOUT_MS, badResponse, unavailable, type ServiceLabel } from './http.js';

export interface TxtAnswer {
  name: string;
  /** `found`: TXT records exist; `nxdomain`: the name does not exist; `nodata`: the name exists without TXT. */
  status: 'found' | 'nxdomain' | 'nodata';
  /** Each TXT record with its character strings joined. */
  values: string[];
}

export interface TxtResolver {
  txt(name: string): Promise<TxtAnswer>;
}

/**
 * TXT look-ups through `node:dns` with a chosen server (`host:port`, e.g. `127.0.0.1:5353`, or the system's
 * resolvers when none is given). A missing name is an answer; SERVFAIL, refusal and timeouts are RoutingUnavailable.
 */
export class DnsTxtClient implements TxtResolver {
  private readonly servers: string[] | undefined;
  private readonly timeoutMs: number;

  constructor(opts: { server?: string; timeoutMs?: number } = {}) {
    this.servers = opts.server ? opts.server.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_ROUTING_TIMEOUT_MS;
  }

  async txt(name: string): Promise<TxtAnswer> {
    const fqdn = name.replace(/\.$/, '').toLowerCase();
    const label: ServiceLabel = { service: `DNS${this.servers ? ` (${this.servers.join(', ')})` : ''}`, doing: `looking up TXT ${fqdn}` };
    const resolver = new dns.Resolver({ timeout: this.timeoutMs, tries: 1 });
    if (this.servers) {
      try {
        resolver.setServers(this.servers);
      } catch (err) {
        throw badResponse({ ...label, service: 'The DNS server setting' }, `\`${this.servers.join(',')}\` is not host:port`, err);
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        resolver.cancel();
        reject(unavailable(label, `did not answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs + 50);
    });
    try {
      const records = await Promise.race([resolver.resolveTxt(fqdn), deadline]);
      return { name: fqdn, status: 'found', values: records.map((chunks) => chunks.join('')) };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException | undefined)?.code;
      if (code === dns.NOTFOUND) return { name: fqdn, status: 'nxdomain', values: [] };
      if (code === dns.NODATA) return { name: fqdn, status: 'nodata', values: [] };
      if (code === dns.TIMEOUT || code === dns.CANCELLED) throw unavailable(label, `did not answer within ${this.timeoutMs} ms`, err);
      if (code === dns.SERVFAIL) throw unavailable(label, 'answered SERVFAIL', err);
      if (code === dns.REFUSED) throw unavailable(label, 'refused the query', err);
      if (code === dns.CONNREFUSED) throw unavailable(label, 'could not be reached', err);
      if (code === dns.BADRESP || code === dns.FORMERR) throw badResponse(label, 'a malformed DNS reply', err);
      if (err instanceof Error && 'userMessage' in err) throw err;
      throw unavailable(label, `failed (${code ?? 'unknown error'})`, err);
    } finally {
      clearTimeout(timer);
    }
  }
}
