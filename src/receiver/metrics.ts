/**
 * The receiver's own counters for Prometheus (`GET /metrics`): deliveries by route and status,
 * events by outcome, refusals by reason, and how long answers take. One registry per receiver,
 * so several receivers in one process (tests) do not collide.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DeliveryReport } from './batch';

export class ReceiverMetrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'gitbook_sync_hook_requests_total',
    help: 'Hook requests answered, by route and HTTP status',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });

  readonly events = new Counter({
    name: 'gitbook_sync_hook_events_total',
    help: 'Events in hook deliveries, by outcome (accepted, duplicate, ignored, rejected)',
    labelNames: ['route', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly refusals = new Counter({
    name: 'gitbook_sync_hook_refusals_total',
    help: 'Hook requests refused as a whole, by reason (the error code of the answer)',
    labelNames: ['route', 'reason'] as const,
    registers: [this.registry],
  });

  readonly latency = new Histogram({
    name: 'gitbook_sync_hook_response_seconds',
    help: 'Time from request to answer, by route (Okta gives up after 3 s)',
    labelNames: ['route'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'gitbook_sync_receiver_' });
  }

  /** Counts the events of a handled delivery. */
  countReport(route: string, report: DeliveryReport): void {
    this.events.inc({ route, outcome: 'accepted' }, report.accepted);
    this.events.inc({ route, outcome: 'duplicate' }, report.duplicates);
    this.events.inc({ route, outcome: 'ignored' }, report.ignored);
    this.events.inc({ route, outcome: 'rejected' }, report.rejected);
  }
}
