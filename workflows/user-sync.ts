/**
 * The per-user workflow: one long-lived run per directory user (id `gitbook-user-<id>`), fed by
 * signal-with-start. It keeps what the directory wants (desired state, last writer wins by event
 * time), what it knows of GitBook (actual state), and runs one step at a time, as child workflows,
 * until the two agree. Redeliveries are recognised by event id; an offboarding that arrives while
 * an onboarding step is running cancels that step, and the next plan removes the person.
 */
import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { GuardActivities } from '../activities/guard';
import type { MappingActivities } from '../activities/mapping';
import {
  cancelSignal,
  changeAttribute,
  directoryEventSignal,
  directoryUserIdAttribute,
  outcomeAttribute,
  removalDecisionSignal,
  statusQuery,
  userWorkflowId,
  type ActualState,
  type CancelRequest,
  type CarriedState,
  type DesiredState,
  type PlannedStep,
  type RemovalPermit,
  type StepRecord,
  type UserSyncInput,
  type UserSyncResult,
  type UserSyncStatus,
} from './api';
import { describeIssues, eventSchemas, loadZod, type DirectoryEvent } from './events';
import { describeFailure, permanentFailureOf, type StepFailure } from './failures';
import { planSteps, takesAway, type MappingSnapshot, type Step } from './planner';
import { GITBOOK_ACTIVITY_OPTIONS, MAPPING_ACTIVITY_OPTIONS, MAX_HISTORY_EVENTS, SEEN_EVENT_IDS_LIMIT, STEP_HISTORY_LIMIT } from './policies';
import { applyDirectoryEvent, emptyDesiredState } from './state';
import { offboardUserWorkflow, onboardUserWorkflow, setUserRoleWorkflow, updateUserTeamsWorkflow } from './steps';

const { resolveMapping } = proxyLocalActivities<MappingActivities>(MAPPING_ACTIVITY_OPTIONS);
const { requestRemoval } = proxyActivities<GuardActivities>(GITBOOK_ACTIVITY_OPTIONS);

/** Built when a run starts, not when the module loads (see {@link loadZod}). */
function userSyncInputSchema() {
  const { z } = loadZod();
  const { userId, event } = eventSchemas();
  return z.object({
    userId,
    events: z.array(event).max(1_000).optional(),
    carried: z.custom<CarriedState>((value) => typeof value === 'object' && value !== null).optional(),
  });
}

/** Fails the run at once, naming the field: for input that no retry can fix. */
function invalidInput(what: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'InvalidInput', message: `${what}: ${message}`, nonRetryable: true });
}

/** Keeps one directory user's GitBook membership, role and teams equal to what the directory says. */
export async function userSyncWorkflow(rawInput: UserSyncInput): Promise<UserSyncResult> {
  const parsed = userSyncInputSchema().safeParse(rawInput);
  if (!parsed.success) throw invalidInput('invalid workflow input', describeIssues(parsed.error));
  const input = parsed.data;

  const expectedId = userWorkflowId(input.userId);
  if (workflowInfo().workflowId !== expectedId) {
    throw invalidInput('invalid workflow id', `must be ${expectedId} for user ${input.userId}`);
  }

  const sync = new UserSync(input.userId, input.carried);
  setHandler(directoryEventSignal, (raw) => sync.receive(raw));
  setHandler(cancelSignal, (request?: CancelRequest) => sync.requestCancel(request));
  setHandler(statusQuery, () => sync.status());
  setHandler(removalDecisionSignal, (decision) => sync.decide(decision.requestId, decision.approved));

  for (const event of input.events ?? []) sync.receive(event);
  return await sync.run();
}

class UserSync {
  private readonly desired: DesiredState;
  private readonly actual: ActualState;
  private readonly seenEventIds: string[];
  private readonly seen: Set<string>;
  private readonly history: StepRecord[];
  private readonly failedKeys: Set<string>;
  private eventsApplied: number;
  private eventsIgnored: number;
  private stepCount: number;
  private removalPermit?: RemovalPermit;
  private waitingFor?: string;

  private dirty = true;
  private mapping?: MappingSnapshot;
  private pending: PlannedStep[] = [];
  private running?: { step: Step; scope: CancellationScope; supersededBy?: string };
  private cancelRequest?: CancelRequest;
  private lastError?: UserSyncStatus['lastError'];
  /** The first invalid event of a run that has applied nothing: a hand-started run with bad JSON. */
  private rejectedFirstEvent?: string;
  /** Workflow time of the last event that changed the desired state. */
  private lastChangeAt = 0;
  /** When the step now planned was first held back to let events settle. */
  private settlingSince?: number;

  constructor(
    private readonly userId: string,
    carried?: CarriedState,
  ) {
    this.desired = carried?.desired ?? emptyDesiredState();
    this.actual = carried?.actual ?? { membership: 'unknown', teams: {} };
    this.seenEventIds = carried?.seenEventIds ?? [];
    this.seen = new Set(this.seenEventIds);
    this.history = carried?.history ?? [];
    this.failedKeys = new Set(carried?.failedKeys ?? []);
    this.eventsApplied = carried?.eventsApplied ?? 0;
    this.eventsIgnored = carried?.eventsIgnored ?? 0;
    this.stepCount = carried?.stepCount ?? 0;
    this.removalPermit = carried?.removalPermit;
  }

  /** Signal handler: the removal circuit breaker's answer. */
  decide(requestId: string, approved: boolean): void {
    if (this.removalPermit?.requestId === requestId) this.removalPermit.approved = approved;
  }

  /** Signal handler: validates, deduplicates and applies one event. Never throws. */
  receive(raw: unknown): void {
    const parsed = eventSchemas().event.safeParse(raw);
    if (!parsed.success) return this.ignore(`invalid directory event: ${describeIssues(parsed.error)}`);

    const event = parsed.data;
    if (event.userId !== this.userId) {
      return this.ignore(`invalid directory event: userId: is ${event.userId}, this workflow is for ${this.userId}`);
    }
    if (this.seen.has(event.id)) {
      log.info('duplicate event ignored', { eventId: event.id });
      return;
    }

    this.remember(event.id);
    this.eventsApplied++;
    const changed = applyDirectoryEvent(this.desired, event);
    log.info('event applied', { eventId: event.id, kind: event.kind, source: event.source, changed });
    if (!changed) return;

    this.dirty = true;
    this.lastChangeAt = Date.now();
    this.failedKeys.clear();
    this.supersedeRunningStep(event);
  }

  /** Signal handler: stop pending work and end with a result that says what was and was not done. */
  requestCancel(request: CancelRequest = {}): void {
    this.cancelRequest = { reason: request.reason ?? 'cancel signal' };
    this.running?.scope.cancel();
  }

  status(): UserSyncStatus {
    return {
      userId: this.userId,
      desired: this.desired,
      actual: this.actual,
      running: this.running && this.planned(this.running.step),
      pending: this.pending,
      history: this.history,
      lastError: this.lastError,
      eventsApplied: this.eventsApplied,
      eventsIgnored: this.eventsIgnored,
      waitingFor: this.waitingFor,
    };
  }

  async run(): Promise<UserSyncResult> {
    try {
      return await this.loop();
    } catch (err) {
      if (isCancellation(err)) {
        log.info('workflow cancelled', { done: this.history.length, pending: this.pending.length });
        this.tag({ outcome: 'cancelled' });
      }
      throw err;
    }
  }

  private async loop(): Promise<UserSyncResult> {
    for (;;) {
      if (this.rejectedFirstEvent && this.eventsApplied === 0) {
        throw invalidInput('rejected', this.rejectedFirstEvent);
      }
      if (this.cancelRequest) return this.finish('cancelled', this.cancelRequest.reason);

      if (this.dirty || !this.mapping) {
        this.dirty = false;
        const first = !this.mapping;
        this.mapping = await resolveMapping({ groups: this.knownGroups() });
        if (first) this.tag({ userId: this.userId });
      }

      const plan = planSteps(this.desired, this.actual, this.mapping, this.failedKeys);
      this.pending = plan.steps.map((step) => this.planned(step));
      const next = plan.steps[0];
      this.waitingFor = plan.waitingFor;
      if (next && (await this.settling(next))) continue;
      if (next && !(await this.mayRun(next))) continue;
      if (next) {
        this.settlingSince = undefined;
        await this.runStep(next);
        continue;
      }
      this.settlingSince = undefined;
      this.describe(plan.waitingFor);
      this.tag({ outcome: this.failedKeys.size > 0 ? this.lastOutcome() : 'in-sync' });

      if (this.shouldContinueAsNew()) {
        await condition(allHandlersFinished);
        return await continueAsNew<typeof userSyncWorkflow>({ userId: this.userId, carried: this.carried() });
      }

      const wake = () => this.dirty || this.cancelRequest !== undefined || this.rejectedFirstEvent !== undefined;
      if (this.desired.active?.value === false && this.actual.membership === 'not-member') {
        // Offboarded and converged: stay a while so a late redelivery is recognised, then end.
        const woken = await condition(wake, this.mapping.retainAfterOffboardMs);
        if (!woken) return this.finish('converged');
        continue;
      }
      await condition(() => wake() || workflowInfo().continueAsNewSuggested);
    }
  }

  /**
   * Before taking something away (a lower role, leaving a team), wait until the person's events have
   * been quiet for `settleMs`: a move between groups often arrives as remove-then-add. Waits at most
   * ten quiet periods in all, so a directory that never settles still gets its changes. Returns true
   * when it waited (plan again).
   */
  private async settling(step: Step): Promise<boolean> {
    const settleMs = this.mapping?.settleMs ?? 0;
    if (settleMs <= 0 || !takesAway(step, this.actual)) return false;
    const now = Date.now();
    this.settlingSince ??= now;
    const wait = Math.min(this.lastChangeAt + settleMs, this.settlingSince + 10 * settleMs) - now;
    if (wait <= 0) return false;
    await condition(() => this.dirty || this.cancelRequest !== undefined, wait);
    return true;
  }

  /**
   * Removals go through the organization's circuit breaker when it is on: the first time, ask; then
   * wait for the grant, a change of the directory (the next plan may not remove at all) or a cancel.
   * Returns true when the step may run now.
   */
  private async mayRun(step: Step): Promise<boolean> {
    if (step.kind !== 'offboard' || !this.mapping?.removalBreaker) {
      this.removalPermit = undefined;
      return true;
    }
    if (!this.removalPermit) {
      this.removalPermit = { requestId: uuid4(), approved: false };
      const { workflowId } = workflowInfo();
      await requestRemoval({ requestId: this.removalPermit.requestId, workflowId, userId: this.userId });
    }
    if (this.removalPermit.approved) return true;

    this.waitingFor = 'the removal circuit breaker to let this removal through (an operator may need to approve)';
    this.describe(this.waitingFor);
    await condition(() => this.removalPermit?.approved === true || this.dirty || this.cancelRequest !== undefined);
    this.waitingFor = undefined;
    return false;
  }

  private async runStep(step: Step): Promise<void> {
    const scope = new CancellationScope();
    this.running = { step, scope };
    const childId = `${workflowInfo().workflowId}/${step.kind}-${++this.stepCount}`;
    this.tag({ change: step.kind, outcome: 'running' });
    this.describe();

    try {
      await scope.run(() => this.executeStep(step, childId));
      if (step.kind === 'offboard') this.removalPermit = undefined;
      this.record(step, 'done');
    } catch (err) {
      if (isCancellation(err) && (this.cancelRequest || this.running.supersededBy)) {
        this.markUncertain(step);
        this.record(step, 'cancelled', this.cancelRequest?.reason ?? `superseded by ${this.running.supersededBy}`);
        return;
      }
      if (isCancellation(err)) {
        this.markUncertain(step);
        throw err;
      }

      const failure = describeFailure(err);
      if (!permanentFailureOf(err)) throw err;
      this.failedKeys.add(step.key);
      this.fail(step, failure);
    } finally {
      this.running = undefined;
    }
  }

  private async executeStep(step: Step, workflowId: string): Promise<void> {
    const child = { workflowId, staticSummary: step.description };
    switch (step.kind) {
      case 'onboard': {
        this.actual.addresses = [...new Set([...(this.actual.addresses ?? []), step.input.email])];
        const result = await executeChild(onboardUserWorkflow, { ...child, args: [step.input] });
        this.actual.membership = 'member';
        this.actual.gitbookUserId = result.gitbookUserId;
        // Someone who was a member already keeps their old role until the next plan sets it.
        this.actual.role = result.roleApplied ? step.input.role : undefined;
        for (const teamId of result.teamIds) this.actual.teams[teamId] = 'in';
        this.failParts(step, result.failures);
        return;
      }
      case 'set-role': {
        const result = await executeChild(setUserRoleWorkflow, { ...child, args: [step.input] });
        this.actual.gitbookUserId = result.gitbookUserId;
        this.actual.role = step.input.role;
        return;
      }
      case 'update-teams': {
        const result = await executeChild(updateUserTeamsWorkflow, { ...child, args: [step.input] });
        for (const change of result.applied) this.actual.teams[change.teamId] = change.action === 'add' ? 'in' : 'out';
        this.failParts(step, result.failures);
        return;
      }
      case 'offboard': {
        const result = await executeChild(offboardUserWorkflow, { ...child, args: [step.input] });
        if (result.outcome === 'pending-approval') {
          this.failedKeys.add(step.key);
          this.fail(step, { type: 'ApprovalRequired', message: 'GitBook sent the removal to an admin for approval' });
          return;
        }
        this.actual.membership = 'not-member';
        this.actual.role = undefined;
        this.actual.gitbookUserId = undefined;
        this.actual.addresses = [];
        for (const teamId of Object.keys(this.actual.teams)) this.actual.teams[teamId] = 'out';
        return;
      }
    }
  }

  /**
   * A newer event can make the running step pointless or harmful: an offboarding while an invite is
   * still retrying, or a reactivation during a removal. Cancel it; the next plan does the right thing.
   */
  private supersedeRunningStep(event: DirectoryEvent): void {
    const running = this.running;
    if (!running) return;
    const active = this.desired.active?.value;
    const removing = running.step.kind === 'offboard';
    if ((active === false && !removing) || (active === true && removing)) {
      running.supersededBy = `${event.kind} ${event.id}`;
      running.scope.cancel();
    }
  }

  /** After a step was cancelled midway, what it touched in GitBook is unknown until checked. */
  private markUncertain(step: Step): void {
    switch (step.kind) {
      case 'onboard':
      case 'offboard':
        this.actual.membership = 'unknown';
        // The id may be of a membership removed earlier: find the person by address instead.
        if (step.kind === 'onboard') this.actual.gitbookUserId = undefined;
        break;
      case 'set-role':
        this.actual.role = undefined;
        break;
      case 'update-teams':
        for (const change of step.input.changes) this.actual.teams[change.teamId] = 'unknown';
        break;
    }
    if (step.kind === 'onboard') for (const teamId of step.input.teamIds) this.actual.teams[teamId] = 'unknown';
  }

  private failParts(step: Step, failures: StepFailure[]): void {
    for (const failure of failures) {
      this.failedKeys.add(failure.key);
      this.fail(step, failure);
    }
  }

  private fail(step: Step, failure: { type: string; message: string }): void {
    this.lastError = { step: step.kind, type: failure.type, message: failure.message, at: new Date().toISOString() };
    const outcome = failure.type === 'ApprovalRequired' ? 'needs-approval' : 'failed';
    this.record(step, outcome, `${failure.type}: ${failure.message}`);
    log.warn('step failed', { step: step.kind, type: failure.type });
  }

  private record(step: Step, outcome: StepRecord['outcome'], detail?: string): void {
    // A step whose parts failed is recorded once as failed, not also as done.
    const last = this.history[this.history.length - 1];
    if (outcome === 'done' && last && last.description === step.description && last.outcome !== 'done') return;
    this.history.push({ kind: step.kind, description: step.description, outcome, detail, at: new Date().toISOString() });
    if (this.history.length > STEP_HISTORY_LIMIT) this.history.splice(0, this.history.length - STEP_HISTORY_LIMIT);
  }

  private ignore(reason: string): void {
    this.eventsIgnored++;
    this.lastError = { step: 'receive', type: 'InvalidEvent', message: reason, at: new Date().toISOString() };
    if (this.eventsApplied === 0 && !this.rejectedFirstEvent) this.rejectedFirstEvent = reason;
    log.warn('event rejected', { reason });
  }

  private remember(eventId: string): void {
    this.seen.add(eventId);
    this.seenEventIds.push(eventId);
    if (this.seenEventIds.length > SEEN_EVENT_IDS_LIMIT) {
      for (const old of this.seenEventIds.splice(0, this.seenEventIds.length - SEEN_EVENT_IDS_LIMIT)) {
        this.seen.delete(old);
      }
    }
  }

  private knownGroups() {
    return Object.entries(this.desired.groups).map(([id, membership]) => ({ id, name: membership.name }));
  }

  private planned(step: Step): PlannedStep {
    return { kind: step.kind, key: step.key, description: step.description };
  }

  private shouldContinueAsNew(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS;
  }

  private carried(): CarriedState {
    return {
      desired: this.desired,
      actual: this.actual,
      seenEventIds: this.seenEventIds,
      history: this.history,
      failedKeys: [...this.failedKeys],
      eventsApplied: this.eventsApplied,
      eventsIgnored: this.eventsIgnored,
      stepCount: this.stepCount,
      removalPermit: this.removalPermit,
    };
  }

  /** Sets search attributes when the worker says they are registered. */
  private tag(values: { userId?: string; change?: string; outcome?: string }): void {
    if (!this.mapping?.searchAttributes) return;
    const updates = [];
    if (values.userId) updates.push({ key: directoryUserIdAttribute, value: values.userId });
    if (values.change) updates.push({ key: changeAttribute, value: values.change });
    if (values.outcome) updates.push({ key: outcomeAttribute, value: values.outcome });
    upsertSearchAttributes(updates);
  }

  private lastOutcome(): string {
    const last = this.history[this.history.length - 1];
    return last?.outcome === 'needs-approval' ? 'needs-approval' : 'failed';
  }

  /** The Web UI's "current details": who, what GitBook has, what runs, what is pending, what failed. */
  private describe(waitingFor?: string): void {
    const email = this.desired.email?.value ?? 'email unknown';
    const teams = Object.entries(this.actual.teams)
      .filter(([, state]) => state === 'in')
      .map(([teamId]) => teamId);
    const lines = [
      `**${email}** (directory user \`${this.userId}\`)`,
      `- directory: ${this.desired.active === undefined ? 'no lifecycle event yet' : this.desired.active.value ? 'active' : 'deactivated'}`,
      `- GitBook: ${this.actual.membership}${this.actual.gitbookUserId ? ` \`${this.actual.gitbookUserId}\`` : ''}` +
        `${this.actual.role ? `, role ${this.actual.role}` : ''}${teams.length ? `, teams ${teams.join(', ')}` : ''}`,
    ];
    if (this.running) lines.push(`- running: ${this.running.step.description}`);
    if (this.pending.length > 1) lines.push(`- pending: ${this.pending.slice(1).map((s) => s.description).join('; ')}`);
    if (waitingFor) lines.push(`- waiting for ${waitingFor}`);
    if (this.lastError) lines.push(`- last error (${this.lastError.step}): ${this.lastError.type}: ${this.lastError.message}`);
    setCurrentDetails(lines.join('\n'));
  }

  private finish(outcome: UserSyncResult['outcome'], reason?: string): UserSyncResult {
    log.info('user workflow finished', { outcome });
    this.tag({ outcome });
    this.describe();
    return {
      userId: this.userId,
      outcome,
      reason,
      done: this.history.filter((record) => record.outcome === 'done'),
      notDone: this.pending,
      actual: this.actual,
    };
  }
}
