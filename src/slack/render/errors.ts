import type { Guard } from '../../domain/guards.js';
import { GuardBlockedError, userMessageOf } from '../../errors.js';
import { mention, userText } from '../views/blocks.js';
import { guardText } from './guards.js';

/**
 * The sentence for any error, with the people it names as mentions and what the user typed escaped (`userText`);
 * a guard refusal says each guard and its fix.
 */
export function slackMessageOf(err: unknown): string {
  if (err instanceof GuardBlockedError) {
    return `Refused, nothing was filed: ${err.guards.map((g) => guardText(g as Guard)).join(' ')}`;
  }
  return userMessageOf(err, mention, (typed) => userText(typed, 80));
}
