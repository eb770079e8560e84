import { z } from 'zod';
import type {
  AddressMap,
  AdvertisementStatus,
  BgpPrefix,
  Delegation,
  Lease,
  LoaDocument,
  Prefix,
  Service,
  ServiceBinding,
} from '../domain/addressing.js';

/**
 * zod schemas for Cloudflare's addressing responses (snake_case) and their mapping to the domain types
 * (camelCase). Fields the bot decides on are required; the rest get the defaults Cloudflare documents.
 */

const ts = z.string().nullable().optional().transform((v) => v ?? null);
const nBool = z.boolean().nullable().optional().transform((v) => v ?? null);
const bool = (d: boolean) => z.boolean().nullable().optional().transform((v) => v ?? d);
const nStr = z.string().nullable().optional().transform((v) => v ?? null);

export const messageSchema = z.object({ code: z.number(), message: z.string() });

export const envelopeSchema = z.object({
  success: z.boolean(),
  errors: z.array(messageSchema).default([]),
  messages: z.array(messageSchema.partial()).default([]),
  result: z.unknown().optional(),
  result_info: z.unknown().optional(),
});
export type Envelope = z.infer<typeof envelopeSchema>;

export const prefixSchema = z
  .object({
    id: z.string().min(1),
    account_id: nStr,
    cidr: z.string().min(1),
    asn: z.number().int().nullable().optional(),
    description: z.string().nullable().optional(),
    approved: z.string().min(1),
    loa_document_id: nStr,
    delegate_loa_creation: bool(false),
    irr_validation_state: z.string().nullable().optional(),
    rpki_validation_state: z.string().nullable().optional(),
    ownership_validation_state: z.string().nullable().optional(),
    ownership_validation_token: nStr,
    on_demand_enabled: bool(false),
    on_demand_locked: bool(false),
    advertised: nBool,
    advertised_modified_at: ts,
    created_at: ts,
    modified_at: ts,
  })
  .transform(
    (p): Omit<Prefix, 'accountId'> & { accountId: string | null } => ({
      id: p.id,
      accountId: p.account_id,
      cidr: p.cidr,
      asn: p.asn ?? null,
      description: p.description ?? '',
      approved: p.approved,
      loaDocumentId: p.loa_document_id,
      delegateLoaCreation: p.delegate_loa_creation,
      irrValidationState: p.irr_validation_state ?? 'unknown',
      rpkiValidationState: p.rpki_validation_state ?? 'unknown',
      ownershipValidationState: p.ownership_validation_state ?? 'unknown',
      ownershipValidationToken: p.ownership_validation_token,
      onDemandEnabled: p.on_demand_enabled,
      onDemandLocked: p.on_demand_locked,
      advertised: p.advertised,
      advertisedModifiedAt: p.advertised_modified_at,
      createdAt: p.created_at,
      modifiedAt: p.modified_at,
    }),
  );

export const bgpPrefixSchema = z
  .object({
    id: z.string().min(1),
    cidr: z.string().min(1),
    asn: z.number().int().nullable().optional(),
    asn_prepend_count: z.number().int().min(0).max(3).nullable().optional(),
    auto_advertise_withdraw: bool(false),
    bgp_signal_opts: z
      .object({ enabled: bool(false), modified_at: ts })
      .nullable()
      .optional(),
    on_demand: z
      .object({
        advertised: nBool,
        advertised_modified_at: ts,
        on_demand_enabled: bool(false),
        on_demand_locked: bool(false),
      })
      .nullable()
      .optional(),
    created_at: ts,
    modified_at: ts,
  })
  .transform(
    (b): BgpPrefix => ({
      id: b.id,
      cidr: b.cidr,
      asn: b.asn ?? null,
      asnPrependCount: b.asn_prepend_count ?? 0,
      autoAdvertiseWithdraw: b.auto_advertise_withdraw,
      bgpSignalEnabled: b.bgp_signal_opts?.enabled ?? false,
      onDemand: {
        advertised: b.on_demand?.advertised ?? null,
        advertisedModifiedAt: b.on_demand?.advertised_modified_at ?? null,
        enabled: b.on_demand?.on_demand_enabled ?? false,
        locked: b.on_demand?.on_demand_locked ?? false,
      },
      createdAt: b.created_at,
      modifiedAt: b.modified_at,
    }),
  );

export const advertisementStatusSchema = z
  .object({ advertised: nBool, advertised_modified_at: ts })
  .transform((s): AdvertisementStatus => ({ advertised: s.advertised, advertisedModifiedAt: s.advertised_modified_at }));

export const serviceBindingSchema = z
  .object({
    id: z.string().min(1),
    cidr: z.string().min(1),
    service_id: z.string().min(1),
    service_name: z.string().nullable().optional(),
    provisioning: z.object({ state: z.string().min(1) }),
  })
  .transform(
    (b): ServiceBinding => ({
      id: b.id,
      cidr: b.cidr,
      serviceId: b.service_id,
      serviceName: b.service_name ?? '',
      provisioningState: b.provisioning.state,
    }),
  );

export const serviceSchema = z.object({ id: z.string().min(1), name: z.string().min(1) }).transform((s): Service => ({ ...s }));

export const delegationSchema = z
  .object({
    id: z.string().min(1),
    cidr: z.string().min(1),
    delegated_account_id: z.string().min(1),
    parent_prefix_id: z.string().min(1),
    created_at: ts,
    modified_at: ts,
  })
  .transform(
    (d): Delegation => ({
      id: d.id,
      cidr: d.cidr,
      delegatedAccountId: d.delegated_account_id,
      parentPrefixId: d.parent_prefix_id,
      createdAt: d.created_at,
      modifiedAt: d.modified_at,
    }),
  );

export const idSchema = z.object({ id: z.string().min(1) });

export const addressMapSchema = z
  .object({
    id: z.string().min(1),
    description: nStr,
    enabled: nBool,
    default_sni: nStr,
    can_delete: bool(true),
    can_modify_ips: bool(true),
    ips: z
      .array(z.object({ ip: z.string().min(1), created_at: ts }))
      .nullable()
      .optional(),
    memberships: z
      .array(
        z.object({
          kind: z.string().min(1),
          identifier: z.string().min(1),
          can_delete: bool(true),
          created_at: ts,
        }),
      )
      .nullable()
      .optional(),
    created_at: ts,
    modified_at: ts,
  })
  .transform(
    (m): AddressMap => ({
      id: m.id,
      description: m.description,
      enabled: m.enabled,
      defaultSni: m.default_sni,
      canDelete: m.can_delete,
      canModifyIps: m.can_modify_ips,
      ips: m.ips ? m.ips.map((i) => ({ ip: i.ip, createdAt: i.created_at })) : null,
      memberships: m.memberships
        ? m.memberships.map((x) => ({ kind: x.kind, identifier: x.identifier, canDelete: x.can_delete, createdAt: x.created_at }))
        : null,
      createdAt: m.created_at,
      modifiedAt: m.modified_at,
    }),
  );

export const loaDocumentSchema = z
  .object({
    id: nStr,
    account_id: nStr,
    filename: z.string().min(1),
    size_bytes: z.number().int().nullable().optional(),
    auto_generated: bool(false),
    verified: bool(false),
    verified_at: ts,
    created: ts,
  })
  .transform(
    (l): LoaDocument => ({
      id: l.id,
      accountId: l.account_id,
      filename: l.filename,
      sizeBytes: l.size_bytes ?? null,
      autoGenerated: l.auto_generated,
      verified: l.verified,
      verifiedAt: l.verified_at,
      createdAt: l.created,
    }),
  );

export const leaseSchema = z
  .object({
    id: z.string().min(1),
    owner_id: nStr,
    purpose: nStr,
    cidrs: z.array(z.string()).nullable().optional(),
    active_from: ts,
    created_at: ts,
    modified_at: ts,
  })
  .transform(
    (l): Lease => ({
      id: l.id,
      ownerId: l.owner_id,
      purpose: l.purpose,
      cidrs: l.cidrs ?? [],
      activeFrom: l.active_from,
      createdAt: l.created_at,
      modifiedAt: l.modified_at,
    }),
  );

/** `a.b[2].c` from a zod issue path, prefixed with where the value sits in the envelope. */
export function fieldPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}
