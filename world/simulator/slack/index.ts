export { startSlackSimulator, SLACK_TIER_LIMITS } from './server.js';
export { SlackRequestSender, SlackPayloads, slackSignature, FORM_CONTENT_TYPE, APP_ID } from './sender.js';
export type { SendResult, CommandResult, ButtonTarget, ViewValues, SenderOptions, PayloadOptions, CommandPayload } from './sender.js';
export { startSocketModeSimulator, SocketModeSender } from './socket-mode.js';
export type {
  EnvelopeType,
  EnvelopeOutcome,
  SocketAck,
  SocketCommandResult,
  SocketConnectionInfo,
  SocketDelivery,
  SocketModeSimOptions,
  SocketModeSimulator,
  SocketSendResult,
  SocketSenderOptions,
} from './socket-mode.js';
export { buttonsIn, findButton, blocksOf } from './buttons.js';
export type { FoundButton, ButtonSource } from './buttons.js';
export { validateMessageBlocks, validateView, LIMITS as BLOCK_KIT_LIMITS } from './block-limits.js';
export type * from './types.js';
