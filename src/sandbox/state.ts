/**
 * The sandbox's organization: members and teams held in memory, and the GitBook rules that change
 * them (idempotent invites, removals that cascade to teams, team updates by id or email). No HTTP
 * here: the server maps these results to statuses and bodies.
 */
import { randomBytes } from 'node:crypto';

import type { MemberRole, ResolvedSandboxSeed } from './seed';

/** One organization member as the sandbox stores it. */
export interface SandboxMember {
  id: string;
  email: string;
  displayName: string;
  /** `null` for a guest. */
  role: MemberRole | null;
  sso: boolean;
  /** ISO date-time. */
  joinedAt: string;
}

/** One team as the sandbox stores it; members are kept in the order they were added. */
export interface SandboxTeam {
  id: string;
  title: string;
  memberIds: string[];
  /** ISO date-time. */
  createdAt: string;
}

/** A team in a snapshot: who is in it, without the derived fields. */
export interface SandboxTeamSnapshot {
  id: string;
  title: string;
  memberIds: string[];
}

/** One address of an invite, after the body was validated against the spec. */
export interface InviteEntry {
  email: string;
  /** The per-email role, when the request gave one. */
  role?: MemberRole | null;
}

/** What `invite` needs: the addresses in request order, the default role, and the SSO flag. */
export interface InviteInput {
  entries: InviteEntry[];
  role?: MemberRole | null;
  sso?: boolean;
}

/** GitBook's invite answer. */
export interface InviteOutcome {
  users: string[];
  invited: number;
  failedSSOEmails: string[];
}

/** How the member list is filtered and ordered (the spec's query parameters). */
export interface MemberQuery {
  search?: string;
  role?: MemberRole | 'guest';
  sort: 'joinedAt' | 'lastSeenAt' | 'name';
  order: 'asc' | 'desc';
}

/** The three answers GitBook gives to a removal. */
export type RemovalOutcome = 'removed' | 'not-a-member' | 'approval-required';

/** The result of a team membership update; failures name the offending entry. */
export type TeamUpdateOutcome =
  | { ok: true }
  | { ok: false; reason: 'unknown-team' }
  | { ok: false; reason: 'unknown-entry'; field: 'add' | 'remove'; index: number; entry: string }
  | { ok: false; reason: 'in-both-lists'; memberId: string; added: ResolvedEntry; removed: ResolvedEntry };

/** A team update entry, where it stood in its list, and the member it named. */
export interface ResolvedEntry {
  index: number;
  entry: string;
  id: string;
}

/** Seed members without a `joinedAt` get dates from here on, one second apart. */
const SEED_EPOCH_MS = Date.UTC(2024, 0, 1);

interface StoredMember extends SandboxMember {
  /** Breaks ties between equal `joinedAt` values so list order is stable across pages. */
  sequence: number;
}

/** The in-memory organization behind one sandbox. */
export class SandboxDirectory {
  readonly #members = new Map<string, StoredMember>();
  readonly #teams = new Map<string, SandboxTeam>();
  readonly #foreignSsoEmails: Set<string>;
  readonly #approvalRequiredUserIds: Set<string>;
  #sequence = 0;

  constructor(seed: ResolvedSandboxSeed) {
    this.#foreignSsoEmails = new Set(seed.foreignSsoEmails.map(normalizeEmail));
    this.#approvalRequiredUserIds = new Set(seed.approvalRequiredUserIds);

    seed.members.forEach((member, index) => {
      this.#store({
        id: member.id,
        email: member.email,
        displayName: member.displayName ?? defaultDisplayName(member.email),
        role: member.role,
        sso: member.sso,
        joinedAt: member.joinedAt ?? new Date(SEED_EPOCH_MS + index * 1_000).toISOString(),
      });
    });
    seed.teams.forEach((team, index) => {
      const createdAt = new Date(SEED_EPOCH_MS + index * 1_000).toISOString();
      this.#teams.set(team.id, { id: team.id, title: team.title, memberIds: [...new Set(team.memberIds)], createdAt });
    });
  }

  /** The member with this id, if any. */
  member(id: string): SandboxMember | undefined {
    return this.#members.get(id);
  }

  /** The member with this email, compared case-insensitively, if any. */
  memberByEmail(email: string): SandboxMember | undefined {
    const wanted = normalizeEmail(email);
    return [...this.#members.values()].find((member) => normalizeEmail(member.email) === wanted);
  }

  /** How many teams the member belongs to. */
  teamCount(memberId: string): number {
    return [...this.#teams.values()].filter((team) => team.memberIds.includes(memberId)).length;
  }

  /**
   * Invites people. An address that is already a member answers its existing id and invites nobody;
   * an SSO invite for an address of another organization fails and adds nobody; any other address
   * becomes a member at once. An address repeated in one request is handled once.
   */
  invite(input: InviteInput, now: Date): InviteOutcome {
    const outcome: InviteOutcome = { users: [], invited: 0, failedSSOEmails: [] };
    const seen = new Set<string>();

    for (const entry of input.entries) {
      const email = normalizeEmail(entry.email);
      if (seen.has(email)) {
        continue;
      }
      seen.add(email);

      const existing = this.memberByEmail(email);
      if (existing !== undefined) {
        outcome.users.push(existing.id);
        continue;
      }
      if (input.sso === true && this.#foreignSsoEmails.has(email)) {
        outcome.failedSSOEmails.push(entry.email);
        continue;
      }

      const role = entry.role !== undefined ? entry.role : (input.role ?? 'read');
      const member = this.#store({
        id: newUserId(),
        email: entry.email,
        displayName: defaultDisplayName(entry.email),
        role,
        sso: input.sso === true,
        joinedAt: now.toISOString(),
      });
      outcome.users.push(member.id);
      outcome.invited += 1;
    }
    return outcome;
  }

  /**
   * Members matching the query, in list order. The search is fuzzy the way GitBook's is: a
   * case-insensitive substring of the email or display name, so it can return people whose address
   * merely contains the one searched for.
   */
  listMembers(query: MemberQuery): SandboxMember[] {
    const search = query.search?.trim().toLowerCase() ?? '';
    const matches = [...this.#members.values()].filter((member) => {
      const found =
        search === '' ||
        member.email.toLowerCase().includes(search) ||
        member.displayName.toLowerCase().includes(search);
      return found && matchesRole(member, query.role);
    });

    const direction = query.order === 'asc' ? 1 : -1;
    return matches.sort((a, b) => direction * compareMembers(a, b, query.sort)).map(publicMember);
  }

  /** Changes a member's role; `undefined` when there is no such member. */
  updateRole(id: string, role: MemberRole | null): SandboxMember | undefined {
    const member = this.#members.get(id);
    if (member === undefined) {
      return undefined;
    }
    member.role = role;
    return publicMember(member);
  }

  /** Removes a member from the organization and from every team, unless an admin must approve. */
  removeMember(id: string): RemovalOutcome {
    if (!this.#members.has(id)) {
      return 'not-a-member';
    }
    if (this.#approvalRequiredUserIds.has(id)) {
      return 'approval-required';
    }

    this.#members.delete(id);
    for (const team of this.#teams.values()) {
      team.memberIds = team.memberIds.filter((memberId) => memberId !== id);
    }
    return 'removed';
  }

  /** Teams in creation order, optionally only those whose title contains `title` (any case). */
  listTeams(title?: string): SandboxTeam[] {
    const wanted = title?.toLowerCase() ?? '';
    return [...this.#teams.values()].filter((team) => team.title.toLowerCase().includes(wanted)).map(copyTeam);
  }

  /** The team with this id, if any. */
  team(id: string): SandboxTeam | undefined {
    const team = this.#teams.get(id);
    return team === undefined ? undefined : copyTeam(team);
  }

  /**
   * Adds and removes team members. Entries are member ids or emails; every entry must name a member
   * and nobody may be in both lists, otherwise nothing changes. Adding a current team member or
   * removing someone who is not in the team changes nothing.
   */
  updateTeamMembers(teamId: string, add: string[], remove: string[]): TeamUpdateOutcome {
    const team = this.#teams.get(teamId);
    if (team === undefined) {
      return { ok: false, reason: 'unknown-team' };
    }

    const toAdd = this.#resolveEntries('add', add);
    if (!toAdd.ok) {
      return toAdd;
    }
    const toRemove = this.#resolveEntries('remove', remove);
    if (!toRemove.ok) {
      return toRemove;
    }

    const removeIds = new Set(toRemove.ids.map(({ id }) => id));
    const added = toAdd.ids.find(({ id }) => removeIds.has(id));
    const removed = toRemove.ids.find(({ id }) => id === added?.id);
    if (added !== undefined && removed !== undefined) {
      return { ok: false, reason: 'in-both-lists', memberId: added.id, added, removed };
    }

    const kept = team.memberIds.filter((id) => !removeIds.has(id));
    team.memberIds = [...new Set([...kept, ...toAdd.ids.map(({ id }) => id)])];
    return { ok: true };
  }

  /** A deep copy of members (in join order) and teams, for snapshots. */
  snapshot(): { members: SandboxMember[]; teams: SandboxTeamSnapshot[] } {
    const members = [...this.#members.values()].sort((a, b) => a.sequence - b.sequence).map(publicMember);
    const teams = [...this.#teams.values()].map(({ id, title, memberIds }) => ({
      id,
      title,
      memberIds: [...memberIds],
    }));
    return { members, teams };
  }

  #resolveEntries(
    field: 'add' | 'remove',
    entries: string[],
  ): { ok: true; ids: ResolvedEntry[] } | Extract<TeamUpdateOutcome, { reason: 'unknown-entry' }> {
    const ids: ResolvedEntry[] = [];
    for (const [index, entry] of entries.entries()) {
      const member = this.#members.get(entry) ?? this.memberByEmail(entry);
      if (member === undefined) {
        return { ok: false, reason: 'unknown-entry', field, index, entry };
      }
      ids.push({ index, entry, id: member.id });
    }
    return { ok: true, ids };
  }

  #store(member: SandboxMember): StoredMember {
    const stored = { ...member, sequence: this.#sequence++ };
    this.#members.set(stored.id, stored);
    return stored;
  }
}

function compareMembers(a: StoredMember, b: StoredMember, sort: MemberQuery['sort']): number {
  // The sandbox records no activity, so "last seen" falls back to the join date.
  const primary =
    sort === 'name'
      ? a.displayName.localeCompare(b.displayName, 'en', { sensitivity: 'base' })
      : a.joinedAt.localeCompare(b.joinedAt);
  return primary !== 0 ? primary : a.sequence - b.sequence;
}

function matchesRole(member: SandboxMember, role: MemberQuery['role']): boolean {
  if (role === undefined) {
    return true;
  }
  return role === 'guest' ? member.role === null : member.role === role;
}

function publicMember(member: StoredMember): SandboxMember {
  const { sequence: _sequence, ...rest } = member;
  return rest;
}

function copyTeam(team: SandboxTeam): SandboxTeam {
  return { ...team, memberIds: [...team.memberIds] };
}

function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** GitBook shows the local part of the address until the person sets a name. */
function defaultDisplayName(email: string): string {
  return email.split('@')[0] || email;
}

function newUserId(): string {
  return `u_${randomBytes(8).toString('hex')}`;
}
