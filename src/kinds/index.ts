/** The table of change kinds. A new kind = one module in this folder, its Slack text, its tests, and one line here. */
import type { OperationKind } from '../domain/operation.js';
import { addressMap } from './address-map.js';
import { advertise } from './advertise.js';
import { bgpCreate, bgpDelete } from './bgp-prefix.js';
import { bind } from './bind.js';
import { delegate, undelegate } from './delegate.js';
import { onboard } from './onboard.js';
import type { ChangeKind } from './types.js';
import { validate } from './validate.js';
import { unbind } from './unbind.js';
import { withdraw } from './withdraw.js';

export const KINDS: Record<OperationKind, ChangeKind> = {
  advertise,
  withdraw,
  onboard,
  validate,
  bind,
  'address-map': addressMap,
  unbind,
  delegate,
  undelegate,
  bgp_create: bgpCreate,
  bgp_delete: bgpDelete,
};

export function kindOf(kind: OperationKind): ChangeKind {
  return KINDS[kind];
}

export type { ChangeKind, KindDeps } from './types.js';
