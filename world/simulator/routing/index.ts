import type { World } from '../world.js';
import { startDnsSimulator, type DnsSimulator } from './dns.js';
import { startIrrdSimulator, type IrrdSimulator } from './irrd.js';
import { startRisLiveSimulator, type RisLiveSimulator } from './ris-live.js';
import { startRipestatSimulator, type RipestatSimulator, type RipestatSimulatorOptions } from './ripestat.js';
import { startRoutinatorSimulator, type RoutinatorSimulator } from './routinator.js';

export interface RoutingSimulators {
  ripestatUrl: string;
  routinatorUrl: string;
  irr: { host: string; port: number };
  dns: { host: string; port: number };
  /** RIS Live's WebSocket (`ws://127.0.0.1:<port>/v1/ws/?client=byoip-bot`). */
  risLiveUrl: string;
  /** The settings that point the bot at these simulators. */
  env: { RIPESTAT_URL: string; RPKI_VALIDATOR_URL: string; IRR_WHOIS_HOST: string; IRR_WHOIS_PORT: string; DNS_SERVER: string; RIS_LIVE_URL: string };
  /** Each simulator, to inject faults in tests. */
  sims: { ripestat: RipestatSimulator; routinator: RoutinatorSimulator; irrd: IrrdSimulator; dns: DnsSimulator; risLive: RisLiveSimulator };
  close(): Promise<void>;
}

/** Starts RIPEstat, Routinator, IRRd whois, DNS and RIS Live simulators over one World on 127.0.0.1 (free ports unless given). */
export async function startRoutingSimulators(opts: {
  world: World;
  routingStatusTime?: RipestatSimulatorOptions['routingStatusTime'];
  /** Fixed ports (`npm run simulator`); a free port for each one absent. */
  ports?: { ripestat?: number; rpki?: number; irr?: number; dns?: number; risLive?: number };
}): Promise<RoutingSimulators> {
  const ports = opts.ports ?? {};
  const { world } = opts;
  const started: { close(): Promise<void> }[] = [];
  try {
    const ripestat = await startRipestatSimulator({ world, ...(opts.routingStatusTime ? { routingStatusTime: opts.routingStatusTime } : {}), ...(ports.ripestat ? { port: ports.ripestat } : {}) });
    started.push(ripestat);
    const routinator = await startRoutinatorSimulator({ world, ...(ports.rpki ? { port: ports.rpki } : {}) });
    started.push(routinator);
    const irrd = await startIrrdSimulator({ world, ...(ports.irr ? { port: ports.irr } : {}) });
    started.push(irrd);
    const dns = await startDnsSimulator({ world, ...(ports.dns ? { port: ports.dns } : {}) });
    started.push(dns);
    const risLive = await startRisLiveSimulator({ world, ...(ports.risLive ? { port: ports.risLive } : {}) });
    started.push(risLive);
    return {
      ripestatUrl: ripestat.url,
      routinatorUrl: routinator.url,
      irr: { host: irrd.host, port: irrd.port },
      dns: { host: dns.host, port: dns.port },
      risLiveUrl: risLive.url,
      env: {
        RIPESTAT_URL: ripestat.url,
        RPKI_VALIDATOR_URL: routinator.url,
        IRR_WHOIS_HOST: irrd.host,
        IRR_WHOIS_PORT: String(irrd.port),
        DNS_SERVER: dns.server,
        RIS_LIVE_URL: risLive.url,
      },
      sims: { ripestat, routinator, irrd, dns, risLive },
      close: async () => {
        await Promise.all(started.map((s) => s.close()));
      },
    };
  } catch (err) {
    await Promise.all(started.map((s) => s.close()));
    throw err;
  }
}
