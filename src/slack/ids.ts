/** Every action_id, block_id and callback_id the bot uses, in one place. */
export const ActionId = {
  Approve: 'byoip_approve',
  Reject: 'byoip_reject',
  Review: 'byoip_review',
  /** Approve and skip the change's gates (the staged withdraw's drain) through the audited override dialog. */
  ApproveSkipGates: 'byoip_approve_skip_gates',
  /** Alert cards: the break-glass path (confirm step) and "someone is on it". */
  AlertAdvertise: 'byoip_alert_advertise',
  AlertWithdraw: 'byoip_alert_withdraw',
  AlertAcknowledge: 'byoip_alert_acknowledge',
  /** Drift cards: the usual request form of the change that puts Cloudflare back. */
  AlertPutBack: 'byoip_alert_put_back',
  /** On a failed validation (or an onboard) card: files a new validate request for the prefix (value: its CIDR). */
  ValidateAgain: 'byoip_validate_again',
} as const;

export const CallbackId = {
  RequestChange: 'byoip_request_change',
  /** The approver's confirm dialog for a plan with warnings (acknowledge / override, with a reason). */
  ConfirmApprove: 'byoip_confirm_approve',
  /** The on-call engineer's confirm step of a break-glass change ("Send now"). */
  BreakGlass: 'byoip_break_glass',
  /** The confirm step of a multi-prefix emergency (one Send now for every prefix listed). */
  BreakGlassBatch: 'byoip_break_glass_batch',
} as const;

export const BlockId = {
  Reason: 'reason',
  Checklist: 'checklist',
  CardActions: 'card_actions',
  Guards: 'guards',
  AlertActions: 'alert_actions',
} as const;

export const InputActionId = {
  Reason: 'reason_input',
  Checklist: 'checklist_input',
} as const;

/** The value of a button on a multi-prefix emergency's card: `batch:<id>` (src/slack/views/batch-card.ts). */
export const BATCH_VALUE = 'batch:';
