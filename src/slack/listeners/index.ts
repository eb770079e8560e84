import type { App } from '@slack/bolt';
import type { ListenerContext } from '../context.js';
import { ActionId, CallbackId } from '../ids.js';
import { alertAcknowledgeAction, alertEmergencyAction } from './actions/alert.js';
import { alertPutBackAction } from './actions/put-back.js';
import { validateAgainAction } from './actions/validate-again.js';
import { decideAction, skipGatesAction } from './actions/decide.js';
import { byoipCommand } from './commands/byoip.js';
import { appHomeOpened } from './events/home.js';
import { subteamMembersChanged } from './events/subteam.js';
import { breakGlassBatchSubmit, breakGlassSubmit, confirmApproveSubmit } from './views/confirm-submit.js';
import { requestSubmit } from './views/request-submit.js';

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Matches exactly these ids (what Bolt's listener constraint takes): unknown ones stay unhandled, as before. */
const oneOf = (ids: Iterable<string>) => new RegExp(`^(?:${[...ids].map(escape).join('|')})$`);

/**
 * One Bolt listener per kind of request (command, block action, view submission, event), dispatching by id to the
 * handlers: Bolt runs every registered listener's middleware chain on every request (a copy of its arguments each),
 * so sixteen listeners cost every command's ack sixteen chains; four cost four.
 */
export function registerListeners(app: App, ctx: ListenerContext, command = '/byoip'): void {
  app.command(command, byoipCommand(ctx));

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each handler takes Bolt's arguments for its own kind of request
  type Handler = (args: any) => Promise<void>;
  const actions = new Map<string, Handler>([
    [ActionId.Approve, decideAction(ctx, 'approve')],
    [ActionId.Reject, decideAction(ctx, 'reject')],
    [ActionId.Review, decideAction(ctx, 'review')],
    [ActionId.ApproveSkipGates, skipGatesAction(ctx)],
    [ActionId.AlertAdvertise, alertEmergencyAction(ctx, 'advertise')],
    [ActionId.AlertWithdraw, alertEmergencyAction(ctx, 'withdraw')],
    [ActionId.AlertAcknowledge, alertAcknowledgeAction(ctx)],
    [ActionId.AlertPutBack, alertPutBackAction(ctx)],
    [ActionId.ValidateAgain, validateAgainAction(ctx)],
  ]);
  app.action(oneOf(actions.keys()), async (args) => {
    const id = (args.action as { action_id?: string }).action_id ?? '';
    await actions.get(id)!(args);
  });

  const views = new Map<string, Handler>([
    [CallbackId.RequestChange, requestSubmit(ctx)],
    [CallbackId.ConfirmApprove, confirmApproveSubmit(ctx)],
    [CallbackId.BreakGlass, breakGlassSubmit(ctx)],
    [CallbackId.BreakGlassBatch, breakGlassBatchSubmit(ctx)],
  ]);
  app.view(oneOf(views.keys()), async (args) => {
    await views.get(args.view.callback_id)!(args);
  });

  const events = new Map<string, Handler>([
    ['subteam_members_changed', subteamMembersChanged(ctx)],
    ['app_home_opened', appHomeOpened(ctx)],
  ]);
  app.event(oneOf(events.keys()), async (args) => {
    await events.get(args.event.type)!(args);
  });
}
