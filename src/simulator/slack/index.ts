export { startSlackSimulator, SLACK_TIER_LIMITS } from './server.js';
export { SlackRequestSender, slackSignature, FORM_CONTENT_TYPE } from './sender.js';
export type { SendResult, CommandResult, ButtonTarget, ViewValues, SenderOptions } from './sender.js';
export { buttonsIn, findButton, blocksOf } from './buttons.js';
export type { FoundButton, ButtonSource } from './buttons.js';
export { validateMessageBlocks, validateView, LIMITS as BLOCK_KIT_LIMITS } from './block-limits.js';
export type * from './types.js';
