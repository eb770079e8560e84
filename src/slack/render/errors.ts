import { userMessageOf } from '../../errors.js';
import { mention } from '../views/blocks.js';

/** The sentence for any error, with the people it names as mentions. */
export function slackMessageOf(err: unknown): string {
  return userMessageOf(err, mention);
}
