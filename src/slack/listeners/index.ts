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

export function registerListeners(app: App, ctx: ListenerContext, command = '/byoip'): void {
  app.command(command, byoipCommand(ctx));
  app.action(ActionId.Approve, decideAction(ctx, 'approve'));
  app.action(ActionId.Reject, decideAction(ctx, 'reject'));
  app.action(ActionId.Review, decideAction(ctx, 'review'));
  app.action(ActionId.ApproveSkipGates, skipGatesAction(ctx));
  app.action(ActionId.AlertAdvertise, alertEmergencyAction(ctx, 'advertise'));
  app.action(ActionId.AlertWithdraw, alertEmergencyAction(ctx, 'withdraw'));
  app.action(ActionId.AlertAcknowledge, alertAcknowledgeAction(ctx));
  app.action(ActionId.AlertPutBack, alertPutBackAction(ctx));
  app.action(ActionId.ValidateAgain, validateAgainAction(ctx));
  app.view(CallbackId.RequestChange, requestSubmit(ctx));
  app.view(CallbackId.ConfirmApprove, confirmApproveSubmit(ctx));
  app.view(CallbackId.BreakGlass, breakGlassSubmit(ctx));
  app.view(CallbackId.BreakGlassBatch, breakGlassBatchSubmit(ctx));
  app.event('subteam_members_changed', subteamMembersChanged(ctx));
  app.event('app_home_opened', appHomeOpened(ctx));
}
