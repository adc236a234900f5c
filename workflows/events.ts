/**
 * The normalized directory event: the one shape every entry point (Okta hook, generic webhook, CLI,
 * Temporal CLI) hands to a user's workflow. Validated here with zod so the workflow checks its own
 * input too: a run started by hand with bad JSON fails at once, naming the field.
 */
import { z } from 'zod';

/** GitBook organization roles, lowest privilege first (the order is the role precedence). */
export const GITBOOK_ROLES = ['read', 'comment', 'review', 'edit', 'create', 'admin'] as const;
export const gitbookRoleSchema = z.enum(GITBOOK_ROLES);
export type GitBookRole = z.infer<typeof gitbookRoleSchema>;

/**
 * A directory user id (Okta `00u...`, an Entra object id, or any stable id). Printable ASCII without
 * spaces, so it can be part of a workflow id and typed on a command line, and without `/`, which
 * separates a user's workflow id from its steps' (`gitbook-user-<id>/onboard-1`).
 */
export const directoryUserIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x2e\x30-\x7e]+$/, 'must be printable ASCII without spaces or "/"');

export const directoryGroupSchema = z.object({
  id: z.string().min(1).max(200),
  name: z.string().min(1).max(256).optional(),
});
export type DirectoryGroup = z.infer<typeof directoryGroupSchema>;

export const DIRECTORY_EVENT_KINDS = [
  'user.activated',
  'user.deactivated',
  'user.updated',
  'group.member_added',
  'group.member_removed',
] as const;
export type DirectoryEventKind = (typeof DIRECTORY_EVENT_KINDS)[number];

const GROUP_KINDS: readonly DirectoryEventKind[] = ['group.member_added', 'group.member_removed'];

export const directoryEventSchema = z
  .object({
    /** Unique per event (Okta's `uuid`); a redelivery carries the same id and changes nothing. */
    id: z.string().min(1).max(200),
    kind: z.enum(DIRECTORY_EVENT_KINDS),
    userId: directoryUserIdSchema,
    /** Trimmed and NFC-normalized before it is checked; case is kept here and folded for matching. */
    email: z
      .string()
      .transform((value) => value.trim().normalize('NFC'))
      .pipe(z.email().max(320))
      .optional(),
    displayName: z.string().max(256).optional(),
    group: directoryGroupSchema.optional(),
    /** When the directory says the change happened: ISO 8601 with an offset. Orders stale events out. */
    occurredAt: z.iso.datetime({ offset: true }),
    /** Where the event came from (okta, directory, cli, ...), for the trail. */
    source: z.string().min(1).max(40).default('unknown'),
  })
  .superRefine((event, ctx) => {
    if (GROUP_KINDS.includes(event.kind) && !event.group) {
      ctx.addIssue({ code: 'custom', path: ['group'], message: `is required for ${event.kind}` });
    }
    if (event.kind === 'user.activated' && !event.email) {
      ctx.addIssue({ code: 'custom', path: ['email'], message: 'is required for user.activated' });
    }
  });

export type DirectoryEvent = z.output<typeof directoryEventSchema>;
export type DirectoryEventInput = z.input<typeof directoryEventSchema>;

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
