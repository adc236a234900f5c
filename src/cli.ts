#!/usr/bin/env node
/**
 * `gitbook-sync`: the operator's command line. Each command validates its arguments, turns them into
 * directory events and hands them to the user's workflow, exactly as the hook receiver does.
 */
import { randomUUID } from 'node:crypto';
import { Command, CommanderError, Option } from 'commander';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import {
  REMOVAL_GUARD_WORKFLOW_ID,
  batcherWorkflowId,
  approveRemovalsSignal,
  cancelSignal,
  removalGuardStatusQuery,
  statusQuery,
  userWorkflowId,
} from '../workflows/api';
import { describeIssues, eventSchemas, type DirectoryEvent, type DirectoryEventInput } from '../workflows/events';
import { ConfigError, loadConfig } from './config';
import { submitDirectoryEvents } from './submit';
import { dataConverterFor } from './codec';
import { connectClient, resolveTemporalTarget } from './temporal/connection';

/** A command-line argument that does not validate; exits with code 2. */
export class UsageError extends Error {
  readonly code = 'CLI_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

interface EventOptions {
  user: string;
  email?: string;
  name?: string;
  group?: string[];
  eventId?: string;
  at?: string;
}

function buildEvent(fields: Omit<DirectoryEventInput, 'id' | 'occurredAt' | 'source'>, options: EventOptions, index = 0) {
  const raw: DirectoryEventInput = {
    ...fields,
    id: options.eventId ? (index === 0 ? options.eventId : `${options.eventId}#${index}`) : `cli-${randomUUID()}`,
    occurredAt: options.at ?? new Date().toISOString(),
    source: 'cli',
  };
  const parsed = eventSchemas().event.safeParse(raw);
  if (!parsed.success) {
    const message = describeIssues(parsed.error).replace(/\bid\b/, 'event-id').replace('occurredAt', 'at');
    throw new UsageError(`invalid arguments: ${message}`);
  }
  return parsed.data;
}

function checkUserId(userId: string): void {
  const parsed = eventSchemas().userId.safeParse(userId);
  if (!parsed.success) throw new UsageError(`invalid arguments: user: ${parsed.error.issues[0]?.message}`);
}

const userOption = () => new Option('-u, --user <id>', 'directory user id (e.g. Okta 00u...)').makeOptionMandatory();
const eventOptions = (command: Command) =>
  command
    .option('--event-id <id>', 'event id, for idempotent retries of this command (default: a new id)')
    .option('--at <time>', 'when the change happened in the directory, ISO 8601 (default: now)');

/** Builds the program; `connect` is called only by commands that talk to Temporal. */
export function buildProgram(connect: () => Promise<{ client: Client; taskQueue: string }>, print = console.log) {
  const program = new Command('gitbook-sync')
    .description('Start, inspect and cancel GitBook directory sync workflows on Temporal')
    .showHelpAfterError()
    .exitOverride();

  const submit = async (events: DirectoryEvent[]) => {
    const { client, taskQueue } = await connect();
    const submitted = await submitDirectoryEvents(client, taskQueue, events);
    print(JSON.stringify({ workflowId: submitted[0]?.workflowId, events: submitted.map((s) => s.eventId) }, null, 2));
  };

  eventOptions(
    program
      .command('onboard')
      .description('invite a person to the GitBook organization (and add them to the teams of their groups)')
      .addOption(userOption())
      .requiredOption('-e, --email <email>', 'their email address')
      .option('-n, --name <name>', 'display name')
      .option('-g, --group <group...>', 'directory groups they belong to (mapped to teams by SYNC_CONFIG)'),
  ).action(async (options: EventOptions) => {
    const events = [buildEvent({ kind: 'user.activated', userId: options.user, email: options.email, displayName: options.name }, options)];
    (options.group ?? []).forEach((group, i) =>
      events.push(
        buildEvent({ kind: 'group.member_added', userId: options.user, email: options.email, group: { id: group, name: group } }, options, i + 1),
      ),
    );
    await submit(events);
  });

  eventOptions(
    program
      .command('offboard')
      .description('remove a person from the GitBook organization')
      .addOption(userOption())
      .option('-e, --email <email>', 'their email, to find them when their GitBook id is not known yet'),
  ).action(async (options: EventOptions) => {
    await submit([buildEvent({ kind: 'user.deactivated', userId: options.user, email: options.email }, options)]);
  });

  for (const [name, kind, verb] of [
    ['join', 'group.member_added', 'add a person to a directory group (and its GitBook teams)'],
    ['leave', 'group.member_removed', 'remove a person from a directory group (and its GitBook teams)'],
  ] as const) {
    eventOptions(
      program
        .command(name)
        .description(verb)
        .addOption(userOption())
        .requiredOption('-g, --group <group>', 'directory group id or name')
        .option('-e, --email <email>', 'their email address'),
    ).action(async (options: EventOptions & { group: string }) => {
      // The value is matched as a group id or a group name, as the mapping file allows.
      const group = { id: options.group, name: options.group };
      await submit([buildEvent({ kind, userId: options.user, email: options.email, group }, options)]);
    });
  }

  eventOptions(
    program
      .command('move')
      .description('move a person from one directory group to another, as one change (no role lost on the way)')
      .addOption(userOption())
      .requiredOption('--from <group>', 'the group they leave (id or name)')
      .requiredOption('--to <group>', 'the group they join (id or name)')
      .option('-e, --email <email>', 'their email address'),
  ).action(async (options: EventOptions & { from: string; to: string }) => {
    // Both halves in one hand-off: the person's workflow plans them together (see settleMs).
    await submit([
      buildEvent({ kind: 'group.member_removed', userId: options.user, email: options.email, group: { id: options.from, name: options.from } }, options),
      buildEvent({ kind: 'group.member_added', userId: options.user, email: options.email, group: { id: options.to, name: options.to } }, options, 1),
    ]);
  });

  program
    .command('status')
    .description("show a user's sync state: GitBook id, teams, pending steps, last error")
    .addOption(userOption())
    .action(async (options: { user: string }) => {
      checkUserId(options.user);
      const { client } = await connect();
      const status = await client.workflow.getHandle(userWorkflowId(options.user)).query(statusQuery);
      print(JSON.stringify(status, null, 2));
    });

  program
    .command('cancel')
    .description("stop a user's pending work; the workflow ends with a result saying what was done")
    .addOption(userOption())
    .option('-r, --reason <text>', 'why, for the record')
    .action(async (options: { user: string; reason?: string }) => {
      checkUserId(options.user);
      const { client } = await connect();
      const handle = client.workflow.getHandle(userWorkflowId(options.user));
      await handle.signal(cancelSignal, { reason: options.reason ?? 'cancelled from the CLI' });
      print(JSON.stringify({ workflowId: handle.workflowId, signalled: 'cancel' }, null, 2));
    });

  program
    .command('removals')
    .description('show the removal circuit breaker: paused or not, removals held for approval')
    .action(async () => {
      const { client, taskQueue } = await connect();
      const guardId = batcherWorkflowId(REMOVAL_GUARD_WORKFLOW_ID, taskQueue);
      const status = await client.workflow.getHandle(guardId).query(removalGuardStatusQuery);
      print(JSON.stringify(status, null, 2));
    });

  program
    .command('approve-removals')
    .description('let the held removals through and start a new window (after checking they are right)')
    .requiredOption('--by <name>', 'who approves, for the record')
    .action(async (options: { by: string }) => {
      const { client, taskQueue } = await connect();
      const guardId = batcherWorkflowId(REMOVAL_GUARD_WORKFLOW_ID, taskQueue);
      await client.workflow.getHandle(guardId).signal(approveRemovalsSignal, { approvedBy: options.by });
      print(JSON.stringify({ workflowId: guardId, signalled: 'approveRemovals' }, null, 2));
    });

  return program;
}

/** Runs the CLI: exit 0 on success, 2 on a usage error, 1 on any other failure. */
export async function main(argv = process.argv): Promise<number> {
  let client: Client | undefined;
  const connect = async () => {
    const config = loadConfig();
    client ??= await connectClient(resolveTemporalTarget(), dataConverterFor(config));
    return { client, taskQueue: config.TEMPORAL_TASK_QUEUE };
  };

  try {
    await buildProgram(connect).parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError || err instanceof ConfigError) {
      console.error(`error: ${err.message}`);
      return 2;
    }
    if (err instanceof WorkflowNotFoundError) {
      console.error(`error: no workflow ${err.workflowId} (nothing was sent for it yet, or it has ended)`);
      return 1;
    }
    console.error(`error: ${describeError(err)}`);
    return 1;
  } finally {
    await client?.connection.close();
  }
}

function describeError(err: unknown): string {
  const parts: string[] = [];
  for (let current = err; current instanceof Error && parts.length < 5; current = current.cause) parts.push(current.message);
  const message = parts.join(': caused by: ') || String(err);
  if (/Failed to connect|ECONNREFUSED|UNAVAILABLE/.test(message)) {
    const address = process.env.TEMPORAL_ADDRESS ?? 'localhost:7233';
    return `${message} (Temporal at ${address}: is it running? Set TEMPORAL_ADDRESS to point elsewhere)`;
  }
  if (/Unknown encoding: binary\/encrypted/.test(message)) {
    return `${message} (these workflows are encrypted: set PAYLOAD_ENCRYPTION_KEYS as the workers have it)`;
  }
  return message;
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
