import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/slack/command-parser.js';

/** The manifest installs what the code uses: the command, interactivity on /slack/events and the scopes called. */
describe('manifest.yml', () => {
  const m = parse(readFileSync('manifest.yml', 'utf8')) as {
    features: { slash_commands: { command: string; url: string; usage_hint: string; description: string }[] };
    oauth_config: { scopes: { bot: string[] } };
    settings: { interactivity: { is_enabled: boolean; request_url: string }; event_subscriptions: { request_url: string; bot_events: string[] } };
  };

  it('declares /byoip on /slack/events with interactivity there too', () => {
    const cmd = m.features.slash_commands.find((c) => c.command === '/byoip')!;
    expect(cmd.url).toMatch(/\/slack\/events$/);
    expect(m.settings.interactivity.is_enabled).toBe(true);
    expect(m.settings.interactivity.request_url).toMatch(/\/slack\/events$/);
    expect(cmd.description.length).toBeLessThanOrEqual(2000);
    expect(cmd.usage_hint.length).toBeLessThanOrEqual(1000);
  });

  it('every form in the usage hint parses, with its placeholders filled in', () => {
    const hint = m.features.slash_commands[0]!.usage_hint.replace(/withdraw\|advertise/g, 'withdraw');
    const forms = hint.split(' | ').map((f) => f.replace('<cidr>', '203.0.113.0/24').replace('<asn>', '13335').replace('<reason>', 'drill').replace(/\[[^\]]*\]/g, '').trim());
    expect(forms.length).toBeGreaterThanOrEqual(8);
    for (const form of forms) expect(() => parseCommand(form), form).not.toThrow();
  });

  it('subscribes to the user-group changes the bot listens for, on /slack/events', () => {
    expect(m.settings.event_subscriptions.request_url).toMatch(/\/slack\/events$/);
    expect(m.settings.event_subscriptions.bot_events).toContain('subteam_members_changed');
    expect(m.oauth_config.scopes.bot).toContain('usergroups:read'); // the event's scope
  });

  it('asks for the scopes of the Web API methods the bot calls', () => {
    expect(m.oauth_config.scopes.bot).toEqual(expect.arrayContaining(['commands', 'chat:write', 'usergroups:read']));
  });
});
