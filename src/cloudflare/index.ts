/** The Cloudflare addressing API client: import from here. */
export { CloudflareClient } from './client.js';
export type { CloudflareClientOptions, CreateAddressMapInput, CreatePrefixInput, UpdateAddressMapInput, UpdateBgpPrefixInput } from './client.js';
export { RequestBudget } from './budget.js';
export type { BudgetDecision, BudgetUsage, RequestBudgetOptions } from './budget.js';
export type { RequestKind } from './describe.js';
export { currentRequestContext, REQUEST_CLASSES, withRequestClass, type RequestClass } from './request-class.js';
export { CloudflareError, isCloudflareError } from './errors.js';
export type { CloudflareMessage } from './errors.js';
export { PERMISSIONS } from './describe.js';
