/**
 * Injected failures, so a client's retries can be tested against the sandbox: error statuses, slow
 * answers, dropped connections and surprise rate limits. Faults wait in a queue and are consumed in
 * the order they were injected, each by the requests it matches.
 */

/** Which requests a fault applies to; an absent field matches every request. */
export interface FaultMatch {
  /** HTTP method, any case. */
  method?: string;
  /** A piece of the request path, e.g. `/invites` or `/members/u_123`. */
  pathIncludes?: string;
}

interface FaultBase {
  /** How many matching requests the fault applies to. @default 1 */
  times?: number;
  match?: FaultMatch;
}

/** Answer with this status and GitBook's error body. */
export interface StatusFault extends FaultBase {
  kind: 'status';
  status: number;
}

/** Wait this long, then handle the request normally. */
export interface DelayFault extends FaultBase {
  kind: 'delay';
  delayMs: number;
}

/** Destroy the connection without answering. */
export interface ResetFault extends FaultBase {
  kind: 'reset';
}

/** Answer 429 with `X-RateLimit-Remaining: 0` and a reset `resetInMs` from now. */
export interface RateLimitFault extends FaultBase {
  kind: 'rate-limit';
  resetInMs: number;
}

/** A failure to inject into the sandbox. */
export type SandboxFault = StatusFault | DelayFault | ResetFault | RateLimitFault;

interface PendingFault {
  fault: SandboxFault;
  remaining: number;
}

/** The queue of faults not yet used up. */
export class FaultQueue {
  #pending: PendingFault[] = [];

  /**
   * Queues a fault behind those already waiting.
   *
   * @throws RangeError when a count, status or duration is out of range.
   */
  inject(fault: SandboxFault): void {
    const times = fault.times ?? 1;
    if (!Number.isInteger(times) || times < 1) {
      throw new RangeError(`fault.times must be a positive integer, got ${times}`);
    }
    checkFault(fault);
    this.#pending.push({ fault: structuredClone(fault), remaining: times });
  }

  /** Drops every waiting fault. */
  clear(): void {
    this.#pending = [];
  }

  /** Consumes one use of the first waiting fault that matches the request, and returns it. */
  take(method: string, path: string): SandboxFault | undefined {
    const index = this.#pending.findIndex(({ fault }) => matches(fault.match, method, path));
    const pending = this.#pending[index];
    if (pending === undefined) {
      return undefined;
    }

    pending.remaining -= 1;
    if (pending.remaining === 0) {
      this.#pending.splice(index, 1);
    }
    return pending.fault;
  }
}

function checkFault(fault: SandboxFault): void {
  switch (fault.kind) {
    case 'status':
      if (!Number.isInteger(fault.status) || fault.status < 400 || fault.status > 599) {
        throw new RangeError(`a status fault needs a status from 400 to 599, got ${fault.status}`);
      }
      return;
    case 'delay':
      if (!Number.isFinite(fault.delayMs) || fault.delayMs < 0) {
        throw new RangeError(`a delay fault needs delayMs >= 0, got ${fault.delayMs}`);
      }
      return;
    case 'rate-limit':
      if (!Number.isFinite(fault.resetInMs) || fault.resetInMs < 0) {
        throw new RangeError(`a rate-limit fault needs resetInMs >= 0, got ${fault.resetInMs}`);
      }
      return;
    case 'reset':
      return;
  }
}

function matches(match: FaultMatch | undefined, method: string, path: string): boolean {
  if (match?.method !== undefined && match.method.toUpperCase() !== method.toUpperCase()) {
    return false;
  }
  return match?.pathIncludes === undefined || path.includes(match.pathIncludes);
}
