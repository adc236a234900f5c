/** Reading failures that crossed activity and child-workflow boundaries. Deterministic helpers. */
import { ApplicationFailure, TemporalFailure } from '@temporalio/workflow';

/** A permanent failure of one part of a step, remembered so it is not retried until the directory changes. */
export interface StepFailure {
  key: string;
  type: string;
  message: string;
}

/** The innermost failure of a chain (child workflow -> activity -> application failure). */
export function rootFailure(err: unknown): unknown {
  let current = err;
  while (current instanceof TemporalFailure && current.cause) current = current.cause;
  return current;
}

/** Type and message of the root cause, for status and results. */
export function describeFailure(err: unknown): { type: string; message: string } {
  const root = rootFailure(err);
  if (root instanceof ApplicationFailure) return { type: root.type ?? 'ApplicationFailure', message: root.message };
  if (root instanceof Error) return { type: root.name, message: root.message };
  return { type: 'Error', message: String(root) };
}

/** The type and message when `err` is a non-retryable application failure; undefined otherwise. */
export function permanentFailureOf(err: unknown): { type: string; message: string } | undefined {
  const root = rootFailure(err);
  if (root instanceof ApplicationFailure && root.nonRetryable) {
    return { type: root.type ?? 'ApplicationFailure', message: root.message };
  }
  return undefined;
}
