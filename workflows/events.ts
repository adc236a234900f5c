/**
 * The normalized directory event: the one shape every entry point (Okta hook, generic webhook, CLI,
 * Temporal CLI) hands to a user's workflow. Validated here with zod so the workflow checks its own
 * input too: a run started by hand with bad JSON fails at once, naming the field.
 */
import type { z } from 'zod';

/**
 * zod, loaded when first needed rather than when this module loads. The worker evaluates every
 * module of the workflow bundle again for each workflow it starts or replays (module state is per
 * workflow), and most workflow types (steps, batchers) never validate anything: evaluating zod and
 * building these schemas up front cost each of them more CPU than all the rest of their code.
 */
export function loadZod(): typeof import('zod') {
  return require('zod');
}

/** GitBook organization roles, lowest privilege first (the order is the role precedence). */
export const GITBOOK_ROLES = ['read', 'comment', 'review', 'edit', 'create', 'admin'] as const;
export type GitBookRole = (typeof GITBOOK_ROLES)[number];

export const DIRECTORY_EVENT_KINDS = [
  'user.activated',
  'user.deactivated',
  'user.updated',
  'group.member_added',
  'group.member_removed',
] as const;
export type DirectoryEventKind = (typeof DIRECTORY_EVENT_KINDS)[number];

const GROUP_KINDS: readonly DirectoryEventKind[] = ['group.member_added', 'group.member_removed'];

function buildEventSchemas() {
  const { z } = loadZod();
  const role = z.enum(GITBOOK_ROLES);

  /**
   * A directory user id (Okta `00u...`, an Entra object id, or any stable id). Printable ASCII
   * without spaces, so it can be part of a workflow id and typed on a command line, and without `/`,
   * which separates a user's workflow id from its steps' (`gitbook-user-<id>/onboard-1`).
   */
  const userId = z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x2e\x30-\x7e]+$/, 'must be printable ASCII without spaces or "/"');

  const group = z.object({
    id: z.string().min(1).max(200),
    name: z.string().min(1).max(256).optional(),
  });

  const event = z
    .object({
      /** Unique per event (Okta's `uuid`); a redelivery carries the same id and changes nothing. */
      id: z.string().min(1).max(200),
      kind: z.enum(DIRECTORY_EVENT_KINDS),
      userId,
      /** Trimmed and NFC-normalized before it is checked; case is kept here and folded for matching. */
      email: z
        .string()
        .transform((value) => value.trim().normalize('NFC'))
        .pipe(z.email().max(320))
        .optional(),
      displayName: z.string().max(256).optional(),
      group: group.optional(),
      /** When the directory says the change happened: ISO 8601 with an offset. Orders stale events out. */
      occurredAt: z.iso.datetime({ offset: true }),
      /** Where the event came from (okta, directory, cli, ...), for the trail. */
      source: z.string().min(1).max(40).default('unknown'),
    })
    .superRefine((value, ctx) => {
      if (GROUP_KINDS.includes(value.kind) && !value.group) {
        ctx.addIssue({ code: 'custom', path: ['group'], message: `is required for ${value.kind}` });
      }
      if (value.kind === 'user.activated' && !value.email) {
        ctx.addIssue({ code: 'custom', path: ['email'], message: 'is required for user.activated' });
      }
    });

  return { role, userId, group, event };
}

export type EventSchemas = ReturnType<typeof buildEventSchemas>;
let eventSchemasBuilt: EventSchemas | undefined;

/** The schemas of a directory event and its parts, built on first use (see {@link loadZod}). */
export function eventSchemas(): EventSchemas {
  return (eventSchemasBuilt ??= buildEventSchemas());
}

export type DirectoryGroup = z.infer<EventSchemas['group']>;
export type DirectoryEvent = z.output<EventSchemas['event']>;
export type DirectoryEventInput = z.input<EventSchemas['event']>;

/**
 * Normalizes an email for matching: trimmed, Unicode NFC, lower-cased. Different mailboxes stay
 * different (`qa+docs@` and `qa@` are two people).
 */
export function normalizeEmail(email: string): string {
  return email.trim().normalize('NFC').toLowerCase();
}

/** Formats a zod error as `field: message; field: message`, naming each field. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
