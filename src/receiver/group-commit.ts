/**
 * Group commit for the receiver's hand-offs to Temporal.
 *
 * Every delivery waits here until Temporal holds its events. With no other hand-off in flight a
 * delivery goes on its own, at once, exactly as before (a few events straight to their users'
 * workflows). While hand-offs are in flight, deliveries that arrive meanwhile queue up; each time a
 * slot frees, the queue's head is merged, in arrival order, into one group held by a single call
 * (the start of one `deliveryWorkflow`). A burst of small deliveries thus costs a few Temporal calls
 * instead of one per event, and the calls grow larger rather than more numerous as Temporal slows.
 *
 * A delivery is answered with its group: resolved once the group's call succeeded, rejected when it
 * failed. Each delivery keeps its own deadline (`timeoutMs` from its arrival), in the queue and in
 * flight alike, so a late group never holds an answer past it. Nothing resolves unless the call that
 * carried its events succeeded.
 *
 * Bounds: `maxConcurrent` calls at once, `maxGroupEvents` and `maxGroupBytes` per group (a single
 * larger delivery still goes, alone), and `maxQueuedEvents` waiting: past that a delivery is refused
 * at once, so the IdP hears 503 now rather than at the deadline.
 */
import type { DirectoryEvent } from '../../workflows/events';
import { HandoffError, ReceiverConfigError } from './errors';

/** How a hand-off reached Temporal: a delivery on its own (`alone`), or a merged group (`group`). */
export type HandoffPath = 'alone' | 'group';

/**
 * One call to Temporal that holds `events`; it should give up by `deadlineMs` (epoch ms). A call
 * that does not is left running, but its slot is freed at that time.
 */
export type CommitEvents = (
  events: DirectoryEvent[],
  context: { deadlineMs: number; deliveries: number },
) => Promise<unknown>;

/** A call to Temporal as it starts, for metrics. */
export interface HandoffRecord {
  path: HandoffPath;
  /** Deliveries the call carries. */
  deliveries: number;
  /** Events the call carries (an event repeated across the group's deliveries counts once). */
  events: number;
}

export interface GroupCommitOptions {
  /** Hands one delivery on its own: taken when no other hand-off is in flight, or for one event. */
  commitAlone: CommitEvents;
  /** Holds a group of deliveries with one call. */
  commitGroup: CommitEvents;
  /** How long each delivery may wait for Temporal, from its arrival. */
  timeoutMs: number;
  /** @default {@link DEFAULT_MAX_CONCURRENT_HANDOFFS} */
  maxConcurrent?: number;
  /** @default {@link DEFAULT_MAX_GROUP_EVENTS}; at most {@link MAX_GROUP_EVENTS} */
  maxGroupEvents?: number;
  /** @default {@link DEFAULT_MAX_GROUP_BYTES} */
  maxGroupBytes?: number;
  /** @default {@link DEFAULT_MAX_QUEUED_EVENTS} */
  maxQueuedEvents?: number;
  /** Told of every call to Temporal as it starts. */
  onHandoff?: (record: HandoffRecord) => void;
}

/** @default Temporal calls in flight at once. */
export const DEFAULT_MAX_CONCURRENT_HANDOFFS = 4;

/** @default events per group. */
export const DEFAULT_MAX_GROUP_EVENTS = 2_000;

/** The most events a group may have: what `deliveryWorkflow`'s input schema accepts. */
export const MAX_GROUP_EVENTS = 20_000;

/**
 * @default serialized events per group. Temporal warns about a payload over 512 KiB and refuses one
 * over 2 MiB (`limit.blobSize.warn` / `.error`); a group stays under the warning. A lone delivery
 * (at most 1 MiB of body) may exceed it and goes alone, as before.
 */
export const DEFAULT_MAX_GROUP_BYTES = 512 * 1_024;

/** @default events waiting for a slot; a delivery that would exceed it is refused at once. */
export const DEFAULT_MAX_QUEUED_EVENTS = 8_000;

/** A delivery waiting for its answer. */
interface Waiting {
  events: DirectoryEvent[];
  bytes: number;
  deadlineMs: number;
  queued: boolean;
  answered: boolean;
  timer?: NodeJS.Timeout;
  resolve(): void;
  reject(error: HandoffError): void;
}

/** Coalesces concurrent deliveries into few Temporal calls; see the file's comment. */
export class GroupCommit {
  readonly #commitAlone: CommitEvents;
  readonly #commitGroup: CommitEvents;
  readonly #onHandoff?: (record: HandoffRecord) => void;
  readonly #timeoutMs: number;
  readonly #maxConcurrent: number;
  readonly #maxGroupEvents: number;
  readonly #maxGroupBytes: number;
  readonly #maxQueuedEvents: number;

  /** Oldest first; answered entries are dropped lazily from the head. */
  #queue: Waiting[] = [];
  #queuedEvents = 0;
  #running = 0;
  #idleWaiters: Array<() => void> = [];

  /** @throws ReceiverConfigError for a limit that is not a positive integer, or too large. */
  constructor(options: GroupCommitOptions) {
    this.#commitAlone = options.commitAlone;
    this.#commitGroup = options.commitGroup;
    this.#onHandoff = options.onHandoff;
    this.#timeoutMs = positiveInteger('timeoutMs', options.timeoutMs);
    this.#maxConcurrent = positiveInteger('maxConcurrent', options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT_HANDOFFS);
    this.#maxGroupEvents = positiveInteger('maxGroupEvents', options.maxGroupEvents ?? DEFAULT_MAX_GROUP_EVENTS);
    this.#maxGroupBytes = positiveInteger('maxGroupBytes', options.maxGroupBytes ?? DEFAULT_MAX_GROUP_BYTES);
    this.#maxQueuedEvents = positiveInteger('maxQueuedEvents', options.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS);

    if (this.#maxGroupEvents > MAX_GROUP_EVENTS) {
      throw new ReceiverConfigError(`maxGroupEvents must be at most ${MAX_GROUP_EVENTS}, got ${this.#maxGroupEvents}`);
    }
  }

  /** Hand-offs whose call is running and holds a slot. */
  get running(): number {
    return this.#running;
  }

  /** Events of deliveries waiting for a slot. */
  get queuedEvents(): number {
    return this.#queuedEvents;
  }

  /**
   * Resolves once Temporal holds every one of `events`. Rejects with a {@link HandoffError}:
   * `HANDOFF_QUEUE_FULL` at once, `HANDOFF_FAILED` when the call carrying them failed,
   * `HANDOFF_TIMEOUT` when `timeoutMs` passed first.
   */
  submit(events: DirectoryEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();

    // An empty queue takes any delivery, so one larger than the bound is not refused for ever.
    if (this.#queuedEvents > 0 && this.#queuedEvents + events.length > this.#maxQueuedEvents) {
      const message = `${this.#queuedEvents} events are already waiting for Temporal`;
      return Promise.reject(new HandoffError('HANDOFF_QUEUE_FULL', message));
    }

    return new Promise<void>((resolve, reject) => {
      const waiting: Waiting = {
        events,
        bytes: Buffer.byteLength(JSON.stringify(events)),
        deadlineMs: Date.now() + this.#timeoutMs,
        queued: true,
        answered: false,
        resolve,
        reject,
      };
      waiting.timer = setTimeout(() => this.#expire(waiting), this.#timeoutMs);
      this.#queue.push(waiting);
      this.#queuedEvents += events.length;
      this.#pump();
    });
  }

  /** Resolves once nothing waits and no call holds a slot (calls past their deadline may still run). */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((done) => this.#idleWaiters.push(done));
  }

  /** Starts calls while slots are free and deliveries wait. */
  #pump(): void {
    while (this.#running < this.#maxConcurrent) {
      const group = this.#takeGroup();
      if (group.length === 0) break;

      const events = group.length === 1 ? group[0]!.events : mergeEvents(group);
      // Alone when nothing else is in flight (the latency of a quiet receiver stays as it was), or
      // when a single event makes it one call either way.
      const alone = group.length === 1 && (this.#running === 0 || events.length === 1);
      this.#dispatch(group, events, alone ? 'alone' : 'group');
    }
    this.#notifyIdle();
  }

  /** The oldest waiting deliveries that fit one group; at least one when any waits. */
  #takeGroup(): Waiting[] {
    const group: Waiting[] = [];
    let events = 0;
    let bytes = 0;

    for (;;) {
      this.#dropAnswered();
      const next = this.#queue[0];
      if (!next) break;
      if (next.deadlineMs <= Date.now()) {
        // Its timer is due in this very tick: answer it now rather than send it with no time left.
        this.#answer(next, this.#timeoutError());
        continue;
      }
      const full = events + next.events.length > this.#maxGroupEvents || bytes + next.bytes > this.#maxGroupBytes;
      if (group.length > 0 && full) break;

      this.#queue.shift();
      next.queued = false;
      this.#queuedEvents -= next.events.length;
      group.push(next);
      events += next.events.length;
      bytes += next.bytes;
    }
    return group;
  }

  /** Makes one call for `group`, answers its deliveries with the outcome, and frees the slot. */
  #dispatch(group: Waiting[], events: DirectoryEvent[], path: HandoffPath): void {
    const startedAt = Date.now();
    // The latest deadline of the group: every delivery has been answered by then.
    const deadlineMs = group.reduce((latest, waiting) => Math.max(latest, waiting.deadlineMs), 0);
    this.#running++;

    // A call should end by its deadline; one that does not frees its slot anyway, so a hung call
    // cannot stall the deliveries behind it.
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      clearTimeout(backstop);
      this.#running--;
      this.#pump();
    };
    const backstop = setTimeout(release, Math.max(0, deadlineMs - startedAt));

    this.#report({ path, deliveries: group.length, events: events.length });
    const commit = path === 'alone' ? this.#commitAlone : this.#commitGroup;
    let call: Promise<unknown>;
    try {
      call = commit(events, { deadlineMs, deliveries: group.length });
    } catch (err) {
      call = Promise.reject(err);
    }

    const settle = (error?: HandoffError) => {
      for (const waiting of group) this.#answer(waiting, error);
      release();
    };
    const failed = (cause: unknown) =>
      new HandoffError('HANDOFF_FAILED', 'the events could not be handed to Temporal', { cause });
    call.then(
      () => settle(),
      (cause: unknown) => settle(failed(cause)),
    );
  }

  /** Metrics must not stop a hand-off. */
  #report(record: HandoffRecord): void {
    try {
      this.#onHandoff?.(record);
    } catch {
      // A metric is not worth a delivery.
    }
  }

  #answer(waiting: Waiting, error?: HandoffError): void {
    if (waiting.answered) return;
    waiting.answered = true;
    clearTimeout(waiting.timer);
    if (waiting.queued) {
      waiting.queued = false;
      this.#queuedEvents -= waiting.events.length;
    }

    if (error) waiting.reject(error);
    else waiting.resolve();
  }

  #expire(waiting: Waiting): void {
    this.#answer(waiting, this.#timeoutError());
    this.#dropAnswered();
    this.#notifyIdle();
  }

  #timeoutError(): HandoffError {
    const message = `Temporal did not confirm the events within ${this.#timeoutMs} ms`;
    return new HandoffError('HANDOFF_TIMEOUT', message, { timeoutMs: this.#timeoutMs });
  }

  /** Deadlines follow arrival order, so expired deliveries gather at the head of the queue. */
  #dropAnswered(): void {
    while (this.#queue[0]?.answered) this.#queue.shift();
  }

  #isIdle(): boolean {
    return this.#running === 0 && this.#queuedEvents === 0;
  }

  #notifyIdle(): void {
    if (!this.#isIdle()) return;
    for (const done of this.#idleWaiters.splice(0)) done();
  }
}

/** The group's events in arrival order; an event id already taken is not sent again. */
function mergeEvents(group: readonly Waiting[]): DirectoryEvent[] {
  const seen = new Set<string>();
  const merged: DirectoryEvent[] = [];
  for (const waiting of group) {
    for (const event of waiting.events) {
      if (seen.has(event.id)) continue;
      seen.add(event.id);
      merged.push(event);
    }
  }
  return merged;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new ReceiverConfigError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}
