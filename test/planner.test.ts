import type { ActualState } from '../workflows/api';
import { eventSchemas, type DirectoryEventInput } from '../workflows/events';
import { planSteps, takesAway, type MappingSnapshot } from '../workflows/planner';
import { applyDirectoryEvent, emptyDesiredState } from '../workflows/state';

const mapping: MappingSnapshot = {
  grants: {
    engineering: { teamIds: ['team_eng'], role: 'edit' },
    admins: { teamIds: [], role: 'admin' },
    support: { teamIds: ['team_support'] },
  },
  defaultRole: 'read',
  sso: true,
  retainAfterOffboardMs: 0,
  searchAttributes: false,
};

let sequence = 0;
function ev(fields: Partial<DirectoryEventInput> & Pick<DirectoryEventInput, 'kind'>, at: string) {
  return eventSchemas().event.parse({ id: `e${++sequence}`, userId: '00u1', email: 'ada@example.com', occurredAt: at, ...fields });
}

const unknownActual = (): ActualState => ({ membership: 'unknown', teams: {} });

describe('applyDirectoryEvent', () => {
  it('ignores an event older than the one that set the attribute', () => {
    const desired = emptyDesiredState();
    applyDirectoryEvent(desired, ev({ kind: 'user.deactivated' }, '2026-01-02T00:00:00Z'));

    const changed = applyDirectoryEvent(desired, ev({ kind: 'user.activated' }, '2026-01-01T00:00:00Z'));

    expect(changed).toBe(false);
    expect(desired.active?.value).toBe(false);
  });

  it('keeps group memberships last-writer-wins per group', () => {
    const desired = emptyDesiredState();
    applyDirectoryEvent(desired, ev({ kind: 'group.member_removed', group: { id: 'engineering' } }, '2026-01-03T00:00:00Z'));
    applyDirectoryEvent(desired, ev({ kind: 'group.member_added', group: { id: 'engineering' } }, '2026-01-02T00:00:00Z'));
    applyDirectoryEvent(desired, ev({ kind: 'group.member_added', group: { id: 'support' } }, '2026-01-02T00:00:00Z'));

    expect(desired.groups.engineering?.value).toBe(false);
    expect(desired.groups.support?.value).toBe(true);
  });

  it('normalizes emails without merging plus-addressed mailboxes', () => {
    const desired = emptyDesiredState();
    applyDirectoryEvent(desired, ev({ kind: 'user.activated', email: '  QA+Docs@Example.COM ' }, '2026-01-01T00:00:00Z'));

    expect(desired.email?.value).toBe('qa+docs@example.com');
  });
});

describe('planSteps', () => {
  it('plans nothing before any lifecycle event and says what it waits for', () => {
    const desired = emptyDesiredState();
    applyDirectoryEvent(desired, ev({ kind: 'group.member_added', group: { id: 'engineering' } }, '2026-01-01T00:00:00Z'));

    const plan = planSteps(desired, unknownActual(), mapping);

    expect(plan.steps).toEqual([]);
    expect(plan.waitingFor).toMatch(/lifecycle/);
  });

  it('onboards with the highest mapped role and the teams of the groups', () => {
    const desired = emptyDesiredState();
    applyDirectoryEvent(desired, ev({ kind: 'user.activated' }, '2026-01-01T00:00:00Z'));
    applyDirectoryEvent(desired, ev({ kind: 'group.member_added', group: { id: 'engineering' } }, '2026-01-01T00:00:01Z'));
    applyDirectoryEvent(desired, ev({ kind: 'group.member_added', group: { id: 'admins' } }, '2026-01-01T00:00:02Z'));

    const [step] = planSteps(desired, unknownActual(), mapping).steps;

    expect(step).toMatchObject({
      kind: 'onboard',
      input: { email: 'ada@example.com', role: 'admin', sso: true, teamIds: ['team_eng'] },
    });
  });

  it('plans a net team change and a role change for a member who moved groups', () => {
    const desired = emptyDesiredState();
    applyDirectoryEvent(desired, ev({ kind: 'user.activated' }, '2026-01-01T00:00:00Z'));
    applyDirectoryEvent(desired, ev({ kind: 'group.member_removed', group: { id: 'engineering' } }, '2026-01-02T00:00:00Z'));
    applyDirectoryEvent(desired, ev({ kind: 'group.member_added', group: { id: 'support' } }, '2026-01-02T00:00:00Z'));
    const actual: ActualState = { membership: 'member', gitbookUserId: 'u_1', role: 'edit', teams: { team_eng: 'in' } };

    const plan = planSteps(desired, actual, mapping);

    expect(plan.steps.map((step) => [step.kind, step.input])).toEqual([
      ['set-role', { gitbookUserId: 'u_1', email: 'ada@example.com', role: 'read' }],
      [
        'update-teams',
        {
          gitbookUserId: 'u_1',
          email: 'ada@example.com',
          changes: [
            { teamId: 'team_eng', action: 'remove' },
            { teamId: 'team_support', action: 'add' },
          ],
        },
      ],
    ]);
  });

  it('offboards a deactivated user even when membership is unknown, and not once known gone', () => {
    const desired = emptyDesiredState();
    applyDirectoryEvent(desired, ev({ kind: 'user.deactivated' }, '2026-01-01T00:00:00Z'));

    expect(planSteps(desired, unknownActual(), mapping).steps.map((s) => s.kind)).toEqual(['offboard']);
    expect(planSteps(desired, { membership: 'not-member', teams: {} }, mapping).steps).toEqual([]);
  });

  it('skips a step that failed permanently until the directory changes', () => {
    const desired = emptyDesiredState();
    applyDirectoryEvent(desired, ev({ kind: 'user.activated' }, '2026-01-01T00:00:00Z'));

    expect(planSteps(desired, unknownActual(), mapping, new Set(['onboard'])).steps).toEqual([]);
  });
});

describe('batching and settling in plans', () => {
  const member = (fields: Partial<ActualState> = {}): ActualState => ({
    membership: 'member',
    gitbookUserId: 'u_1',
    role: 'edit',
    teams: { team_eng: 'in' },
    ...fields,
  });
  const withGroups = (groups: Record<string, boolean>) => {
    const desired = emptyDesiredState();
    applyDirectoryEvent(desired, ev({ kind: 'user.activated' }, '2026-01-01T00:00:00Z'));
    for (const [id, added] of Object.entries(groups)) {
      applyDirectoryEvent(desired, ev({ kind: added ? 'group.member_added' : 'group.member_removed', group: { id } }, '2026-01-01T00:01:00Z'));
    }
    return desired;
  };
  const batching = { maxBatchSize: 100, maxWaitMs: 2_000, quietMs: 500 };

  it('sends invites and team changes through the batchers when the mapping says so', () => {
    const onboard = planSteps(withGroups({ engineering: true }), unknownActual(), { ...mapping, inviteBatching: batching, teamBatching: batching });
    expect(onboard.steps[0]).toMatchObject({ kind: 'onboard', input: { batched: true, teamBatched: true, teamIds: ['team_eng'] } });

    const move = planSteps(withGroups({ support: true }), member({ role: 'read', teams: {} }), { ...mapping, teamBatching: batching });
    expect(move.steps).toEqual([
      expect.objectContaining({ kind: 'update-teams', input: expect.objectContaining({ teamBatched: true, changes: [{ teamId: 'team_support', action: 'add' }] }) }),
    ]);
  });

  it('calls a lower role and leaving a team taking away, and nothing else', () => {
    const left = planSteps(withGroups({ engineering: false }), member(), mapping);
    expect(left.steps.map((step) => [step.kind, takesAway(step, member())])).toEqual([
      ['set-role', true],
      ['update-teams', true],
    ]);

    const promoted = planSteps(withGroups({ engineering: true, admins: true }), member(), mapping);
    expect(promoted.steps.map((step) => [step.kind, takesAway(step, member())])).toEqual([['set-role', false]]);

    const joined = planSteps(withGroups({ engineering: true, support: true }), member(), mapping);
    expect(joined.steps.map((step) => [step.kind, takesAway(step, member())])).toEqual([['update-teams', false]]);

    // A role this workflow does not know yet is set, not lowered.
    const unknownRole = member({ role: undefined });
    const reset = planSteps(withGroups({ engineering: false }), unknownRole, mapping);
    expect(takesAway(reset.steps[0]!, unknownRole)).toBe(false);
  });
});
