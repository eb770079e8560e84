/** The routing view's public API: adapters, the preflight, the propagation evaluator and pre-withdraw safety. */
export { LookingGlassClient, type VisibilitySample, type LookingGlassOptions } from './looking-glass.js';
export { RoutingStatusClient, type RoutingStatus } from './routing-status.js';
export { evaluatePropagation, ESCALATE_AFTER_MS, type PropagationInput, type PropagationReport, type PropagationVerdict } from './propagation.js';
export { RoutinatorClient, RipestatRpkiClient, FallbackRpkiValidator, type RpkiValidator, type RpkiValidity, type RpkiVrp } from './rpki.js';
export { IrrClient, validationTokens, type IrrLookup, type IrrRouteObject } from './irr.js';
export { DnsTxtClient, type TxtAnswer, type TxtResolver } from './dns.js';
export {
  runPreflight,
  createRoutingDeps,
  type PreflightInput,
  type PreflightLine,
  type PreflightReport,
  type PreflightStatus,
  type RoutingDeps,
  type RoutingSettings,
} from './preflight.js';
export { checkOwnAnnouncement, type OwnAnnouncement, type OwnAnnouncementOptions } from './pre-withdraw.js';
export { routingEnvShape, routingEnvSchema, routingSettingsFromEnv } from './settings.js';
