/** Settings read from the environment: defaults, and a clear error naming a bad variable. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config';
import { DEFAULT_MAX_CONCURRENT_HANDOFFS, DEFAULT_MAX_GROUP_EVENTS, DEFAULT_MAX_QUEUED_EVENTS } from '../src/receiver';

describe('loadConfig', () => {
  it("gives the receiver's hand-off bounds their documented defaults", () => {
    const config = loadConfig({});

    expect(config.HOOK_MAX_CONCURRENT_HANDOFFS).toBe(DEFAULT_MAX_CONCURRENT_HANDOFFS);
    expect(config.HOOK_MAX_GROUP_EVENTS).toBe(DEFAULT_MAX_GROUP_EVENTS);
    expect(config.HOOK_MAX_QUEUED_EVENTS).toBe(DEFAULT_MAX_QUEUED_EVENTS);
    expect([DEFAULT_MAX_CONCURRENT_HANDOFFS, DEFAULT_MAX_GROUP_EVENTS, DEFAULT_MAX_QUEUED_EVENTS]).toEqual([4, 2_000, 8_000]);
  });

  it('reads them from the environment', () => {
    const config = loadConfig({ HOOK_MAX_CONCURRENT_HANDOFFS: '8', HOOK_MAX_GROUP_EVENTS: '500', HOOK_MAX_QUEUED_EVENTS: '20000' });

    expect([config.HOOK_MAX_CONCURRENT_HANDOFFS, config.HOOK_MAX_GROUP_EVENTS, config.HOOK_MAX_QUEUED_EVENTS]).toEqual([8, 500, 20_000]);
  });

  it.each([
    ['HOOK_MAX_CONCURRENT_HANDOFFS', '0'],
    ['HOOK_MAX_GROUP_EVENTS', '20001'],
    ['HOOK_MAX_QUEUED_EVENTS', 'lots'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^invalid settings: ${name}: `));
  });
});

describe('a process started with a bad setting', () => {
  it('exits 1 before listening, with one line that names the variable and no stack trace', async () => {
    const receiverMain = join(__dirname, '..', 'dist', 'src', 'receiver-main.js');

    const result = await new Promise<{ code: number | null; stdout: string }>((done) => {
      const child = execFile(
        process.execPath,
        [receiverMain],
        { env: { PATH: process.env.PATH, HOOK_ALLOW_INSECURE: 'true', HOOK_HOST: '127.0.0.1', HOOK_PORT: '0', HOOK_MAX_GROUP_EVENTS: '0' }, timeout: 20_000 },
        (_error, stdout) => done({ code: child.exitCode, stdout }),
      );
    });

    expect(result.code).toBe(1);
    const lines = result.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 60, code: 'CONFIG_INVALID' });
    expect(lines[0].msg).toMatch(/^invalid settings: HOOK_MAX_GROUP_EVENTS: /);
    expect(lines[0]).not.toHaveProperty('err');
    expect(JSON.stringify(lines[0])).not.toContain('stack');
  });
});
