/**
 * The process logger: errors are written in full whichever field holds them (the Temporal SDK puts
 * the reason a workflow task failed under `error`, which pino alone would write as `{}`), and
 * secrets are still redacted.
 */
import { Writable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { createLogger } from '../src/logger';

function capture() {
  const lines: Array<Record<string, any>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: createLogger({ name: 'test', level: 'info', destination }) };
}

describe('createLogger', () => {
  it('writes the SDK error field with its type, message and stack', () => {
    const { lines, logger } = capture();
    const failure = ApplicationFailure.create({ type: 'InvalidInput', message: 'events.0.userId: is required', nonRetryable: true });

    logger.warn({ workflowType: 'deliveryWorkflow', error: failure }, 'Workflow failed');

    expect(lines).toHaveLength(1);
    expect(lines[0]!.error).toMatchObject({ type: 'ApplicationFailure', message: 'events.0.userId: is required' });
    expect(lines[0]!.error.stack).toContain('ApplicationFailure');
  });

  it('writes our err field in full too', () => {
    const { lines, logger } = capture();

    logger.error({ err: new TypeError('object is not extensible') }, 'workflow task failed');

    expect(lines[0]!.err).toMatchObject({ type: 'TypeError', message: 'object is not extensible' });
  });

  it('still redacts secrets by path', () => {
    const { lines, logger } = capture();

    logger.info({ token: 'not-for-logs', headers: { authorization: 'Bearer not-for-logs' } }, 'call');

    expect(JSON.stringify(lines[0])).not.toContain('not-for-logs');
    expect(lines[0]!.token).toBe('[redacted]');
    expect(lines[0]!.headers.authorization).toBe('[redacted]');
  });
});
