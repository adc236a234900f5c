/**
 * The receiver's group commit on its own: which deliveries share a Temporal call, when each is
 * answered, and the bounds. Temporal is replaced by a test double whose calls the test settles by
 * hand; the receiver end to end, against a real dev server, is in receiver.test.ts.
 */
import {
  GroupCommit,
  type CommitEvents,
  type GroupCommitOptions,
  type HandoffPath,
} from '../src/receiver/group-commit';
import type { DirectoryEvent } from '../workflows/events';

interface FakeCall {
  path: HandoffPath;
  ids: string[];
  deliveries: number;
  deadlineMs: number;
  settled: boolean;
  hold(): void;
  fail(error?: Error): void;
}

interface FakeTemporal {
  calls: FakeCall[];
  commitAlone: CommitEvents;
  commitGroup: CommitEvents;
}

const temporals: FakeTemporal[] = [];

/** A stand-in for Temporal: records each call and leaves it pending until the test settles it. */
function fakeTemporal(): FakeTemporal {
  const calls: FakeCall[] = [];
  const commit =
    (path: HandoffPath): CommitEvents =>
    (events, { deadlineMs, deliveries }) =>
      new Promise((resolve, reject) => {
        const call: FakeCall = {
          path,
          ids: events.map((event) => event.id),
          deliveries,
          deadlineMs,
          settled: false,
          hold() {
            call.settled = true;
            resolve(undefined);
          },
          fail(error) {
            call.settled = true;
            reject(error ?? new Error('Temporal is down'));
          },
        };
        calls.push(call);
      });
  const temporal = { calls, commitAlone: commit('alone'), commitGroup: commit('group') };
  temporals.push(temporal);
  return temporal;
}

// Settles whatever a test left pending, so no deadline timer outlives it.
afterEach(async () => {
  for (let pending = true; pending; ) {
    await flush();
    const open = temporals.flatMap((temporal) => temporal.calls).filter((call) => !call.settled);
    for (const call of open) call.hold();
    pending = open.length > 0;
  }
  temporals.length = 0;
});

function groupCommit(temporal: FakeTemporal, options: Partial<GroupCommitOptions> = {}) {
  const { commitAlone, commitGroup } = temporal;
  return new GroupCommit({ commitAlone, commitGroup, timeoutMs: 10_000, ...options });
}

/** `count` events of `user`, with ids `<user>-0`, `<user>-1`, ... */
function delivery(user: string, count = 1, padding = ''): DirectoryEvent[] {
  return Array.from({ length: count }, (_, index) => ({
    id: `${user}-${index}`,
    kind: 'group.member_added' as const,
    userId: user,
    group: { id: `g${index}`, name: padding || undefined },
    occurredAt: '2026-12-04T09:00:00Z',
    source: 'test',
  }));
}

/** Follows a promise: `state` is `pending`, `held`, or the code of the error it rejected with. */
function watch(answer: Promise<void>) {
  const watched = { state: 'pending' as string };
  answer.then(
    () => (watched.state = 'held'),
    (err: { code?: string }) => (watched.state = err.code ?? 'error'),
  );
  return watched;
}

const flush = () => new Promise((done) => setImmediate(done));
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('GroupCommit', () => {
  it('hands a lone delivery on its own, at once, and answers once Temporal holds it', async () => {
    const temporal = fakeTemporal();
    const commit = groupCommit(temporal);

    const answer = watch(commit.submit(delivery('ada', 3)));
    await flush();

    expect(temporal.calls).toMatchObject([{ path: 'alone', ids: ['ada-0', 'ada-1', 'ada-2'], deliveries: 1 }]);
    expect(answer.state).toBe('pending');
    temporal.calls[0]!.hold();
    await flush();
    expect(answer.state).toBe('held');
  });

  it('holds the deliveries arriving during a hand-off with one call, in arrival order, answered with it', async () => {
    const temporal = fakeTemporal();
    const commit = groupCommit(temporal, { maxConcurrent: 1 });

    const first = watch(commit.submit(delivery('ada', 2)));
    const later = [delivery('bob', 2), delivery('cy', 1), delivery('ada-b', 3)].map((events) =>
      watch(commit.submit(events)),
    );
    await flush();
    expect(temporal.calls).toHaveLength(1);
    temporal.calls[0]!.hold();
    await flush();

    expect(first.state).toBe('held');
    expect(temporal.calls[1]).toMatchObject({
      path: 'group',
      deliveries: 3,
      ids: ['bob-0', 'bob-1', 'cy-0', 'ada-b-0', 'ada-b-1', 'ada-b-2'],
    });
    expect(later.map((answer) => answer.state)).toEqual(['pending', 'pending', 'pending']);
    temporal.calls[1]!.hold();
    await flush();
    expect(later.map((answer) => answer.state)).toEqual(['held', 'held', 'held']);
  });

  it('answers every delivery of a failed group HANDOFF_FAILED, and none as held', async () => {
    const temporal = fakeTemporal();
    const commit = groupCommit(temporal, { maxConcurrent: 1 });

    const first = watch(commit.submit(delivery('ada', 2)));
    const grouped = ['bob', 'cy', 'dee'].map((user) => watch(commit.submit(delivery(user, 2))));
    await flush();
    temporal.calls[0]!.hold();
    await flush();
    temporal.calls[1]!.fail();
    await flush();

    expect(temporal.calls.map((call) => call.deliveries)).toEqual([1, 3]);
    expect(first.state).toBe('held');
    expect(grouped.map((answer) => answer.state)).toEqual(['HANDOFF_FAILED', 'HANDOFF_FAILED', 'HANDOFF_FAILED']);
  });

  it('uses free slots at once: a group call while another is in flight, alone again for a single event', async () => {
    const temporal = fakeTemporal();
    const commit = groupCommit(temporal, { maxConcurrent: 3 });

    commit.submit(delivery('ada', 2));
    commit.submit(delivery('bob', 2));
    commit.submit(delivery('cy', 1));
    commit.submit(delivery('dee', 1));
    await flush();

    expect(temporal.calls.map((call) => [call.path, call.ids.length])).toEqual([
      ['alone', 2],
      ['group', 2],
      ['alone', 1],
    ]);
    expect(commit.running).toBe(3);
    expect(commit.queuedEvents).toBe(1);
  });

  it('keeps each group within maxGroupEvents and maxGroupBytes, and lets a larger delivery go by itself', async () => {
    const temporal = fakeTemporal();
    const byEvents = groupCommit(temporal, { maxConcurrent: 1, maxGroupEvents: 5 });
    byEvents.submit(delivery('first'));
    for (const user of ['a', 'b', 'c']) byEvents.submit(delivery(user, 2));
    byEvents.submit(delivery('big', 7));
    await flush();
    temporal.calls[0]!.hold();
    await flush();
    temporal.calls[1]!.hold();
    await flush();

    expect(temporal.calls.map((call) => call.ids.length)).toEqual([1, 4, 2]);
    temporal.calls[2]!.hold();
    await flush();
    expect(temporal.calls[3]).toMatchObject({ path: 'alone', deliveries: 1 });
    expect(temporal.calls[3]!.ids).toHaveLength(7);

    // Each of these deliveries serializes to 337 bytes: three fit in 1,024, four do not.
    const bySize = fakeTemporal();
    const byBytes = groupCommit(bySize, { maxConcurrent: 1, maxGroupBytes: 1_024 });
    byBytes.submit(delivery('first'));
    for (const user of ['a', 'b', 'c', 'd']) byBytes.submit(delivery(user, 1, 'x'.repeat(200)));
    await flush();
    bySize.calls[0]!.hold();
    await flush();
    expect(bySize.calls[1]!.deliveries).toBe(3);
  });

  it('refuses at once a delivery that would overfill the queue, and takes one again once it drains', async () => {
    const temporal = fakeTemporal();
    const commit = groupCommit(temporal, { maxConcurrent: 1, maxQueuedEvents: 4 });

    commit.submit(delivery('first'));
    const queued = watch(commit.submit(delivery('a', 3)));
    const refused = watch(commit.submit(delivery('b', 2)));
    await flush();

    expect(refused.state).toBe('HANDOFF_QUEUE_FULL');
    expect(queued.state).toBe('pending');
    temporal.calls[0]!.hold();
    await flush();
    expect(commit.queuedEvents).toBe(0);
    expect(watch(commit.submit(delivery('b', 2))).state).toBe('pending');
  });

  it("answers HANDOFF_TIMEOUT at each delivery's own deadline, and frees the slot of a call that hangs", async () => {
    const temporal = fakeTemporal();
    const commit = groupCommit(temporal, { maxConcurrent: 1, timeoutMs: 150 });

    const hung = watch(commit.submit(delivery('ada')));
    await sleep(60);
    const queued = watch(commit.submit(delivery('bob')));
    await sleep(110);

    // The hung call's slot was freed at its deadline, and the waiting delivery sent with the time it had left.
    expect(hung.state).toBe('HANDOFF_TIMEOUT');
    expect(queued.state).toBe('pending');
    expect(temporal.calls.map((call) => call.ids)).toEqual([['ada-0'], ['bob-0']]);
    await sleep(60);
    expect(queued.state).toBe('HANDOFF_TIMEOUT');

    const next = watch(commit.submit(delivery('cy')));
    await flush();
    expect(temporal.calls[2]).toMatchObject({ path: 'alone', ids: ['cy-0'] });
    temporal.calls[2]!.hold();
    await flush();
    expect(next.state).toBe('held');
  });

  it('gives a group call the latest deadline of its deliveries, and answers one held before its own', async () => {
    const temporal = fakeTemporal();
    const commit = groupCommit(temporal, { maxConcurrent: 1, timeoutMs: 200 });

    commit.submit(delivery('ada'));
    const early = watch(commit.submit(delivery('bob', 2)));
    await sleep(100);
    const late = watch(commit.submit(delivery('cy', 2)));
    temporal.calls[0]!.hold();
    await flush();
    const group = temporal.calls[1]!;
    await sleep(120);

    expect(group.deliveries).toBe(2);
    expect(group.deadlineMs - temporal.calls[0]!.deadlineMs).toBeGreaterThanOrEqual(100);
    expect(early.state).toBe('HANDOFF_TIMEOUT');
    expect(late.state).toBe('pending');
    group.hold();
    await flush();
    expect(late.state).toBe('held');
  });

  it("sends an event repeated across a group's deliveries once", async () => {
    const temporal = fakeTemporal();
    const commit = groupCommit(temporal, { maxConcurrent: 1 });

    commit.submit(delivery('first'));
    const answers = [delivery('ada', 2), delivery('ada', 3)].map((events) => watch(commit.submit(events)));
    await flush();
    temporal.calls[0]!.hold();
    await flush();
    temporal.calls[1]!.hold();
    await flush();

    expect(temporal.calls[1]!.ids).toEqual(['ada-0', 'ada-1', 'ada-2']);
    expect(answers.map((answer) => answer.state)).toEqual(['held', 'held']);
  });

  it('resolves idle() once nothing waits and no call runs', async () => {
    const temporal = fakeTemporal();
    const commit = groupCommit(temporal, { maxConcurrent: 1 });
    await commit.idle();

    commit.submit(delivery('ada'));
    commit.submit(delivery('bob'));
    const idle = watch(commit.idle());
    await flush();
    temporal.calls[0]!.hold();
    await flush();
    expect(idle.state).toBe('pending');
    temporal.calls[1]!.hold();
    await flush();
    expect(idle.state).toBe('held');
  });

  it('refuses limits that are not positive integers, and groups larger than deliveryWorkflow accepts', () => {
    const temporal = fakeTemporal();

    expect(() => groupCommit(temporal, { maxConcurrent: 0 })).toThrow('maxConcurrent must be a positive integer');
    expect(() => groupCommit(temporal, { maxGroupEvents: 20_001 })).toThrow('maxGroupEvents must be at most 20000');
  });
});
