/**
 * The receiver's own counters for Prometheus (`GET /metrics`): deliveries by route and status,
 * events by outcome, refusals by reason, how long answers take, and how deliveries reach Temporal
 * (calls by path and size, 503s by cause, the queue). One registry per receiver, so several
 * receivers in one process (tests) do not collide.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DeliveryReport } from './batch';
import type { HandoffError } from './errors';
import type { HandoffRecord } from './group-commit';

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

  readonly handoffDeliveries = new Histogram({
    name: 'gitbook_sync_hook_handoff_deliveries',
    help: 'Deliveries held by one call to Temporal, by path (alone, or a group of concurrent deliveries)',
    labelNames: ['path'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    registers: [this.registry],
  });

  readonly handoffEvents = new Histogram({
    name: 'gitbook_sync_hook_handoff_events',
    help: 'Events held by one call to Temporal, by path (alone, or a group of concurrent deliveries)',
    labelNames: ['path'] as const,
    buckets: [1, 5, 20, 50, 100, 250, 500, 1_000, 2_000, 5_000],
    registers: [this.registry],
  });

  readonly handoffRefusals = new Counter({
    name: 'gitbook_sync_hook_handoff_refusals_total',
    help: 'Deliveries answered 503 as their events were not handed over, by reason (timeout, failed, queue-full)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly handoffQueue: Gauge;

  /** @param queuedEvents read at each scrape: events waiting for a slot to Temporal. */
  constructor(queuedEvents: () => number = () => 0) {
    this.handoffQueue = new Gauge({
      name: 'gitbook_sync_hook_handoff_queued_events',
      help: 'Events of deliveries waiting for a call to Temporal',
      registers: [this.registry],
      collect() {
        this.set(queuedEvents());
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'gitbook_sync_receiver_' });
  }

  /** Counts the events of a handled delivery. */
  countReport(route: string, report: DeliveryReport): void {
    this.events.inc({ route, outcome: 'accepted' }, report.accepted);
    this.events.inc({ route, outcome: 'duplicate' }, report.duplicates);
    this.events.inc({ route, outcome: 'ignored' }, report.ignored);
    this.events.inc({ route, outcome: 'rejected' }, report.rejected);
  }

  /** Records a call to Temporal as it starts (a failure shows in the refusals of its deliveries). */
  countHandoff(record: HandoffRecord): void {
    this.handoffDeliveries.observe({ path: record.path }, record.deliveries);
    this.handoffEvents.observe({ path: record.path }, record.events);
  }

  /** Counts a delivery answered 503 because of `error`. */
  countRefusedHandoff(error: HandoffError): void {
    const reasons = { HANDOFF_TIMEOUT: 'timeout', HANDOFF_FAILED: 'failed', HANDOFF_QUEUE_FULL: 'queue-full' } as const;
    this.handoffRefusals.inc({ reason: reasons[error.code] });
  }
}
