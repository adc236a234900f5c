/**
 * What became of each event of a delivery, and the report the receiver answers with. Both hook
 * routes map every incoming event to an {@link EventOutcome}; {@link collectBatch} then drops
 * repeats inside the batch and counts everything, so the answer always adds up:
 * `received = accepted + duplicates + ignored + rejected`.
 */
import type { z } from 'zod';
import type { DirectoryEvent } from '../../workflows/events';
import type { FieldIssue } from './errors';

/** The fate of one incoming event. */
export type EventOutcome =
  | { kind: 'accepted'; event: DirectoryEvent }
  | { kind: 'ignored'; id?: string; eventType?: string; reason: string }
  | { kind: 'rejected'; id?: string; issues: FieldIssue[] };

export interface IgnoredEvent {
  index: number;
  id?: string;
  reason: string;
}

export interface RejectedEvent {
  index: number;
  id?: string;
  issues: FieldIssue[];
}

/** The JSON answer to a delivery that was handled (2xx). */
export interface DeliveryReport {
  received: number;
  /** Events now held by their users' workflows. */
  accepted: number;
  /** Exact repeats of an earlier event of the same batch, dropped. */
  duplicates: number;
  /** Events we understood and chose not to act on (unsupported type, unmapped group...). */
  ignored: number;
  /** Events that failed validation; the fields are named in `rejectedEvents`. */
  rejected: number;
  ignoredEvents: IgnoredEvent[];
  rejectedEvents: RejectedEvent[];
}

/** A path (body root first) as the dot-separated field name used in answers. */
export function fieldName(path: readonly PropertyKey[]): string {
  return path.length ? path.map(String).join('.') : '(root)';
}

/**
 * The issues of a zod error, each field named from the body's root (`prefix` leads to the value
 * parsed). An unknown field is named itself rather than its parent object.
 */
export function issuesOf(error: z.ZodError, prefix: readonly PropertyKey[] = []): FieldIssue[] {
  return error.issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: fieldName([...path, key]), reason: 'is not a known field' }));
    }
    return [{ field: fieldName(path), reason: issue.message }];
  });
}

/**
 * Keeps the accepted events in arrival order, minus exact repeats, and builds the report.
 *
 * An event whose id repeats an earlier one with different content is rejected rather than dropped:
 * the workflow would treat it as a redelivery and ignore it, so the sender must hear about it.
 * `idField` names the id's field for event `index` (`data.events.3.uuid`, `events.3.id`).
 */
export function collectBatch(
  outcomes: readonly EventOutcome[],
  idField: (index: number) => string,
): { events: DirectoryEvent[]; report: DeliveryReport } {
  const events: DirectoryEvent[] = [];
  const firstById = new Map<string, { index: number; json: string }>();
  const report: DeliveryReport = {
    received: outcomes.length,
    accepted: 0,
    duplicates: 0,
    ignored: 0,
    rejected: 0,
    ignoredEvents: [],
    rejectedEvents: [],
  };

  outcomes.forEach((outcome, index) => {
    if (outcome.kind === 'ignored') {
      report.ignoredEvents.push({ index, id: outcome.id, reason: outcome.reason });
      return;
    }
    if (outcome.kind === 'rejected') {
      report.rejectedEvents.push({ index, id: outcome.id, issues: outcome.issues });
      return;
    }

    const json = JSON.stringify(outcome.event);
    const first = firstById.get(outcome.event.id);
    if (first?.json === json) {
      report.duplicates++;
      return;
    }
    if (first) {
      const reason = `repeats the id of event ${first.index} with different content`;
      report.rejectedEvents.push({ index, id: outcome.event.id, issues: [{ field: idField(index), reason }] });
      return;
    }

    firstById.set(outcome.event.id, { index, json });
    events.push(outcome.event);
  });

  report.accepted = events.length;
  report.ignored = report.ignoredEvents.length;
  report.rejected = report.rejectedEvents.length;
  return { events, report };
}
