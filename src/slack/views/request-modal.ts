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
  /** Fields the command itself gave (bgp create / delete: the account prefix), merged into the request's `form`. */
  fixed?: Record<string, string>;
}

/** Kind-specific inputs of the form, read back into the request's `form` on submit. */
export const FORM_INPUTS: Partial<Record<OperationKind, { blockId: string; actionId: string; field: string }[]>> = {
  bind: [
    { blockId: 'bind_service', actionId: 'bind_service_input', field: 'service' },
    { blockId: 'bind_targets', actionId: 'bind_targets_input', field: 'targets' },
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
    section(`*${verb} ${meta.cidr}*${meta.fixed?.prefix ? ` of prefix ${meta.fixed.prefix}` : ''}${meta.asn ? ` (AS${meta.asn})` : ''}${meta.kind === 'advertise' || meta.kind === 'withdraw' ? ' through Cloudflare' : ''}. An approver must approve before anything is sent.`),
    ...(opts.checkedLater
      ? [context(':hourglass: Cloudflare is busy with look-ups right now, so the bot has not checked this prefix yet; it checks when you submit, and says so if something is wrong.')]
      : []),
    ...(meta.kind === 'bind' ? bindInputs(opts.services ?? []) : []),
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
        bgp_create: 'Cloudflare creates the BGP prefix withdrawn; it needs an approved prefix with an active default service binding.',
        bgp_delete: 'Cloudflare deletes only a withdrawn BGP prefix; an advertised one must be withdrawn first.',
      }[meta.kind],
    ),
  ];
  return {
    type: 'modal',
    callback_id: CallbackId.RequestChange,
    private_metadata: JSON.stringify(meta),
    title: { type: 'plain_text', text: meta.kind === 'bgp_create' || meta.kind === 'bgp_delete' ? verb : `${verb} prefix` },
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
    ...(asn !== undefined && asn !== 13335 ? [context(`:warning: Cloudflare's self-serve onboarding supports AS13335 only; to announce under AS${asn}, talk to your Cloudflare account team.`)] : []),
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
