/**
 * The sandbox's starting data: members, teams, and the two special cases GitBook produces that a
 * client must handle (SSO invites refused for people of another organization, removals that need an
 * admin's approval). Seeds come from tests as objects or from a JSON file, and both go through the
 * same zod schema so a mistake names the field.
 */
import { readFile } from 'node:fs/promises';

import { z } from 'zod';

/** The member roles GitBook knows; a member with role `null` is a guest. */
export const MEMBER_ROLES = ['admin', 'create', 'edit', 'review', 'comment', 'read'] as const;

/** A GitBook organization member role. */
export type MemberRole = (typeof MEMBER_ROLES)[number];

/** GitBook's `EntityId`: the characters allowed in organization and team ids. */
const entityIdSchema = z.string().regex(/^[a-zA-Z0-9_-]+$/, 'must contain only letters, digits, "_" and "-"');

const seedMemberSchema = z.object({
  id: entityIdSchema,
  email: z.email(),
  /** Defaults to the part of the email before `@`, as GitBook shows people who never set a name. */
  displayName: z.string().min(1).optional(),
  role: z.enum(MEMBER_ROLES).nullable().default('read'),
  sso: z.boolean().default(false),
  /** ISO date-time; defaults to a fixed date, one second apart per member in seed order. */
  joinedAt: z.iso.datetime({ offset: true }).optional(),
});

const seedTeamSchema = z.object({
  id: entityIdSchema,
  title: z.string().min(1).max(64),
  memberIds: z.array(z.string()).default([]),
});

const seedObjectSchema = z.object({
  /** Used by `main.ts` when `GITBOOK_ORG_ID` is unset; `startSandbox` takes its own `organizationId`. */
  organizationId: entityIdSchema.optional(),
  members: z.array(seedMemberSchema).default([]),
  teams: z.array(seedTeamSchema).default([]),
  /** Emails that belong to another organization: an SSO invite for them fails and adds nobody. */
  foreignSsoEmails: z.array(z.email()).default([]),
  /** Member ids whose removal needs an admin's approval: DELETE answers 202 and keeps them. */
  approvalRequiredUserIds: z.array(z.string()).default([]),
});

/** The zod schema of a sandbox seed (the object, or the content of a seed file). */
export const sandboxSeedSchema = seedObjectSchema.superRefine(checkSeedConsistency);

/** A seed as callers write it: every field but member and team ids and emails is optional. */
export type SandboxSeed = z.input<typeof sandboxSeedSchema>;

/** A seed after validation, with every default filled in. */
export type ResolvedSandboxSeed = z.output<typeof sandboxSeedSchema>;

/** Thrown when a seed (object or file) is unreadable or does not match the schema. */
export class SandboxSeedError extends Error {
  override readonly name = 'SandboxSeedError';
  readonly code = 'SANDBOX_SEED_INVALID';
  /** The seed file, when the seed came from one. */
  readonly file?: string;

  constructor(message: string, options: { file?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.file = options.file;
  }
}

/**
 * Validates a seed and fills in its defaults.
 *
 * @throws SandboxSeedError naming the first invalid field, e.g. `members[1].email: Invalid email address`.
 */
export function resolveSeed(seed: SandboxSeed = {}, source = 'sandbox seed'): ResolvedSandboxSeed {
  const parsed = sandboxSeedSchema.safeParse(seed);
  if (!parsed.success) {
    throw new SandboxSeedError(`${source} is invalid: ${formatIssues(parsed.error.issues)}`, { cause: parsed.error });
  }
  return parsed.data;
}

/**
 * Reads and validates a seed JSON file (used by `main.ts` and by `npm start` in sandbox mode).
 *
 * @throws SandboxSeedError when the file cannot be read, is not JSON, or fails the schema.
 */
export async function loadSeedFile(file: string): Promise<ResolvedSandboxSeed> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new SandboxSeedError(`Cannot read the sandbox seed file ${file}`, { file, cause });
  }

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new SandboxSeedError(`The sandbox seed file ${file} is not valid JSON`, { file, cause });
  }

  try {
    return resolveSeed(json as SandboxSeed, `sandbox seed file ${file}`);
  } catch (error) {
    throw error instanceof SandboxSeedError ? new SandboxSeedError(error.message, { file, cause: error.cause }) : error;
  }
}

function checkSeedConsistency(seed: z.output<typeof seedObjectSchema>, ctx: z.RefinementCtx): void {
  const memberIds = new Set<string>();
  const emails = new Set<string>();
  seed.members.forEach((member, index) => {
    if (memberIds.has(member.id)) {
      ctx.addIssue({ code: 'custom', path: ['members', index, 'id'], message: `duplicate member id ${member.id}` });
    }
    const email = member.email.toLowerCase();
    if (emails.has(email)) {
      ctx.addIssue({ code: 'custom', path: ['members', index, 'email'], message: `duplicate email ${member.email}` });
    }
    memberIds.add(member.id);
    emails.add(email);
  });

  const teamIds = new Set<string>();
  seed.teams.forEach((team, index) => {
    if (teamIds.has(team.id)) {
      ctx.addIssue({ code: 'custom', path: ['teams', index, 'id'], message: `duplicate team id ${team.id}` });
    }
    teamIds.add(team.id);
    team.memberIds.forEach((memberId, position) => {
      if (!memberIds.has(memberId)) {
        const path = ['teams', index, 'memberIds', position];
        ctx.addIssue({ code: 'custom', path, message: `no seed member has id ${memberId}` });
      }
    });
  });
}

/** `members[1].email: Invalid email address`: the path a person would type, then zod's message. */
function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 3)
    .map((issue) => `${formatPath(issue.path)}: ${issue.message}`)
    .join('; ');
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) {
    return '(root)';
  }
  return path
    .map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}${String(key)}`))
    .join('');
}
