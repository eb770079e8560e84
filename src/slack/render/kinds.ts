/**
 * The Slack text of each change kind: what the card says it will change, its progress steps and its endings.
 * A new kind adds one entry here (and its module in src/kinds/).
 */
import type { Operation, OperationKind } from '../../domain/operation.js';
import { humanDuration } from '../../domain/time.js';
import { CHECK_NAME, type ValidationExplanation } from '../../domain/validation-explained.js';
import { escapeMrkdwn, userText } from '../views/blocks.js';

type Facts = Record<string, unknown>;

export interface KindView {
  /** The modal's and card's noun: "advertise", "new prefix". */
  noun: string;
  willChange(op: Operation): string;
  /** A progress step's thread line (without the verdict word). */
  progress(op: Operation, step: string, facts: Facts): string | null;
  /** The body after `Done:` / `Contested:` / `Not confirmed:` / `Failed:` for the kind's own verdict steps. */
  ending(op: Operation, step: string, facts: Facts): string | null;
  /** When the watch ran out of time: what was last seen and what to check. */
  timeout(op: Operation, facts: Facts): string;
  /** Escalation: too slow. */
  escalated?(op: Operation, elapsedMs: number, summary: string): string;
}

const s = (v: unknown) => (v === null || v === undefined ? '' : String(v));
const origins = (facts: Facts) =>
  ((facts.origins as { asn: number; peers: number }[] | undefined) ?? []).map((o) => `${o.asn === 0 ? 'an AS_SET origin' : `AS${o.asn}`} (on ${o.peers} peers)`).join(', ');

const advertisement = (direction: 'advertise' | 'withdraw'): KindView => ({
  noun: direction,
  willChange: (op) =>
    direction === 'advertise'
      ? `BGP prefix ${op.prefix} \`on_demand.advertised\` → \`true\` (Cloudflare starts announcing it from AS13335; takes 2-7 min). Once AS13335 is seen, remove the announcement from your own data centre, or some traffic keeps bypassing Cloudflare.`
      : `BGP prefix ${op.prefix} \`on_demand.advertised\` → \`false\` (Cloudflare stops announcing it; takes about 15 min).`,
  progress(op, step, f) {
    switch (step) {
      case 'accepted':
        return `☁️ Cloudflare accepted the ${direction} of ${op.prefix} (on_demand.advertised=${s(f.advertised)}${f.modifiedAt ? ` at ${s(f.modifiedAt)}` : ''}). ${direction === 'advertise' ? 'Cloudflare takes about 2-7 minutes to advertise' : 'Cloudflare takes about 15 minutes to withdraw'}; following it until the Internet sees it.`;
      case 'already_true':
        return `ℹ️ Cloudflare already had ${op.prefix} ${direction === 'advertise' ? 'advertised' : 'withdrawn'}; no call was needed. Following it on the looking glass.`;
      case 'cloudflare_confirmed':
        return `✅ Cloudflare reports ${op.prefix} ${direction === 'advertise' ? 'advertised' : 'withdrawn'}${f.since ? ` since ${s(f.since)}` : ''}. Watching route collectors for the Internet to follow.`;
      case 'sample':
        return `📡 ${s(f.summary)}`;
      case 'stream_seen': {
        // From the RIS Live stream: text from the network, escaped like user input.
        const who = `${userText(s(f.collector), 40)} peer ${userText(s(f.peer), 60)}${f.peerAsn ? ` (AS${s(f.peerAsn)})` : ''}`;
        const at = typeof f.at === 'number' ? ` at ${new Date(f.at).toISOString().replace(/\.\d+Z$/, 'Z')}` : '';
        return direction === 'advertise'
          ? `🛰️ RIS Live: ${who} sees ${op.prefix} from AS13335${at} (path ${userText(s(f.path), 120)}): the Internet is starting to pick it up. The looking glass decides when it has propagated.`
          : `🛰️ RIS Live: ${who} withdrew ${op.prefix}${at}: the withdraw is reaching the Internet. The looking glass decides when it is gone.`;
      }
      default:
        return drainProgress(op, step, f);
    }
  },
  ending(op, step, f) {
    switch (step) {
      case 'propagated':
        return `${op.prefix} is propagated: ${s(f.peers)}/${s(f.usual)} peers see it from AS13335. Remove the announcement from your own data centre now.`;
      case 'withdrawn':
        return `${op.prefix} is withdrawn from Cloudflare: ${s(f.peers)} peers still see it from AS13335 (under 10)${f.zombieCheckAfterMs !== undefined ? `, and no stuck (zombie) route via AS13335 was left ${humanDuration(Number(f.zombieCheckAfterMs))} after the withdraw` : ''}.`;
      case 'withdrawn_zombie':
        return `Cloudflare withdrew ${op.prefix} and most of the Internet agrees, but ${s(f.count)} peer(s) at ${((f.collectors as string[]) ?? []).join(', ')} still route it via AS13335 ${humanDuration(Number(f.sinceMs ?? 0))} after the withdraw: stuck ("zombie") routes, listed above. Traffic from those networks is dropped until they clear them; ${f.ownAsn ? `AS${s(f.ownAsn)}` : 'your own network'} serves everyone else. Ask those networks (listed above) to clear the route; do not treat this withdraw as clean until they have.`;
      case 'drain_timeout':
        return `the staged withdraw of ${op.prefix} waited ${humanDuration(Number(f.waitedMs ?? 0))} for its gates (the limit is ${humanDuration(Number(f.maxWaitMs ?? 0))}) and they never passed (last seen: ${s(f.latest) || 'nothing'}). Nothing was sent to Cloudflare; the request is closed and the prefix unlocked. Announce ${op.prefix} from your own network and file again, or have an approver skip the gate.`;
      case 'prepend_unsupported':
        return `this Cloudflare client cannot set \`asn_prepend_count\`, so gate 2 (prepend) cannot run. Nothing was sent; file again with the gate skipped by an approver.`;
      case 'propagated_contested':
        return `Cloudflare's route for ${op.prefix} is up (${s(f.peers)}/${s(f.usual)} peers see it from AS13335), but ${origins(f)} ${((f.origins as unknown[]) ?? []).length > 1 ? 'announce' : 'announces'} it too. *Do not remove your own announcement yet*: that would hand more traffic to the other origin. Contact that network, check that your ROA authorises only AS13335 and your own AS, and watch the looking glass until it is gone.`;
      case 'withdrawn_contested':
        return `Cloudflare's route for ${op.prefix} is gone (${s(f.peers)} peers still see AS13335), but ${origins(f)} still ${((f.origins as unknown[]) ?? []).length > 1 ? 'announce' : 'announces'} it. Traffic may go there instead of ${f.ownAsn ? `AS${s(f.ownAsn)}` : 'your own network'}: check now and contact that network; do not treat this withdraw as clean.`;
      case 'locked':
        return `Cloudflare has this BGP prefix locked (on_demand_locked), so it cannot be ${direction === 'advertise' ? 'advertised' : 'withdrawn'}. Nothing was sent; ask your Cloudflare account team to unlock it.`;
      case 'no_bgp_prefix':
        return 'This request names no BGP prefix, so there is nothing to change. Nothing was sent.';
      default:
        return null;
    }
  },
  timeout: (op, f) =>
    direction === 'advertise'
      ? `Cloudflare accepted the advertise of ${op.prefix}, but the looking glass did not confirm it within ${humanDuration(Number(f.timeoutMs ?? 0))} (last seen: ${s(f.latest) || 'no sample'}). Check Cloudflare's dashboard, the ROA (AS13335 must be allowed to originate it) and a looking glass; keep your own announcement up until AS13335 is seen.`
      : `Cloudflare accepted the withdraw of ${op.prefix}, but the looking glass did not confirm it within ${humanDuration(Number(f.timeoutMs ?? 0))} (last seen: ${s(f.latest) || 'no sample'}). Check a looking glass by hand; if AS13335 still announces it, open a Cloudflare support case.`,
  escalated: (op, elapsedMs, summary) =>
    direction === 'advertise'
      ? `⚠️ ${op.prefix} is still not propagated ${humanDuration(elapsedMs)} after Cloudflare accepted the advertise (${summary}). Check Cloudflare's dashboard and the ROA; keep your own announcement up until this resolves.`
      : `⚠️ ${op.prefix} is still visible from AS13335 ${humanDuration(elapsedMs)} after the withdraw (${summary}). Check Cloudflare's dashboard; open a Cloudflare support case if it persists.`,
});

/** The staged withdraw's thread lines (src/kinds/drain.ts): gates, prepend steps, the zombie hunt. */
function drainProgress(op: Operation, step: string, f: Facts): string | null {
  switch (step) {
    case 'drain_waiting':
      if (f.met) return `⏳ Gate 1 met: AS${s(f.ownAsn)} announcing ${op.prefix} is seen on ${s(f.pct)}% of the usual peers (${s(f.seen)}/${s(f.usual)}). Waiting ${humanDuration(Number(f.convergenceMs ?? 0))} for convergence before anything is sent; the card counts down.`;
      return Number(f.seen) > 0
        ? `⏳ Waiting (Cloudflare's drain): AS${s(f.ownAsn)} announcing ${op.prefix} is seen on only ${s(f.pct)}% of the usual peers (${s(f.seen)}/${s(f.usual)}); the withdraw waits for ${s(f.minPct)}% for ${humanDuration(Number(f.convergenceMs ?? 0))}. Nothing is sent meanwhile.`
        : `⏳ Waiting (Cloudflare's drain): no route collector sees AS${s(f.ownAsn)} announcing ${op.prefix} itself. Announce it from your own network with the same length (${op.prefix}); the withdraw waits until ${s(f.minPct)}% of the usual peers see it for ${humanDuration(Number(f.convergenceMs ?? 0))}. Nothing is sent meanwhile.`;
    case 'drain_converged':
      return `✅ Gate 1 passed: AS${s(f.ownAsn)} announcing ${op.prefix} seen on ${s(f.pct)}% of the usual peers for ${humanDuration(Number(f.forMs ?? 0))}: traffic has had time to move to your route.`;
    case 'drain_not_staged':
      return `ℹ️ Not drained: AS${s(f.ownAsn)} does not announce ${op.prefix} at the same length, so traffic moves only when Cloudflare withdraws (the highest zombie risk, says Cloudflare). The policy (\`withdraw.drain: when_announced\`) lets it go ahead; the zombie hunt follows.`;
    case 'gate_skipped':
      return `⏩ Gate \`${s(f.gate)}\` skipped by an approver's audited override${f.by ? ` (<@${s(f.by)}>)` : ''}: ${userText(s(f.reason), 300)}`;
    case 'gates_skipped_break_glass':
      return `🚨 Break glass: the staged withdraw's gates (${((f.gates as string[]) ?? []).join(', ')}) are skipped; the withdraw is sent at once. Watch for stuck routes below.`;
    case 'prepended':
      return `⤵️ Gate 2: AS13335 prepended ${s(f.count)} of ${s(f.of)} times on ${op.prefix}${f.already ? ' (Cloudflare already had it; no call was needed)' : ' (`asn_prepend_count`)'}, so traffic shifts to your route; ${Number(f.count) < Number(f.of) ? 'next step' : 'the withdraw'} after ${humanDuration(Number(f.pauseMs ?? 0))}.`;
    case 'zombie_hunt':
      return `🔍 ${op.prefix} is gone from most route collectors (${s(f.peers)} peers still see AS13335). Looking for stuck ("zombie") routes at ${new Date(Number(f.at)).toISOString().replace(/\.\d+Z$/, 'Z')}.`;
    case 'zombies': {
      const zs = (f.zombies as { collector: string; peer: string; peerAsn: number | null; neighbour: number | null; asPath: number[] }[]) ?? [];
      const lines = zs.map((z) => `• ${escapeMrkdwn(z.collector)} peer ${escapeMrkdwn(z.peer)}${z.peerAsn ? ` (AS${z.peerAsn})` : ''}: path \`${z.asPath.join(' ')}\``);
      const networks = [...new Set(zs.flatMap((z) => [z.peerAsn, z.neighbour].filter((a): a is number => typeof a === 'number' && a !== 13335)))];
      return (
        `🧟 *Stuck routes*: ${s(f.count)} peer(s) still route ${op.prefix} via AS13335 ${humanDuration(Number(f.sinceMs ?? 0))} after the withdraw:\n${lines.join('\n')}${Number(f.count) > zs.length ? `\n…and ${Number(f.count) - zs.length} more` : ''}\n` +
        `Ask ${networks.map((a) => `AS${a}`).join(', ') || 'those networks'} (their NOC, or via PeeringDB contacts) to check their table for ${op.prefix} via AS13335: Cloudflare no longer announces it, so the route is stale. A route refresh (soft reset) of the session it was learned on, or clearing that route, removes it; if the path goes through a transit, ask that transit too.`
      );
    }
    default:
      return null;
  }
}

/** Onboard's LOA line: which document, how it was made, and what the manual path still needs (the docs). */
function loaSentence(op: Operation, f: Facts): string {
  const id = f.loaDocumentId ? `\`${s(f.loaDocumentId)}\`` : '(none named yet)';
  if (f.loa === 'own') {
    return (
      `Our LOA is uploaded as document ${id}; see it again with \`/byoip loa ${op.prefix}\`. Put it on letterhead and sign it if Cloudflare asks. ` +
      `The docs: with our own LOA, the prefix also needs a PATCH once it is approved, and a word with your Cloudflare account team (this path is slower and more prone to error than letting Cloudflare generate it).`
    );
  }
  return `Cloudflare generated the LOA (document ${id}); see it with \`/byoip loa ${op.prefix}\`.`;
}

const bgpPrefixView = (action: 'create' | 'delete'): KindView => ({
  noun: action === 'create' ? 'new BGP prefix' : 'BGP prefix deletion',
  willChange: (op) =>
    action === 'create'
      ? `Create BGP prefix ${op.prefix} of prefix ${s(op.params.accountPrefix)} (\`POST .../bgp/prefixes\`). Cloudflare creates it *withdrawn*: nothing is announced until a separate \`/byoip advertise ${op.prefix}\`.`
      : `Delete BGP prefix ${op.prefix} of prefix ${s(op.params.accountPrefix)} (\`DELETE .../bgp/prefixes/${s(op.bgpPrefixId)}\`). It is withdrawn, so nothing announced changes; it can be created again later.`,
  progress(op, step) {
    if (step === 'accepted') return action === 'create' ? `☁️ Cloudflare created BGP prefix ${op.prefix}; checking it is listed.` : `☁️ Cloudflare accepted the deletion of BGP prefix ${op.prefix}; checking it is gone.`;
    if (step === 'already_true') return action === 'create' ? `ℹ️ BGP prefix ${op.prefix} was already there; no call was needed.` : `ℹ️ BGP prefix ${op.prefix} was already gone; no call was needed.`;
    return null;
  },
  ending(op, step, f) {
    switch (step) {
      case 'bgp_created':
        return `BGP prefix ${op.prefix} is listed on ${s(f.accountPrefix)} (\`${s(f.bgpPrefixId)}\`, ${f.advertised ? 'advertised' : 'withdrawn'}). Advertise it with \`/byoip advertise ${op.prefix}\` when ready.`;
      case 'bgp_not_listed':
        return `Cloudflare answered the create, but BGP prefix ${op.prefix} is not in the list read back. Check with \`/byoip status ${s(op.params.accountPrefix)}\` before asking again.`;
      case 'bgp_deleted':
        return `BGP prefix ${op.prefix} is gone from ${s(f.accountPrefix)}.`;
      case 'bgp_still_listed':
        return `Cloudflare answered the deletion, but BGP prefix ${op.prefix} is still listed. Check with \`/byoip status ${s(op.params.accountPrefix)}\`.`;
      case 'still_advertised':
        return `BGP prefix ${op.prefix} is advertised now, and Cloudflare deletes only a withdrawn one. Nothing was sent. Fix: withdraw it first (\`/byoip withdraw ${op.prefix}\`), then ask again.`;
      case 'locked':
        return `Cloudflare has BGP prefix ${op.prefix} locked (on_demand_locked), so it cannot be deleted. Nothing was sent; ask your Cloudflare account team to unlock it.`;
      case 'no_bgp_prefix':
        return 'This request names no BGP prefix, so there is nothing to delete. Nothing was sent.';
      default:
        return null;
    }
  },
  timeout: (op) => `the bot could not confirm BGP prefix ${op.prefix} was ${action === 'create' ? 'created' : 'deleted'} in time. Check with \`/byoip status ${s(op.params.accountPrefix)}\`.`,
});

export const KIND_VIEWS: Record<OperationKind, KindView> = {
  bgp_create: bgpPrefixView('create'),
  bgp_delete: bgpPrefixView('delete'),
  advertise: advertisement('advertise'),
  withdraw: advertisement('withdraw'),
  onboard: {
    noun: 'new prefix',
    willChange: (op) =>
      `Add ${op.prefix}${typeof op.params.asn === 'number' ? ` (AS${op.params.asn})` : ''} to Cloudflare${op.params.account ? ` account *${userText(String(op.params.account), 80)}*` : ''} (\`POST .../prefixes\`). It starts pending (\`P\`) with an ownership token to publish; nothing is announced. ` +
      (op.params.loa === 'own'
        ? `LOA: ours, filled from Cloudflare's template for ${userText(String((op.params.loaFields as { company?: string } | undefined)?.company ?? ''), 120)} (signed by ${userText(String((op.params.loaFields as { signerName?: string } | undefined)?.signerName ?? ''), 120)}), uploaded first (\`POST .../loa_documents\`). `
        : 'LOA: Cloudflare generates it (`delegate_loa_creation: true`, the docs\' recommended path). ') +
      `After it is added: publish the token, then \`/byoip validate ${op.prefix}\`.` +
      (typeof op.params.asn === 'number' && op.params.asn !== 13335
        ? ` ⚠️ Cloudflare's self-serve onboarding supports AS13335 only (the docs); to announce under AS${op.params.asn}, talk to your Cloudflare account team first.`
        : ''),
    progress: (op, step, f) => (step === 'accepted' ? `☁️ Cloudflare added ${op.prefix} as prefix \`${s(f.prefixId)}\`; checking it is there.` : null),
    ending(op, step, f) {
      if (step === 'already_added') return `${op.prefix} is already on the account (added by someone else meanwhile, prefix \`${s(f.prefixId)}\`); nothing was added.`;
      if (step !== 'added') return null;
      const token = s(f.token) || '(see the dashboard)';
      const zones = (f.zones as string[] | undefined) ?? [];
      return (
        `Cloudflare added ${op.prefix} (prefix \`${s(f.prefixId)}\`, ${f.approved === 'V' ? 'approved' : 'pending validation'}). ` +
        `Next, publish the ownership token \`${token}\`: either \`remarks: cf-validation: ${token}\` on the IRR route object, ` +
        `or \`cf-validation.<zone> TXT "${token}"\` in every reverse zone (${zones.slice(0, 4).join(', ')}${zones.length > 4 ? ', …' : ''}). ` +
        `Make sure the ROA lets the ASN originate every length you will announce, then run \`/byoip validate ${op.prefix}\`. ` +
        loaSentence(op, f)
      );
    },
    timeout: (op) => `Cloudflare accepted ${op.prefix}, but the bot could not read it back in time. Check with \`/byoip status ${op.prefix}\`.`,
  },
  bind: {
    noun: 'service binding',
    willChange: (op) => {
      const cidrs = (op.params.cidrs as string[] | undefined) ?? [];
      const how = op.params.ipsGiven ? ` (the fewest CIDRs covering the IPs given exactly: ${cidrs.length})` : '';
      return `Bind ${cidrs.map((c) => `\`${c}\``).join(', ')} of ${op.prefix} to *${userText(String(op.params.service ?? '?'), 60)}*${how}: one \`POST .../bindings\` per CIDR. Cloudflare takes 4-6 hours to provision a binding; traffic on those addresses may be disrupted meanwhile.`;
    },
    progress(op, step, f) {
      if (step === 'accepted') {
        const made = (f.created as string[] | undefined) ?? [];
        const had = (f.already as string[] | undefined) ?? [];
        return `☁️ Cloudflare accepted ${made.length} binding(s) to ${s(f.service)}${made.length ? `: ${made.join(', ')}` : ''}${had.length ? `; already bound: ${had.join(', ')}` : ''}. Provisioning takes 4-6 hours; the thread says when each is active.`;
      }
      if (step === 'already_true') return `ℹ️ Every CIDR was already bound to ${s(f.service)}; no call was needed. Following their provisioning.`;
      if (step === 'provisioning') return `⏳ Bindings: ${s(f.summary)}`;
      return null;
    },
    ending(op, step, f) {
      if (step === 'bound') return `every binding is active (${s(f.summary)}). Allow five hours before the first advertise of ${op.prefix}, as Cloudflare asks.`;
      if (step === 'binding_missing') return `Cloudflare no longer lists the binding(s) ${((f.missing as string[]) ?? []).join(', ')}: someone removed them, or the create did not hold. Check with /byoip status ${op.prefix}.`;
      return null;
    },
    timeout: (op, f) => `the bindings of ${op.prefix} were not all active within ${humanDuration(Number(f.timeoutMs ?? 0))} (last seen: ${s(f.latest) || 'nothing'}). Check the dashboard; Cloudflare support can tell why one is stuck.`,
  },
  'address-map': {
    noun: 'address map change',
    willChange: (op) => {
      const p = op.params;
      const id = `\`${s(p.mapId)}\``;
      const v = userText(s(p.value), 64);
      const ips = ((p.ips as string[] | undefined) ?? []).slice(0, 20);
      const zones = ((p.zones as string[] | undefined) ?? []).slice(0, 10);
      switch (s(p.action)) {
        case 'create':
          return (
            `Create an address map${p.description ? ` "${userText(s(p.description), 100)}"` : ''} (\`POST .../address_maps\`): IPs ${ips.join(', ') || 'none'}; ` +
            `members: ${[...zones.map((z) => `zone \`${z}\``), ...(p.account ? ['the whole account'] : [])].join(', ') || 'none'}; ${p.enabled ? '*enabled*' : 'disabled'}` +
            `${p.defaultSni ? `; default SNI ${userText(s(p.defaultSni), 100)} (set by an edit right after the create: Cloudflare's create takes none)` : ''}.`
          );
        case 'add-ip':
          return `Add ${v} to address map ${id} (\`PUT .../ips/${v}\`).`;
        case 'remove-ip':
          return `Remove ${v} from address map ${id} (\`DELETE .../ips/${v}\`).`;
        case 'add-zone':
          return `Make zone \`${v}\` a member of address map ${id} (\`PUT .../zones/${v}\`).`;
        case 'remove-zone':
          return `Remove zone \`${v}\` from address map ${id} (\`DELETE .../zones/${v}\`).`;
        case 'add-account':
          return `Make the whole account a member of address map ${id} (\`PUT .../accounts/${v}\`): every zone without a zone-level map answers with its IPs.`;
        case 'remove-account':
          return `Remove the account membership of address map ${id} (\`DELETE .../accounts/${v}\`).`;
        case 'enable':
          return `Enable address map ${id} (\`PATCH {"enabled":true}\`): its members' proxied DNS answers switch to its IPs.`;
        case 'disable':
          return `Disable address map ${id} (\`PATCH {"enabled":false}\`): its members' proxied DNS answers go back to Cloudflare's addresses (or another map's).`;
        case 'delete':
          return `Delete address map ${id} (\`DELETE .../address_maps/${s(p.mapId)}\`); it is disabled, so no DNS answer changes.`;
        default:
          return `Change address map ${id}.`;
      }
    },
    progress(op, step, f) {
      if (step === 'accepted') return `☁️ Cloudflare accepted the change to address map \`${s(f.mapId) || 'new'}\` (${s(f.action)}); reading it back.`;
      if (step === 'already_true') return `ℹ️ Address map \`${s(f.mapId)}\` already shows this (${s(f.action)}); no call was needed.`;
      return null;
    },
    ending(op, step, f) {
      const id = `\`${s(f.mapId)}\``;
      if (step === 'address_map_changed') {
        if (f.action === 'delete') return `address map ${id} is deleted; Cloudflare no longer lists it.`;
        const ips = ((f.ips as string[] | undefined) ?? []).join(', ') || 'no IPs';
        const zones = ((f.zones as string[] | undefined) ?? []).length;
        const accounts = ((f.accounts as string[] | undefined) ?? []).length;
        return `address map ${id} shows the change (${s(f.action)}): ${f.enabled ? 'enabled' : 'disabled'}, ${ips}, ${zones} zone(s)${accounts ? ' and the account' : ''}.`;
      }
      if (step === 'address_map_not_shown') return `Cloudflare answered, but address map ${id} does not show the change (${s(f.action)}) when read back. Check it with /byoip address-map show ${s(f.mapId)}.`;
      if (step === 'address_map_refused') return `${((f.problems as string[] | undefined) ?? []).map((p) => userText(p, 400)).join(' ')}`;
      return null;
    },
    timeout: (op) => `the change to address map \`${s(op.params.mapId)}\` could not be read back in time. Check it with /byoip address-map show ${s(op.params.mapId) || op.prefix}.`,
  },
  unbind: {
    noun: 'binding removal',
    willChange: (op) =>
      `Remove the *${userText(String(op.params.service ?? '?'), 60)}* binding on \`${s(op.params.cidr)}\` of ${op.prefix}${op.params.isDefault ? ' (the default binding)' : ''}: one \`DELETE .../bindings/{id}\`. Cloudflare takes 4-6 hours to delete a binding; once it is gone, traffic on those addresses is no longer served by ${userText(String(op.params.service ?? 'that service'), 60)}.`,
    progress(op, step, f) {
      if (step === 'accepted') return `☁️ Cloudflare accepted the removal of the ${s(f.service)} binding on ${s(f.cidr)}. Deletion takes 4-6 hours; the thread says when it is gone.`;
      if (step === 'already_true') return `ℹ️ Cloudflare no longer lists a ${s(f.service)} binding on ${s(f.cidr)}; no call was needed.`;
      if (step === 'deleting') return `⏳ Binding: ${s(f.summary)}`;
      return null;
    },
    ending(op, step, f) {
      if (step === 'unbound') return `the ${s(f.service)} binding on ${s(f.cidr)} of ${op.prefix} is gone; those addresses are no longer served by ${s(f.service)}.`;
      return null;
    },
    timeout: (op, f) =>
      `Cloudflare still lists the ${s(op.params.service)} binding on ${s(op.params.cidr)} of ${op.prefix} after ${humanDuration(Number(f.timeoutMs ?? 0))} (last seen: ${s(f.latest) || 'nothing'}). Check the dashboard; Cloudflare support can tell why a deletion is stuck.`,
  },
  delegate: {
    noun: 'delegation',
    willChange: (op) =>
      `Delegate \`${s(op.params.cidr)}\` of ${op.prefix} to account \`${s(op.params.delegatedAccountId)}\`: one \`POST .../delegations\`. That account can then use those addresses (address maps, its own services); service bindings stay on this, the parent account.`,
    progress(op, step, f) {
      if (step === 'accepted') return `☁️ Cloudflare accepted the delegation of ${s(f.cidr)} to account \`${s(f.account)}\`; checking it is listed.`;
      if (step === 'already_true') return `ℹ️ ${s(f.cidr)} was already delegated to account \`${s(f.account)}\`; no call was needed.`;
      return null;
    },
    ending(op, step, f) {
      if (step === 'delegated') return `${s(f.cidr)} of ${op.prefix} is delegated to account \`${s(f.account)}\`. Its service bindings stay on this account.`;
      if (step === 'delegation_missing') return `Cloudflare does not list the delegation of ${s(f.cidr)} to \`${s(f.account)}\`: someone removed it, or the create did not hold. Check with /byoip delegations ${op.prefix}.`;
      return null;
    },
    timeout: (op) => `The bot could not read back the delegation of ${s(op.params.cidr)} in time. Check with /byoip delegations ${op.prefix}.`,
  },
  undelegate: {
    noun: 'delegation removal',
    willChange: (op) =>
      `Take back \`${s(op.params.cidr)}\` of ${op.prefix} from account \`${s(op.params.delegatedAccountId)}\`: one \`DELETE .../delegations/{id}\`. That account can no longer use those addresses (its address maps on them stop answering).`,
    progress(op, step, f) {
      if (step === 'accepted') return `☁️ Cloudflare accepted the removal of the delegation of ${s(f.cidr)}; checking it is gone.`;
      if (step === 'already_true') return `ℹ️ ${s(f.cidr)} was no longer delegated; no call was needed.`;
      return null;
    },
    ending(op, step, f) {
      if (step === 'undelegated') return `${s(f.cidr)} of ${op.prefix} is no longer delegated to account \`${s(f.account)}\`.`;
      return null;
    },
    timeout: (op, f) => `Cloudflare still lists the delegation of ${s(op.params.cidr)} of ${op.prefix} after ${humanDuration(Number(f.timeoutMs ?? 0))}. Check with /byoip delegations ${op.prefix}.`,
  },
  validate: {
    noun: 'validation request',
    willChange: (op) => `Cloudflare checks IRR, RPKI and ownership of ${op.prefix} (\`POST .../validate\`); when all pass the prefix is approved (\`V\`). Nothing is announced.`,
    progress(op, step, f) {
      if (step === 'accepted') return `☁️ Cloudflare accepted the validation of ${op.prefix} (IRR ${s(f.irr)}, RPKI ${s(f.rpki)}, ownership ${s(f.ownership)}). Following the checks until they settle.`;
      if (step === 'already_true') return `ℹ️ Cloudflare already has ${op.prefix} validated and approved; no call was needed.`;
      if (step === 'checks') return `⏳ Cloudflare's checks: ${s(f.summary)}`;
      return null;
    },
    ending(op, step, f) {
      if (step === 'validated') {
        const patch = f.loaPatch as { request?: string; sent?: string; loaDocumentId?: string | null } | undefined;
        const loa = !patch
          ? ''
          : patch.sent === 'now'
            ? ` Our own LOA (document \`${s(patch.loaDocumentId)}\`): the bot sent the PATCH the docs ask for once the prefix is approved (\`${s(patch.request)}\`); now tell your Cloudflare account team the prefix is approved with your own LOA.`
            : ` Our own LOA (document \`${s(patch.loaDocumentId)}\`): the PATCH the docs ask for once approved was sent before; tell your Cloudflare account team if you have not.`;
        return `Cloudflare validated and approved ${op.prefix} (${s(f.summary)}).${loa} Next: the default service binding, then the BGP prefix.`;
      }
      if (step === 'checks_failed') {
        const failing = Object.entries((f.failing as Record<string, string>) ?? {})
          .map(([k, v]) => `${k === 'irr' ? 'IRR' : k === 'rpki' ? 'RPKI' : k} ${v}`)
          .join(', ');
        const explained = (f.explained as ValidationExplanation[] | undefined) ?? [];
        const why = explained
          .map((x) => `\n• *${CHECK_NAME[x.check]} \`${escapeMrkdwn(x.state)}\`*: ${escapeMrkdwn(x.cause)} Fix: ${escapeMrkdwn(x.fix)}\n\`\`\`${escapeMrkdwn(x.record.join('\n'))}\`\`\``)
          .join('');
        return `Cloudflare's validation of ${op.prefix} failed: ${failing}.${why}\nOnce published, run \`/byoip preflight ${op.prefix}\` to check, then ask again.`;
      }
      return null;
    },
    timeout: (op, f) => `Cloudflare has not finished validating ${op.prefix} within ${humanDuration(Number(f.timeoutMs ?? 0))} (${s(f.latest) || 'no answer yet'}). Check again with \`/byoip status ${op.prefix}\`.`,
  },
};
