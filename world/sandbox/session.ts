import { SlackRequestSender } from '../simulator/slack/index.js';
import type { ChatOptions } from './chat.js';
import { SANDBOX_CHANNEL, SANDBOX_SIGNING_SECRET, SANDBOX_USERS, type Stack } from './stack.js';
import { worldCommand } from './world-command.js';

/** What every terminal chat on the simulated world shares: its people, its channel, and the `world` command. */
export function chatOptions(
  stack: Pick<Stack, 'slack' | 'world' | 'cloudflare'>,
  sender: SlackRequestSender,
  io: Pick<ChatOptions, 'input' | 'output'> & Partial<ChatOptions>,
): ChatOptions {
  return {
    sim: stack.slack,
    sender,
    users: SANDBOX_USERS.map((u) => ({ id: u.id, name: u.name, role: u.role })),
    defaultUser: 'alice',
    channel: SANDBOX_CHANNEL.id,
    extraCommands: {
      world: worldCommand(stack.world, (cidr) => [...stack.cloudflare.state.prefixes.values()].find((p) => p.cidr === cidr)?.ownershipValidationToken ?? undefined, (spec, o) => stack.cloudflare.notify(spec, o)),
    },
    ...io,
  };
}

/** A sender that signs requests for the bot listening at `botUrl` (its `/slack/events`). */
export function senderFor(stack: Pick<Stack, 'slack'>, botUrl: string): SlackRequestSender {
  return new SlackRequestSender({ eventsUrl: `${botUrl.replace(/\/+$/, '')}/slack/events`, signingSecret: SANDBOX_SIGNING_SECRET, sim: stack.slack, defaultChannel: SANDBOX_CHANNEL.id });
}
