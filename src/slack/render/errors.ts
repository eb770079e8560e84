import { userMessageOf } from '../../errors.js';
import { mention, userText } from '../views/blocks.js';

/** The sentence for any error, with the people it names as mentions and what the user typed escaped (`userText`). */
export function slackMessageOf(err: unknown): string {
  return userMessageOf(err, mention, (typed) => userText(typed, 80));
}
