/**
 * The plain directory model behind the reliability tests: a history of directory changes for a
 * few users, what GitBook must look like once that history has been delivered (however late,
 * duplicated, reordered or batched), and the IdP deliveries that carry it to the hook receiver.
 *
 * Nothing here talks to a server: the model is a few maps and counters, so what it expects can be
 * read off the history by hand. The tests feed the deliveries to the real receiver and compare the
 * sandbox with {@link checkOrganization} and {@link checkCallLog}.
 */
import fc from 'fast-check';
import { parseSyncConfig, type SyncConfig } from '../../src/mapping';
import type { SandboxCall, SandboxSeed, SandboxSnapshot } from '../../src/sandbox';
import { GITBOOK_ROLES, type GitBookRole } from '../../workflows/events';

/** The directory groups of the model and what the mapping grants for each. */
export const MODEL_GROUPS = [
  { id: 'engineering', name: 'Engineering', teams: ['team_engineering'], role: 'edit' },
  { id: 'design', name: 'Design', teams: ['team_design'] },
  { id: 'docs-admins', name: 'Docs admins', teams: [], role: 'admin' },
] as const satisfies ReadonlyArray<{ id: string; name: string; teams: readonly string[]; role?: GitBookRole }>;

export type ModelGroupId = (typeof MODEL_GROUPS)[number]['id'];

/** The GitBook teams the mapping manages. */
export const MODEL_TEAMS = ['team_engineering', 'team_design'] as const;

export const MODEL_DEFAULT_ROLE: GitBookRole = 'read';

/** The seed member every sandbox starts with; no history may touch them. */
export const MODEL_OWNER_EMAIL = 'owner@example.com';

/**
 * The mapping the workflows run with. The removal breaker is off (these tests count removals
 * themselves), and offboarded workflows stay open for an hour so a late redelivery is recognised.
 * `inviteBatching` sends invites through the organization's invite batcher.
 */
export function modelSyncConfig(options: { batching?: boolean } = {}): SyncConfig {
  return parseSyncConfig({
    defaultRole: MODEL_DEFAULT_ROLE,
    sso: false,
    retainAfterOffboardHours: 1,
    removalBreaker: { enabled: false },
    // Batching on is the product's default; off sends each person's call on its own.
    ...(options.batching === false ? { inviteBatching: { enabled: false }, teamBatching: { enabled: false } } : {}),
    groups: MODEL_GROUPS.map((group) => ({
      group: group.id,
      teams: [...group.teams],
      ...('role' in group ? { role: group.role } : {}),
    })),
  });
}

/** The organization the sandbox starts (and is reset) with. */
export const MODEL_SEED: SandboxSeed = {
  members: [{ id: 'u_owner', email: MODEL_OWNER_EMAIL, displayName: 'Owner', role: 'admin', sso: false }],
  teams: [
    { id: 'team_engineering', title: 'Engineering', memberIds: [] },
    { id: 'team_design', title: 'Design', memberIds: [] },
  ],
  foreignSsoEmails: [],
  approvalRequiredUserIds: [],
};

/** What a directory change does to one user. */
export type OpKind = 'create' | 'reactivate' | 'deactivate' | 'join' | 'leave' | 'update-email';

/** Which hook carries an event. `user.updated` exists only on the generic hook. */
export type Route = 'okta' | 'directory';

/** One directory change, as the IdP would report it. */
export interface DirectoryOp {
  /** Position in the history; directory time grows with it. */
  seq: number;
  /** The event id (Okta's `uuid`); every delivery of this change carries it. */
  id: string;
  user: number;
  kind: OpKind;
  group?: ModelGroupId;
  /** The user's address once the change is made; every event carries the current one. */
  email: string;
  /** Directory time, strictly increasing along the history. */
  at: string;
  route: Route;
  /** The IdP event type (`user.lifecycle.suspend`, `user.deactivated`...). */
  eventType: string;
  /** How the address is spelt in this event (the directory keeps case; matching must not). */
  spelling: string;
}

/** The directory's view of one user after the whole history. */
export interface ModelUser {
  index: number;
  /** The directory user id (`00u...`). */
  id: string;
  created: boolean;
  active: boolean;
  email: string;
  /** Every address the user had, oldest first. */
  emails: string[];
  groups: Set<ModelGroupId>;
  /** Changes that (re)activated the user: each may invite them once. */
  activations: number;
  /** Changes that deactivated the user: each may remove them once. */
  deactivations: number;
  /** Distinct events about the user: what their workflow must have applied. */
  events: number;
}

/** The directory time of the first change; later ones follow a second apart. */
const HISTORY_START_MS = Date.UTC(2026, 11, 4, 9, 0, 0);

const EVENT_TYPES: Record<OpKind, Record<Route, readonly string[]>> = {
  create: { okta: ['user.lifecycle.create', 'user.lifecycle.activate'], directory: ['user.created', 'user.activated'] },
  reactivate: {
    okta: ['user.lifecycle.reactivate', 'user.lifecycle.unsuspend', 'user.lifecycle.activate'],
    directory: ['user.reactivated', 'user.activated'],
  },
  deactivate: {
    okta: ['user.lifecycle.deactivate', 'user.lifecycle.suspend'],
    directory: ['user.deactivated', 'user.suspended'],
  },
  join: { okta: ['group.user_membership.add'], directory: ['group.user_added'] },
  leave: { okta: ['group.user_membership.remove'], directory: ['group.user_removed'] },
  'update-email': { okta: [], directory: ['user.updated'] },
};

/** How one change is written and sent: which hook, which of the equivalent event types, which case. */
export interface OpStyle {
  route?: Route;
  flavour?: number;
  /** Capitalize the address in this event. */
  shout?: boolean;
}

/**
 * A directory history under construction: users, and the changes made to them, in directory time.
 * `tag` makes user ids, addresses and event ids unique to one test run.
 */
export class DirectoryHistory {
  readonly ops: DirectoryOp[] = [];
  readonly users: ModelUser[] = [];

  constructor(readonly tag: string) {}

  /** Adds a user who does not exist in the directory yet; returns their index. */
  addUser(): number {
    const index = this.users.length;
    const email = this.#address(index, 0);
    this.users.push({
      index,
      id: `00u${this.tag}x${index}`,
      created: false,
      active: false,
      email,
      emails: [email],
      groups: new Set(),
      activations: 0,
      deactivations: 0,
      events: 0,
    });
    return index;
  }

  /** The changes that are allowed for a user now (the generator picks among these). */
  allowed(userIndex: number): Array<{ kind: OpKind; group?: ModelGroupId }> {
    const user = this.#user(userIndex);
    if (!user.created) return [{ kind: 'create' }];

    const lifecycle: OpKind = user.active ? 'deactivate' : 'reactivate';
    const allowed: Array<{ kind: OpKind; group?: ModelGroupId }> = [{ kind: lifecycle }];
    for (const { id } of MODEL_GROUPS) allowed.push({ kind: user.groups.has(id) ? 'leave' : 'join', group: id });
    allowed.push({ kind: 'update-email' });
    return allowed;
  }

  create(user: number, style?: OpStyle) {
    return this.apply(user, 'create', undefined, style);
  }

  reactivate(user: number, style?: OpStyle) {
    return this.apply(user, 'reactivate', undefined, style);
  }

  deactivate(user: number, style?: OpStyle) {
    return this.apply(user, 'deactivate', undefined, style);
  }

  join(user: number, group: ModelGroupId, style?: OpStyle) {
    return this.apply(user, 'join', group, style);
  }

  leave(user: number, group: ModelGroupId, style?: OpStyle) {
    return this.apply(user, 'leave', group, style);
  }

  updateEmail(user: number, style?: OpStyle) {
    return this.apply(user, 'update-email', undefined, style);
  }

  /** Records one change and updates the model. Throws on a change the directory could not make. */
  apply(userIndex: number, kind: OpKind, group: ModelGroupId | undefined, style: OpStyle = {}): DirectoryOp {
    const user = this.#user(userIndex);
    if (!this.allowed(userIndex).some((op) => op.kind === kind && op.group === group)) {
      throw new Error(`user ${userIndex} cannot ${kind}${group ? ` ${group}` : ''} now`);
    }

    switch (kind) {
      case 'create':
        user.created = true;
        user.active = true;
        user.activations++;
        break;
      case 'reactivate':
        user.active = true;
        user.activations++;
        break;
      case 'deactivate':
        user.active = false;
        user.deactivations++;
        break;
      case 'join':
        user.groups.add(group!);
        break;
      case 'leave':
        user.groups.delete(group!);
        break;
      case 'update-email':
        user.email = this.#address(userIndex, user.emails.length);
        user.emails.push(user.email);
        break;
    }
    user.events++;

    const route: Route = kind === 'update-email' ? 'directory' : (style.route ?? 'okta');
    const types = EVENT_TYPES[kind][route];
    const seq = this.ops.length;
    const op: DirectoryOp = {
      seq,
      id: `${this.tag}-e${seq}`,
      user: userIndex,
      kind,
      group,
      email: user.email,
      at: new Date(HISTORY_START_MS + seq * 1_000).toISOString(),
      route,
      eventType: types[(style.flavour ?? 0) % types.length]!,
      spelling: style.shout ? user.email.charAt(0).toUpperCase() + user.email.slice(1) : user.email,
    };
    this.ops.push(op);
    return op;
  }

  /** One line per change, for failure messages. */
  describe(): string {
    return this.ops
      .map((op) => {
        const change = `${op.kind}${op.group ? ` ${op.group}` : ''}`;
        return `  #${op.seq} ${op.at} u${op.user} ${change} <${op.spelling}> via ${op.route} ${op.eventType}`;
      })
      .join('\n');
  }

  #user(index: number): ModelUser {
    const user = this.users[index];
    if (!user) throw new Error(`no user ${index}`);
    return user;
  }

  #address(index: number, version: number): string {
    return `${this.tag}.u${index}.v${version}@example.com`.toLowerCase();
  }
}

// ---------------------------------------------------------------------------------------------
// Expectations

/** The role the directory's groups give a user: the most privileged mapped role, or the default. */
export function expectedRole(user: ModelUser): GitBookRole {
  let role = MODEL_DEFAULT_ROLE;
  for (const group of MODEL_GROUPS) {
    if (!user.groups.has(group.id) || !('role' in group)) continue;
    if (GITBOOK_ROLES.indexOf(group.role) > GITBOOK_ROLES.indexOf(role)) role = group.role;
  }
  return role;
}

/** The teams the directory's groups put a user in. */
export function expectedTeams(user: ModelUser): string[] {
  const granted = new Set<string>();
  for (const group of MODEL_GROUPS) if (user.groups.has(group.id)) group.teams.forEach((team) => granted.add(team));
  return MODEL_TEAMS.filter((team) => granted.has(team));
}

const lower = (email: string) => email.trim().toLowerCase();

/**
 * Compares the sandbox's organization with the model; returns what differs (empty when equal).
 *
 * - An active user is exactly one member, with the expected role, in exactly the expected teams.
 * - An inactive (or never created) user is no member at all.
 * - Nobody else is a member, except the seed owner.
 *
 * Email: GitBook cannot change a member's address, so a member keeps the one they were invited
 * with. Which of the user's addresses that is depends on when the invite ran relative to the
 * deliveries, so the model accepts any address the user had (all are unique to the user). A user
 * whose address never changed must have exactly that address.
 */
export function checkOrganization(
  history: DirectoryHistory,
  snapshot: Pick<SandboxSnapshot, 'members' | 'teams'>,
): string[] {
  const problems: string[] = [];
  const owners = new Map<string, ModelUser>();
  for (const user of history.users) for (const email of user.emails) owners.set(email, user);

  for (const member of snapshot.members) {
    if (lower(member.email) === MODEL_OWNER_EMAIL) continue;
    if (!owners.has(lower(member.email))) {
      problems.push(`member ${member.email} (${member.id}) belongs to no user of the history`);
    }
  }

  for (const user of history.users) {
    const members = snapshot.members.filter((member) => owners.get(lower(member.email)) === user);
    const label = `u${user.index} (${user.id}, ${user.active ? 'active' : 'inactive'})`;
    if (!user.active) {
      for (const member of members) problems.push(`${label} is still a member as ${member.email} (${member.id})`);
      continue;
    }
    if (members.length !== 1) {
      const found = members.map((m) => `${m.email} (${m.id})`).join(', ') || 'none';
      problems.push(`${label} is ${members.length} members: ${found}`);
      continue;
    }

    const member = members[0]!;
    const role = expectedRole(user);
    if (member.role !== role) problems.push(`${label} has role ${member.role}, expected ${role}`);
    const teams = snapshot.teams.filter((team) => team.memberIds.includes(member.id)).map((team) => team.id).sort();
    const wanted = expectedTeams(user).sort();
    if (teams.join() !== wanted.join()) problems.push(`${label} is in teams [${teams}], expected [${wanted}]`);
  }
  return problems;
}

/** What GitBook was asked for one user, counted from the sandbox's call log. */
export interface UserCallCounts {
  /** `POST /invites` requests naming one of the user's addresses (retries included). */
  invites: number;
  /** `DELETE /members/{id}` requests for one of the user's GitBook ids (retries included). */
  removals: number;
}

const isInvite = (call: SandboxCall) => call.method === 'POST' && call.path.endsWith('/invites');
const isRemoval = (call: SandboxCall) => call.method === 'DELETE' && /\/members\/[^/]+$/.test(call.path);

/** The addresses an invite request named. */
export function invitedEmails(call: SandboxCall): string[] {
  const emails = (call.body as { emails?: Array<string | { email: string }> } | undefined)?.emails ?? [];
  return emails.map((entry) => lower(typeof entry === 'string' ? entry : entry.email));
}

/** The GitBook user id a removal request named. */
export function removedId(call: SandboxCall): string {
  return decodeURIComponent(call.path.split('/').pop()!);
}

/**
 * Counts invite and removal requests per user. `emailOfId` maps each GitBook user id the sync was
 * given to its address (from the invite answers), so removals can be attributed.
 */
export function countCalls(
  history: DirectoryHistory,
  calls: SandboxCall[],
  emailOfId: ReadonlyMap<string, string>,
): { perUser: UserCallCounts[]; unattributedRemovals: string[] } {
  const perUser = history.users.map(() => ({ invites: 0, removals: 0 }));
  const ownerOf = (email: string) => history.users.find((user) => user.emails.includes(lower(email)));
  const unattributedRemovals: string[] = [];

  for (const call of calls) {
    if (isInvite(call)) {
      const owners = new Set(invitedEmails(call).map(ownerOf));
      for (const owner of owners) if (owner) perUser[owner.index]!.invites++;
    } else if (isRemoval(call)) {
      const id = removedId(call);
      const email = emailOfId.get(id);
      const owner = email === undefined ? undefined : ownerOf(email);
      if (owner) perUser[owner.index]!.removals++;
      else unattributedRemovals.push(id);
    }
  }
  return { perUser, unattributedRemovals };
}

/**
 * The "nothing the directory did not ask for" bounds: per user, at most one invite request per
 * activation and one removal request per deactivation (in a run without GitBook faults, where no
 * call is retried), and no removal of an id the sync was never given.
 */
export function checkCallLog(
  history: DirectoryHistory,
  calls: SandboxCall[],
  emailOfId: ReadonlyMap<string, string>,
): string[] {
  const { perUser, unattributedRemovals } = countCalls(history, calls, emailOfId);
  const problems = unattributedRemovals.map((id) => `a removal of ${id}, an id no invite of this history answered`);
  for (const user of history.users) {
    const counts = perUser[user.index]!;
    if (counts.invites > user.activations) {
      problems.push(`u${user.index} got ${counts.invites} invite requests for ${user.activations} activations`);
    }
    if (counts.removals > user.deactivations) {
      problems.push(`u${user.index} got ${counts.removals} removal requests for ${user.deactivations} deactivations`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Deliveries

/** One HTTP request to the receiver. */
export interface HookRequest {
  path: '/hooks/okta' | '/hooks/directory';
  body: unknown;
  /** The ids of the events it carries, in order (repeats included). */
  eventIds: string[];
  /** Sent on this lane; lanes send concurrently, each one request at a time. */
  lane: number;
  /** Waited on the lane before sending. */
  pauseMs: number;
}

/** How a history is delivered: late, repeated, batched and spread over lanes. */
export interface DeliveryPlan {
  /** Per change: how many slots late its first delivery is (0 = in order). */
  lateness: number[];
  /** Per change: one entry per redelivery, how many slots late it comes after the first. */
  redeliveries: number[][];
  /** Events per batch, used in turn. */
  batchSizes: number[];
  /** Milliseconds before each request, used in turn. */
  pausesMs: number[];
  lanes: number;
}

/** Delivers every change once, in order, one request per change. */
export function inOrder(history: DirectoryHistory): DeliveryPlan {
  return {
    lateness: history.ops.map(() => 0),
    redeliveries: history.ops.map(() => []),
    batchSizes: [1],
    pausesMs: [0],
    lanes: 1,
  };
}

/**
 * Turns a history into receiver requests: each change is sent once plus its redeliveries, each copy
 * moved later by its lateness, then cut into batches; a batch is one Okta delivery for the Okta
 * events and one generic request for the others.
 */
export function planRequests(
  history: DirectoryHistory,
  plan: DeliveryPlan,
  ops: DirectoryOp[] = history.ops,
): HookRequest[] {
  const copies: Array<{ op: DirectoryOp; slot: number; order: number }> = [];
  ops.forEach((op, index) => {
    const first = index + (plan.lateness[index] ?? 0);
    copies.push({ op, slot: first, order: copies.length });
    for (const extra of plan.redeliveries[index] ?? []) copies.push({ op, slot: first + extra, order: copies.length });
  });
  copies.sort((a, b) => a.slot - b.slot || a.order - b.order);

  const requests: HookRequest[] = [];
  let next = 0;
  for (let batch = 0; next < copies.length; batch++) {
    const size = Math.max(1, plan.batchSizes[batch % plan.batchSizes.length] ?? 1);
    const chunk = copies.slice(next, next + size).map((copy) => copy.op);
    next += size;

    const okta = chunk.filter((op) => op.route === 'okta');
    const generic = chunk.filter((op) => op.route === 'directory');
    const bodies: Array<Pick<HookRequest, 'path' | 'body' | 'eventIds'>> = [];
    if (okta.length > 0) {
      const body = oktaDelivery(history, okta, `${history.tag}-d${batch}`);
      bodies.push({ path: '/hooks/okta', body, eventIds: okta.map((op) => op.id) });
    }
    if (generic.length > 0) {
      const body = directoryDelivery(history, generic);
      bodies.push({ path: '/hooks/directory', body, eventIds: generic.map((op) => op.id) });
    }
    for (const body of bodies) {
      const index = requests.length;
      const pauseMs = plan.pausesMs[index % plan.pausesMs.length] ?? 0;
      requests.push({ ...body, lane: index % Math.max(1, plan.lanes), pauseMs });
    }
  }
  return requests;
}

/** An Okta Event Hook delivery of `ops`, with the fields Okta sends and the receiver reads. */
export function oktaDelivery(history: DirectoryHistory, ops: DirectoryOp[], deliveryId: string) {
  return {
    eventType: 'com.okta.event_hook',
    eventTypeVersion: '1.0',
    cloudEventsVersion: '0.1',
    source: 'https://example.okta.com/api/v1/eventHooks/whoReliability',
    eventId: deliveryId,
    data: { events: ops.map((op) => oktaEvent(history, op)) },
  };
}

function oktaEvent(history: DirectoryHistory, op: DirectoryOp) {
  const user = history.users[op.user]!;
  const target: Array<Record<string, unknown>> = [
    { id: user.id, type: 'User', alternateId: op.spelling, displayName: `User ${user.index}` },
  ];
  const group = MODEL_GROUPS.find((entry) => entry.id === op.group);
  if (group) target.push({ id: group.id, type: 'UserGroup', alternateId: 'unknown', displayName: group.name });
  return {
    uuid: op.id,
    published: op.at,
    eventType: op.eventType,
    displayMessage: op.kind,
    severity: 'INFO',
    outcome: { result: 'SUCCESS' },
    target,
  };
}

/** A generic directory hook body: a lone event, or `{ events }` for more than one. */
export function directoryDelivery(history: DirectoryHistory, ops: DirectoryOp[]) {
  const events = ops.map((op) => directoryEvent(history, op));
  return events.length === 1 ? events[0] : { events };
}

function directoryEvent(history: DirectoryHistory, op: DirectoryOp) {
  const user = history.users[op.user]!;
  const group = MODEL_GROUPS.find((entry) => entry.id === op.group);
  return {
    id: op.id,
    type: op.eventType,
    occurredAt: op.at,
    user: { id: user.id, email: op.spelling, name: `User ${user.index}` },
    ...(group ? { group: { id: group.id, name: group.name } } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Generator

/** One generated change: which user, which of their allowed changes, and how it is written and sent. */
export interface GeneratedChange {
  user: number;
  choice: number;
  style: Required<OpStyle>;
  lateness: number;
  redeliveries: number[];
}

/** A generated test case: users, changes, and how they are delivered. */
export interface HistoryCase {
  users: number;
  changes: GeneratedChange[];
  batchSizes: number[];
  pausesMs: number[];
  lanes: number;
}

export interface HistoryCaseOptions {
  minUsers?: number;
  maxUsers?: number;
  minChanges?: number;
  maxChanges?: number;
  /** How many slots late a delivery may come. */
  window?: number;
}

/**
 * Random cases. Each change picks among the changes allowed at that point, so every generated (and
 * every shrunk) case is a history the directory could really produce.
 */
export function historyCaseArbitrary(options: HistoryCaseOptions = {}): fc.Arbitrary<HistoryCase> {
  const { minUsers = 3, maxUsers = 5, minChanges = 12, maxChanges = 36, window = 5 } = options;
  const change = fc.record({
    user: fc.nat({ max: maxUsers - 1 }),
    choice: fc.nat({ max: 20 }),
    style: fc.record({
      route: fc.constantFrom<Route>('okta', 'directory'),
      flavour: fc.nat({ max: 2 }),
      shout: fc.boolean(),
    }),
    lateness: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.nat({ max: window }) }),
    redeliveries: fc.array(fc.nat({ max: window + 4 }), { maxLength: 2 }),
  });
  return fc.record({
    users: fc.integer({ min: minUsers, max: maxUsers }),
    changes: fc.array(change, { minLength: minChanges, maxLength: maxChanges }),
    batchSizes: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 8 }),
    pausesMs: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 150 })), { minLength: 1, maxLength: 8 }),
    lanes: fc.integer({ min: 1, max: 3 }),
  });
}

/** The history and delivery plan of a generated case, with ids made unique by `tag`. */
export function buildCase(testCase: HistoryCase, tag: string): { history: DirectoryHistory; plan: DeliveryPlan } {
  const history = new DirectoryHistory(tag);
  for (let i = 0; i < testCase.users; i++) history.addUser();

  const lateness: number[] = [];
  const redeliveries: number[][] = [];
  for (const change of testCase.changes) {
    const user = change.user % testCase.users;
    // Lifecycle changes (listed first) count twice, so activation periods come and go often.
    const allowed = history.allowed(user);
    const weighted = [allowed[0]!, ...allowed];
    const pick = weighted[change.choice % weighted.length]!;
    history.apply(user, pick.kind, pick.group, change.style);
    lateness.push(change.lateness);
    redeliveries.push(change.redeliveries);
  }
  return {
    history,
    plan: {
      lateness,
      redeliveries,
      batchSizes: testCase.batchSizes,
      pausesMs: testCase.pausesMs,
      lanes: testCase.lanes,
    },
  };
}
