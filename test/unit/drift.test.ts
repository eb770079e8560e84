import { describe, expect, it } from 'vitest';
import { compareState, driftTitle, rebase, sameItem, sectionsOf, type PrefixState } from '../../src/domain/drift.js';

const OTHER = '9a7806061c88ada191ed06f989cc3dac';
const base: PrefixState = {
  prefixId: 'p1',
  accountId: 'a1',
  cidr: '203.0.113.0/24',
  bgp: [
    { cidr: '203.0.113.0/24', advertised: true, prepend: 0 },
    { cidr: '203.0.113.0/25', advertised: false, prepend: 0 },
  ],
  bindings: [{ cidr: '203.0.113.0/24', service: 'Magic Transit' }],
  delegations: [{ cidr: '203.0.113.128/25', account: OTHER }],
};
const clone = (): PrefixState => structuredClone(base);

describe('drift comparison', () => {
  it('finds nothing when Cloudflare shows what the bot last set', () => {
    expect(compareState(base, clone())).toEqual([]);
  });

  it('an advertisement flipped outside the bot: before / after, and a withdraw request puts it back', () => {
    const now = clone();
    now.bgp[0]!.advertised = false;
    const items = compareState(base, now);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ id: 'advertised:203.0.113.0/24', section: 'advertised', before: 'advertised', after: 'withdrawn', putBack: { kind: 'advertise', cidr: '203.0.113.0/24' } });
    expect(driftTitle(items[0]!, base.cidr)).toContain('203.0.113.0/24 is withdrawn at Cloudflare, but the bot last left it advertised');

    const adv = clone();
    adv.bgp[1]!.advertised = true;
    expect(compareState(base, adv)[0]).toMatchObject({ id: 'advertised:203.0.113.0/25', putBack: { kind: 'withdraw', cidr: '203.0.113.0/25' } });
  });

  it('asn_prepend_count changed: reported, with no request kind to put it back', () => {
    const now = clone();
    now.bgp[0]!.prepend = 2;
    expect(compareState(base, now)).toEqual([expect.objectContaining({ id: 'prepend:203.0.113.0/24', before: 'asn_prepend_count 0', after: 'asn_prepend_count 2', putBack: null })]);
  });

  it('a binding added: an unbind of that CIDR puts it back; one removed: a bind request; provisioning state is not compared', () => {
    const added = clone();
    added.bindings.push({ cidr: '203.0.113.8/29', service: 'CDN' });
    expect(compareState(base, added)).toEqual([
      expect.objectContaining({ id: 'binding:203.0.113.8/29:CDN', before: 'none', after: 'CDN on 203.0.113.8/29', putBack: { kind: 'unbind', cidr: '203.0.113.0/24', args: { target: '203.0.113.8/29' } } }),
    ]);
    const removed = clone();
    removed.bindings = [];
    expect(compareState(base, removed)).toEqual([expect.objectContaining({ id: 'binding:203.0.113.0/24:Magic Transit', after: 'none', putBack: { kind: 'bind', cidr: '203.0.113.0/24' } })]);
  });

  it('a delegation removed: a delegate request to the same account puts it back; one added: undelegate', () => {
    const removed = clone();
    removed.delegations = [];
    expect(compareState(base, removed)).toEqual([
      expect.objectContaining({ id: `delegation:203.0.113.128/25:${OTHER}`, after: 'none', putBack: { kind: 'delegate', cidr: '203.0.113.0/24', args: { target: '203.0.113.128/25', account: OTHER } } }),
    ]);
    const added = clone();
    added.delegations.push({ cidr: '203.0.113.64/26', account: OTHER });
    expect(compareState(base, added)[0]).toMatchObject({ before: 'none', putBack: { kind: 'undelegate', args: { target: '203.0.113.64/26' } } });
  });

  it('BGP prefixes created or deleted outside the bot', () => {
    const now = clone();
    now.bgp = [now.bgp[0]!, { cidr: '203.0.113.0/26', advertised: false, prepend: 0 }];
    const ids = compareState(base, now).map((i) => `${i.id} ${i.before} -> ${i.after}`);
    expect(ids).toEqual(['bgp:203.0.113.0/25 BGP prefix 203.0.113.0/25 (withdrawn) -> none', 'bgp:203.0.113.0/26 none -> BGP prefix 203.0.113.0/26 (withdrawn)']);
  });

  it('sections a request is changing right now are left out', () => {
    const now = clone();
    now.bgp[0]!.advertised = false;
    now.delegations = [];
    expect(compareState(base, now, sectionsOf('withdraw')).map((i) => i.section)).toEqual(['delegation']);
    expect(compareState(base, now, ['advertised', 'delegation'])).toEqual([]);
    // A bind being provisioned hides new BGP prefixes (Cloudflare makes one with the default binding), not advertisements.
    const bound = clone();
    bound.bgp.push({ cidr: '203.0.113.0/26', advertised: false, prepend: 0 });
    bound.bgp[0]!.advertised = false;
    expect(compareState(base, bound, sectionsOf('bind')).map((i) => i.id)).toEqual(['advertised:203.0.113.0/24']);
  });

  it('a finished request re-baselines only the sections its kind touches', () => {
    const now = clone();
    now.bgp[0]!.advertised = false; // the bot's withdraw
    now.bindings.push({ cidr: '203.0.113.8/29', service: 'CDN' }); // someone else, meanwhile
    const next = rebase(base, now, sectionsOf('withdraw'));
    expect(next.bgp[0]!.advertised).toBe(false);
    expect(compareState(next, now).map((i) => i.id)).toEqual(['binding:203.0.113.8/29:CDN']);
    expect(sectionsOf('bind')).toEqual(['binding', 'bgp_prefix']);
    expect(sectionsOf('undelegate')).toEqual(['delegation']);
    // A bgp create takes the new BGP prefix as it is, and leaves the others' advertisement alone.
    const created = clone();
    created.bgp.push({ cidr: '203.0.113.0/26', advertised: false, prepend: 0 });
    created.bgp[0]!.advertised = false;
    const after = rebase(base, created, sectionsOf('bgp_create'));
    expect(after.bgp.map((b) => `${b.cidr} ${b.advertised}`)).toEqual(['203.0.113.0/24 true', '203.0.113.0/25 false', '203.0.113.0/26 false']);
    expect(compareState(after, created).map((i) => i.id)).toEqual(['advertised:203.0.113.0/24']);
    expect(sectionsOf('validate')).toEqual([]);
  });

  it('the same difference again is the same item; another after is not', () => {
    const a = clone();
    a.bgp[0]!.prepend = 1;
    const b = clone();
    b.bgp[0]!.prepend = 3;
    const [x] = compareState(base, a);
    const [y] = compareState(base, b);
    expect(sameItem(x!, compareState(base, a)[0]!)).toBe(true);
    expect(sameItem(x!, y!)).toBe(false);
  });
});
