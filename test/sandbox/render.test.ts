import { describe, expect, it } from 'vitest';
import { mrkdwnToText, renderBlocks, renderMessage, renderView, indentLines } from '../../world/sandbox/render.js';

const names: Record<string, string> = { U0ALICE: 'alice', U0BOB: 'bob' };
const ctx = {
  userName: (id: string) => names[id],
  channelName: (id: string) => (id === 'C0NETOPS' ? 'netops' : undefined),
  usergroupHandle: (id: string) => (id === 'S0APPR' ? 'net-approvers' : undefined),
};

describe('mrkdwnToText', () => {
  it('turns links, mentions, channels, groups and dates into text', () => {
    expect(mrkdwnToText('see <https://dash.cloudflare.com/x|the dashboard> or <https://example.net>', ctx)).toBe('see the dashboard or https://example.net');
    expect(mrkdwnToText('requested by <@U0ALICE>, approve: <!subteam^S0APPR> in <#C0NETOPS>', ctx)).toBe('requested by @alice, approve: @net-approvers in #netops');
    expect(mrkdwnToText('usage: /byoip withdraw <prefix>')).toBe('usage: /byoip withdraw <prefix>');
    expect(mrkdwnToText('<@U0ZED> and <@U0ZED|zed> <!here> <!date^1700000000^{date_short}|Nov 14>', ctx)).toBe('@U0ZED and @zed @here Nov 14');
  });

  it('drops bold and italic markers, keeps code, decodes entities and common emoji', () => {
    expect(mrkdwnToText('*Withdraw* _now_ `203.0.113.0/24` a &lt; b &amp;&amp; c &gt; d :white_check_mark:')).toBe(
      'Withdraw now `203.0.113.0/24` a < b && c > d ✅',
    );
    expect(mrkdwnToText('snake_case_name and 2*3*4')).toBe('snake_case_name and 2*3*4');
  });
});

describe('renderBlocks', () => {
  it('renders a card: header, section with fields and accessory, context, divider, buttons', () => {
    const lines = renderBlocks(
      [
        { type: 'header', text: { type: 'plain_text', text: 'Withdraw 203.0.113.0/24' } },
        {
          type: 'section',
          text: { type: 'mrkdwn', text: 'Requested by <@U0ALICE>' },
          fields: [
            { type: 'mrkdwn', text: '*Prefix*\n203.0.113.0/24' },
            { type: 'mrkdwn', text: '*Approvals*\n0 of 1' },
          ],
          accessory: { type: 'button', text: { type: 'plain_text', text: 'Details' }, action_id: 'd' },
        },
        { type: 'context', elements: [{ type: 'mrkdwn', text: 'expires in 30 min' }, { type: 'plain_text', text: 'op-1' }] },
        { type: 'divider' },
        {
          type: 'actions',
          elements: [
            { type: 'button', text: { type: 'plain_text', text: 'Approve' }, action_id: 'a', style: 'primary' },
            { type: 'button', text: { type: 'plain_text', text: 'Reject' }, action_id: 'r', style: 'danger' },
            { type: 'button', text: { type: 'plain_text', text: 'Runbook' }, url: 'https://wiki' },
          ],
        },
      ],
      ctx,
    );
    expect(lines).toEqual([
      '== Withdraw 203.0.113.0/24 ==',
      'Requested by @alice  [ Details ]',
      '  Prefix: 203.0.113.0/24',
      '  Approvals: 0 of 1',
      '  expires in 30 min  ·  op-1',
      '─'.repeat(32),
      '[ Approve ] [ Reject ] [ Runbook ↗ ]',
    ]);
  });

  it('renders rich text and unknown blocks without crashing', () => {
    const lines = renderBlocks([
      {
        type: 'rich_text',
        elements: [
          { type: 'rich_text_section', elements: [{ type: 'text', text: 'hi ' }, { type: 'user', user_id: 'U0BOB' }] },
          { type: 'rich_text_list', style: 'bullet', elements: [{ type: 'rich_text_section', elements: [{ type: 'text', text: 'one' }] }] },
        ],
      },
      { type: 'mystery' },
      null,
    ], ctx);
    expect(lines).toEqual(['hi @bob', '• one', '[mystery block]']);
  });

  it('falls back to the text of a message without blocks', () => {
    expect(renderMessage({ text: 'plain <@U0BOB>', blocks: [] }, ctx)).toBe('plain @bob');
  });
});

describe('renderView', () => {
  const modal = {
    type: 'modal',
    title: { type: 'plain_text', text: 'Withdraw a prefix' },
    submit: { type: 'plain_text', text: 'Request' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      { type: 'input', block_id: 'prefix', label: { type: 'plain_text', text: 'Prefix' }, element: { type: 'plain_text_input', action_id: 'v', placeholder: { type: 'plain_text', text: '203.0.113.0/24' } }, hint: { type: 'plain_text', text: 'a /24 or shorter' } },
      {
        type: 'input',
        block_id: 'account',
        label: { type: 'plain_text', text: 'Account' },
        element: { type: 'static_select', action_id: 'v', options: [{ text: { type: 'plain_text', text: 'prod' }, value: 'a1' }, { text: { type: 'plain_text', text: 'lab' }, value: 'a2' }] },
      },
      {
        type: 'input',
        block_id: 'urgency',
        optional: true,
        label: { type: 'plain_text', text: 'Urgency' },
        element: { type: 'radio_buttons', action_id: 'v', options: [{ text: { type: 'plain_text', text: 'normal' }, value: 'n' }, { text: { type: 'plain_text', text: 'incident' }, value: 'i' }] },
      },
      {
        type: 'input',
        block_id: 'checks',
        label: { type: 'plain_text', text: 'Checks' },
        element: { type: 'checkboxes', action_id: 'v', options: [{ text: { type: 'plain_text', text: 'RPKI' }, value: 'rpki' }, { text: { type: 'plain_text', text: 'IRR' }, value: 'irr' }] },
      },
    ],
  };

  it('shows title, inputs with placeholders, options and footer buttons', () => {
    expect(renderView(modal, ctx)).toBe(
      [
        '┌─ Withdraw a prefix',
        '│ Prefix: [ 203.0.113.0/24… ]',
        '│   (a /24 or shorter)',
        '│ Account: [ choose ▾ ]',
        '│   options: prod | lab',
        '│ Urgency (optional): ( ) normal  ( ) incident',
        '│ Checks: [ ] RPKI  [ ] IRR',
        '└─ [ Cancel ] [ Request ]',
      ].join('\n'),
    );
  });

  it('shows filled values and the bot errors', () => {
    const out = renderView(modal, {
      ...ctx,
      values: {
        prefix: { v: { type: 'plain_text_input', value: '10.0.0.0/8' } },
        account: { v: { type: 'static_select', selected_option: { text: { type: 'plain_text', text: 'lab' }, value: 'a2' } } },
        urgency: { v: { type: 'radio_buttons', selected_option: { text: { type: 'plain_text', text: 'incident' }, value: 'i' } } },
        checks: { v: { type: 'checkboxes', selected_options: [{ text: { type: 'plain_text', text: 'IRR' }, value: 'irr' }] } },
      },
      errors: { prefix: 'Not a prefix you own' },
    });
    expect(out).toContain('Prefix: [ 10.0.0.0/8 ]');
    expect(out).toContain('│   ! Not a prefix you own');
    expect(out).toContain('Account: [ lab ▾ ]');
    expect(out).toContain('( ) normal  (•) incident');
    expect(out).toContain('[ ] RPKI  [x] IRR');
  });
});

describe('indentLines', () => {
  it('indents continuation lines under the first', () => {
    expect(indentLines('a\nb', '  ↳ ')).toBe('  ↳ a\n    b');
  });
});
