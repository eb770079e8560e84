/** Every action_id, block_id and callback_id the bot uses, in one place. */
export const ActionId = {
  Approve: 'byoip_approve',
  Reject: 'byoip_reject',
  Review: 'byoip_review',
} as const;

export const CallbackId = {
  RequestChange: 'byoip_request_change',
} as const;

export const BlockId = {
  Reason: 'reason',
  Checklist: 'checklist',
  CardActions: 'card_actions',
} as const;

export const InputActionId = {
  Reason: 'reason_input',
  Checklist: 'checklist_input',
} as const;
