import { actionVerb, type OperationKind } from '../../domain/operation.js';
import { BlockId, CallbackId, InputActionId } from '../ids.js';
import { context, section, type Block } from './blocks.js';

export interface RequestModalMetadata {
  kind: OperationKind;
  cidr: string;
  /** Where the command was typed (the card itself goes to the policy's channel). */
  channel: string;
  /** The command's response_url, to say there where the card is; and when Slack issued it. */
  responseUrl?: string;
  issuedAt?: number;
  /** Onboard: the ASN to add the prefix with. */
  asn?: number;
  /** Address map edits: the action, the map and the value named at the command (no inputs of their own). */
  form?: Record<string, string>;
  /** What the command named after the prefix (unbind, delegate, undelegate: `target` CIDR, `account`), passed on as the form. */
  args?: Record<string, string>;
  /** Fields the command itself gave (bgp create / delete: the account prefix), merged into the request's `form`. */
  fixed?: Record<string, string>;
}

/** Kind-specific inputs of the form, read back into the request's `form` on submit. */
export const FORM_INPUTS: Partial<Record<OperationKind, { blockId: string; actionId: string; field: string }[]>> = {
  bind: [
    { blockId: 'bind_service', actionId: 'bind_service_input', field: 'service' },
    { blockId: 'bind_targets', actionId: 'bind_targets_input', field: 'targets' },
  ],
  // Only `create` shows these; an edit's action, map and value travel in the form's metadata.
  'address-map': [
    { blockId: 'map_description', actionId: 'map_description_input', field: 'description' },
    { blockId: 'map_zones', actionId: 'map_zones_input', field: 'zones' },
    { blockId: 'map_account', actionId: 'map_account_input', field: 'account' },
    { blockId: 'map_enabled', actionId: 'map_enabled_input', field: 'enabled' },
    { blockId: 'map_sni', actionId: 'map_sni_input', field: 'sni' },
    { blockId: 'map_ips', actionId: 'map_ips_input', field: 'ips' },
  ],
  onboard: [
    { blockId: 'onboard_account', actionId: 'onboard_account_input', field: 'account' },
    { blockId: 'onboard_loa', actionId: 'onboard_loa_input', field: 'loa' },
    { blockId: 'onboard_loa_company', actionId: 'onboard_loa_company_input', field: 'loa_company' },
    { blockId: 'onboard_loa_signer_name', actionId: 'onboard_loa_signer_name_input', field: 'loa_signer_name' },
    { blockId: 'onboard_loa_signer_title', actionId: 'onboard_loa_signer_title_input', field: 'loa_signer_title' },
  ],
};

/** The checklist from Cloudflare's BYOIP best practices, one item the requester must tick. */
export function checklistText(kind: OperationKind): string {
  return {
    withdraw: 'Our own data centre already announces this prefix (or a covering one)',
    advertise: 'We remove our own announcement once AS13335 is seen on a looking glass',
    onboard: 'We hold this prefix; an LOA for it will follow',
    validate: 'The ROA, IRR route object and ownership token are published',
    bind: 'We expect 4-6 hours of provisioning on these addresses',
    'address-map': 'The owners of the zones whose DNS answers change know about it',
    unbind: 'Nothing needs this service on these addresses once the 4-6 h deletion ends',
    delegate: 'The other account is ours or agreed, and expects these addresses',
    undelegate: 'The other account no longer uses these addresses',
    bgp_create: 'We know it starts withdrawn; advertising is a separate request',
    bgp_delete: 'Nothing needs this BGP prefix any more (it is withdrawn)',
  }[kind];
}

/**
 * The modal that asks for the reason and the checklist before filing an advertise / withdraw. `checkedLater`: the
 * bot could not look the prefix up at Cloudflare before the form opened (its API share for look-ups is used up); the
 * same checks run when the form is submitted.
 */
export function requestModal(meta: RequestModalMetadata, reason = '', opts: { checkedLater?: boolean; services?: string[]; accounts?: string[] } = {}): Record<string, unknown> {
  const verb = actionVerb(meta.kind);
  const blocks: Block[] = [
    section(meta.kind === 'address-map' ? addressMapHeading(meta) : `*${verb} ${meta.cidr}*${meta.args?.target ? ` \`${meta.args.target}\`` : ''}${meta.args?.account ? ` to account \`${meta.args.account}\`` : ''}${meta.fixed?.prefix ? ` of prefix ${meta.fixed.prefix}` : ''}${meta.asn ? ` (AS${meta.asn})` : ''}${meta.kind === 'advertise' || meta.kind === 'withdraw' ? ' through Cloudflare' : ''}. An approver must approve before anything is sent.`),
    ...(opts.checkedLater
      ? [context('⌛ Cloudflare is busy with look-ups right now, so the bot has not checked this prefix yet; it checks when you submit, and says so if something is wrong.')]
      : []),
    ...(meta.kind === 'bind' ? bindInputs(opts.services ?? []) : []),
    ...(meta.kind === 'address-map' && (meta.form?.action ?? 'create') === 'create' ? addressMapInputs() : []),
    ...(meta.kind === 'onboard' ? onboardInputs(opts.accounts ?? [], meta.asn) : []),
    {
      type: 'input',
      block_id: BlockId.Reason,
      label: { type: 'plain_text', text: 'Reason' },
      hint: { type: 'plain_text', text: 'Ticket, incident or why; approvers read this.' },
      element: { type: 'plain_text_input', action_id: InputActionId.Reason, multiline: true, min_length: 3, max_length: 500, ...(reason ? { initial_value: reason.slice(0, 500) } : {}) },
    },
    {
      type: 'input',
      block_id: BlockId.Checklist,
      label: { type: 'plain_text', text: 'Checklist' },
      element: {
        type: 'checkboxes',
        action_id: InputActionId.Checklist,
        // Slack caps option text at 75 characters.
        options: [{ text: { type: 'plain_text', text: checklistText(meta.kind) }, value: 'confirmed' }],
      },
    },
    context(
      {
        withdraw: 'Cloudflare: "Add the prefix advertisement to your data center" before withdrawing; withdrawing takes about 15 minutes.',
        advertise: 'Cloudflare: advertise first, verify with a looking glass (AS13335), then remove your own announcement; advertising takes 2-7 minutes.',
        onboard: 'The card shows the pre-flight checks. Cloudflare adds the prefix as pending and returns an ownership token to publish; then /byoip validate.',
        validate: 'The card shows the pre-flight checks; Cloudflare then runs its own IRR, RPKI and ownership checks.',
        bind: 'The first binding of a prefix is its default and spans the whole prefix; Magic Transit only as the default; an address is CDN or Spectrum, not both.',
        'address-map': 'DNS answers change only for members of an enabled map; a zone membership outranks an account membership. The card says which zones change.',
        unbind: 'Cloudflare takes 4-6 hours to delete a binding; then traffic on those addresses is no longer served by that service. The default binding goes last.',
        delegate: 'The other account can use these addresses (address maps); service bindings stay on this, the parent account.',
        undelegate: 'The other account loses these addresses at once; its address maps on them stop answering.',
        bgp_create: 'Cloudflare creates the BGP prefix withdrawn; it needs an approved prefix with an active default service binding.',
        bgp_delete: 'Cloudflare deletes only a withdrawn BGP prefix; an advertised one must be withdrawn first.',
      }[meta.kind],
    ),
  ];
  return {
    type: 'modal',
    callback_id: CallbackId.RequestChange,
    private_metadata: JSON.stringify(meta),
    title: { type: 'plain_text', text: meta.kind === 'address-map' ? 'Address map' : meta.kind === 'bgp_create' || meta.kind === 'bgp_delete' ? verb : `${verb} prefix` },
    submit: { type: 'plain_text', text: 'Request approval' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks,
  };
}

/**
 * Onboard: which account (only when the policy names several), and the LOA: Cloudflare generates it (the docs'
 * recommended path, the default) or we bring our own, filled from the docs' template (company, signer's name and
 * title; the prefix, the ASN and the date come from the request).
 */
function onboardInputs(accounts: string[], asn: number | undefined): Block[] {
  const [account, loa, company, signerName, signerTitle] = FORM_INPUTS.onboard!;
  const opt = (text: string, value: string) => ({ text: { type: 'plain_text', text: text.slice(0, 75) }, value: value.slice(0, 150) });
  const text = (b: { blockId: string; actionId: string }, label: string, hint: string): Block => ({
    type: 'input',
    optional: true,
    block_id: b.blockId,
    label: { type: 'plain_text', text: label },
    hint: { type: 'plain_text', text: hint },
    element: { type: 'plain_text_input', action_id: b.actionId, max_length: 120 },
  });
  const cloudflare = opt('Cloudflare generates it (recommended)', 'cloudflare');
  return [
    ...(accounts.length > 1
      ? [
          {
            type: 'input',
            block_id: account!.blockId,
            label: { type: 'plain_text', text: 'Cloudflare account' },
            hint: { type: 'plain_text', text: 'The account that should own this prefix.' },
            element: { type: 'static_select', action_id: account!.actionId, initial_option: opt(accounts[0]!, accounts[0]!), options: accounts.slice(0, 100).map((a) => opt(a, a)) },
          },
        ]
      : []),
    ...(asn !== undefined && asn !== 13335 ? [context(`⚠️ Cloudflare's self-serve onboarding supports AS13335 only; to announce under AS${asn}, talk to your Cloudflare account team.`)] : []),
    {
      type: 'input',
      block_id: loa!.blockId,
      label: { type: 'plain_text', text: 'Letter of Agency' },
      element: { type: 'radio_buttons', action_id: loa!.actionId, initial_option: cloudflare, options: [cloudflare, opt('We bring our own (filled from the template)', 'own')] },
    },
    text(company!, 'Company (own LOA)', 'Who authorises Cloudflare to announce the prefix.'),
    text(signerName!, "Signer's name (own LOA)", 'Who signs the LOA on the company\'s behalf.'),
    text(signerTitle!, "Signer's title (own LOA)", 'e.g. Head of Network Engineering.'),
  ];
}

/** Bind: the service (from Cloudflare's list) and a CIDR or a list of IPs (aggregated into the fewest CIDRs). */
function bindInputs(services: string[]): Block[] {
  const [service, targets] = FORM_INPUTS.bind!;
  return [
    {
      type: 'input',
      block_id: service!.blockId,
      label: { type: 'plain_text', text: 'Service' },
      element: {
        type: 'static_select',
        action_id: service!.actionId,
        placeholder: { type: 'plain_text', text: 'Magic Transit, CDN, Spectrum…' },
        options: services.slice(0, 100).map((name) => ({ text: { type: 'plain_text', text: name.slice(0, 75) }, value: name.slice(0, 150) })),
      },
    },
    {
      type: 'input',
      block_id: targets!.blockId,
      label: { type: 'plain_text', text: 'CIDR or IPs' },
      hint: { type: 'plain_text', text: 'One CIDR (203.0.113.16/29), or IPs and ranges (203.0.113.16-203.0.113.23, 203.0.113.40): the fewest CIDRs covering them exactly.' },
      element: { type: 'plain_text_input', action_id: targets!.actionId, multiline: true, max_length: 3000 },
    },
  ];
}

const ACTION_WORDS: Record<string, string> = {
  create: 'Create an address map',
  'add-ip': 'Add an IP to address map',
  'remove-ip': 'Remove an IP from address map',
  'add-zone': 'Add a zone to address map',
  'remove-zone': 'Remove a zone from address map',
  'add-account': 'Add the account to address map',
  'remove-account': 'Remove the account from address map',
  enable: 'Enable address map',
  disable: 'Disable address map',
  delete: 'Delete address map',
};

function addressMapHeading(meta: RequestModalMetadata): string {
  const action = meta.form?.action ?? 'create';
  const words = ACTION_WORDS[action] ?? action;
  if (action === 'create') return `*${words}* with addresses of ${meta.cidr}. An approver must approve before anything is sent.`;
  const value = meta.form?.value ? ` (${meta.form.value.slice(0, 64)})` : '';
  return `*${words} \`${(meta.form?.mapId ?? '').slice(0, 32)}\`*${value}, filed under ${meta.cidr}. An approver must approve before anything is sent.`;
}

/** Address map create: description, IPs, zones, the account membership, enabled, default SNI. */
function addressMapInputs(): Block[] {
  const [description, zones, account, enabled, sni, ips] = FORM_INPUTS['address-map']!;
  const text = (i: typeof description, label: string, hint: string, optional: boolean, multiline = false): Block => ({
    type: 'input',
    block_id: i!.blockId,
    optional,
    label: { type: 'plain_text', text: label },
    hint: { type: 'plain_text', text: hint },
    element: { type: 'plain_text_input', action_id: i!.actionId, multiline, max_length: 3000 },
  });
  const yesNo = (i: typeof description, label: string, initial: 'yes' | 'no'): Block => {
    const options = [
      { text: { type: 'plain_text', text: 'Yes' }, value: 'yes' },
      { text: { type: 'plain_text', text: 'No' }, value: 'no' },
    ];
    return { type: 'input', block_id: i!.blockId, label: { type: 'plain_text', text: label }, element: { type: 'static_select', action_id: i!.actionId, options, initial_option: options[initial === 'yes' ? 0 : 1] } };
  };
  return [
    text(description, 'Description', 'What the map is for, e.g. CDN ingress for www.example.com.', true),
    text(ips, 'IPs', 'Addresses of your prefixes (203.0.113.10, 203.0.113.20-203.0.113.23), at most 256.', false, true),
    text(zones, 'Zone ids', 'The zones whose proxied DNS answers use these IPs (32-character ids, space or comma separated).', true, true),
    yesNo(account, 'Account-wide membership (every zone without a zone-level map)', 'no'),
    yesNo(enabled, 'Enabled (DNS answers change at once)', 'no'),
    text(sni, 'Default SNI', 'For TLS clients that send no SNI, e.g. *.example.com.', true),
  ];
}
