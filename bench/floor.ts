/**
 * The calls a scenario strictly needs, from the sync config the benchmark runs with (parsed by the
 * project's own schema, so its defaults apply): with batching on, one invite per role per batch
 * and one team change per team per batch; with it off, one call per change. Role changes have no
 * batch call: one per person whose role differs.
 */
import { higherRole, resolveGroupGrants, type SyncConfig } from '../src/mapping';
import type { DirectoryGroup, GitBookRole } from '../workflows/events';

/** The calls a scenario needs, by kind, and how they were counted. */
export interface NeededCalls {
  invites: number;
  teams: number;
  roles: number;
  /** The sum: the floor's calls. */
  total: number;
  /** The same changes with one call each (batching off): the floor before batching. */
  oneCallPerChange: number;
  /** The batch sizes in force (undefined: batching off). */
  inviteBatchSize?: number;
  teamBatchSize?: number;
  /** How each kind was counted, e.g. `invites: read 500 -> 5, edit 500 -> 5`. */
  detail: string[];
}

/** One person of a scenario: their groups before and after it (`before` undefined: not a member yet). */
export interface PersonChange {
  before?: DirectoryGroup[];
  after: DirectoryGroup[];
}

/** The role the config gives someone in `groups`: the highest mapped role, else the default. */
export function roleOf(config: SyncConfig, groups: DirectoryGroup[]): GitBookRole {
  const roles = Object.values(resolveGroupGrants(config, groups)).flatMap((grant) => (grant.role ? [grant.role] : []));
  return roles.reduce<GitBookRole | undefined>((best, role) => (best ? higherRole(best, role) : role), undefined) ??
    config.defaultRole;
}

function teamsOf(config: SyncConfig, groups: DirectoryGroup[]): Set<string> {
  return new Set(Object.values(resolveGroupGrants(config, groups)).flatMap((grant) => grant.teamIds));
}

/** Calls for `people` at `batchSize` people per call, or one each without batching. */
const callsFor = (people: number, batchSize: number | undefined) =>
  batchSize ? Math.ceil(people / batchSize) : people;

const sum = (values: Iterable<number>) => [...values].reduce((total, value) => total + value, 0);

const batching = (batchSize: number | undefined) => (batchSize ? `${batchSize} people per call` : 'batching off');

/** The calls `people`'s changes need under `config`. */
export function neededCalls(config: SyncConfig, people: PersonChange[]): NeededCalls {
  const inviteBatchSize = config.inviteBatching.enabled ? config.inviteBatching.maxBatchSize : undefined;
  const teamBatchSize = config.teamBatching.enabled ? config.teamBatching.maxBatchSize : undefined;
  const invitesByRole = new Map<GitBookRole, number>();
  const teamChanges = new Map<string, { add: number; remove: number }>();
  const change = (team: string, action: 'add' | 'remove') => {
    const counts = teamChanges.get(team) ?? { add: 0, remove: 0 };
    counts[action]++;
    teamChanges.set(team, counts);
  };
  let roles = 0;

  for (const person of people) {
    const roleAfter = roleOf(config, person.after);
    const teamsAfter = teamsOf(config, person.after);
    if (!person.before) {
      // A newcomer: the invite carries the role.
      invitesByRole.set(roleAfter, (invitesByRole.get(roleAfter) ?? 0) + 1);
      for (const team of teamsAfter) change(team, 'add');
      continue;
    }
    if (roleOf(config, person.before) !== roleAfter) roles++;
    const teamsBefore = teamsOf(config, person.before);
    for (const team of teamsBefore) if (!teamsAfter.has(team)) change(team, 'remove');
    for (const team of teamsAfter) if (!teamsBefore.has(team)) change(team, 'add');
  }

  // One PUT carries a team's adds and removes together: people per team count.
  const invites = sum([...invitesByRole.values()].map((count) => callsFor(count, inviteBatchSize)));
  const teams = sum([...teamChanges.values()].map(({ add, remove }) => callsFor(add + remove, teamBatchSize)));
  const inviteParts = [...invitesByRole].map(
    ([role, count]) => `${role} ${count} people -> ${callsFor(count, inviteBatchSize)}`,
  );
  const teamParts = [...teamChanges].map(([team, { add, remove }]) => {
    const what = [add ? `${add} adds` : '', remove ? `${remove} removes` : ''].filter(Boolean).join(' + ');
    return `${team} ${what} -> ${callsFor(add + remove, teamBatchSize)}`;
  });
  const oneCallPerChange =
    sum(invitesByRole.values()) + sum([...teamChanges.values()].map(({ add, remove }) => add + remove)) + roles;
  return {
    invites,
    teams,
    roles,
    total: invites + teams + roles,
    oneCallPerChange,
    inviteBatchSize,
    teamBatchSize,
    detail: [
      `invites (${batching(inviteBatchSize)}): ${inviteParts.join(', ') || 'none'}`,
      `team changes (${batching(teamBatchSize)}): ${teamParts.join(', ') || 'none'}`,
      `role changes (one call each): ${roles}`,
    ],
  };
}
