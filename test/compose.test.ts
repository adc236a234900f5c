/**
 * Checks the container deployment (Dockerfile, docker-compose.yml, deploy/*.env.example) against
 * the app's own code, without Docker: the environment each of our services would get goes through
 * the real config schema, addresses and ports line up, the search attributes the workflows set are
 * the ones registered, and the image holds what the commands run. No container is started here.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { configSchema, loadConfig, requireGitBookSettings, type AppConfig } from '../src/config';
import { loadSyncConfig } from '../src/mapping';
import { resolveTemporalTarget } from '../src/temporal/connection';
import { SEARCH_ATTRIBUTE_KEYS } from '../workflows/api';

const ROOT = join(__dirname, '..');
const COMPOSE_FILE = 'docker-compose.yml';
const APP_SERVICES = ['worker', 'receiver'] as const;
const TEMPORAL_FRONTEND_PORT = 7233;
/** The worker's `shutdownGraceTime` default in src/worker.ts. */
const WORKER_SHUTDOWN_GRACE_MS = 20_000;
const SECRET_NAME = /(TOKEN|SECRET|PASSWORD|PWD|API_KEY)$/;
const PLACEHOLDER = /^replace-with-[a-z0-9-]+$/;

// ---- docker-compose.yml, through a schema of the parts we read ------------------------------------

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const stringOrList = z.union([z.string(), z.array(z.string())]);

const serviceSchema = z.looseObject({
  image: z.string().optional(),
  build: z
    .union([z.string(), z.looseObject({ context: z.string().optional(), dockerfile: z.string().optional() })])
    .optional(),
  command: stringOrList.optional(),
  entrypoint: stringOrList.optional(),
  environment: z.union([z.record(z.string(), scalar.nullable()), z.array(z.string())]).optional(),
  env_file: z
    .union([z.string(), z.array(z.union([z.string(), z.looseObject({ path: z.string() })]))])
    .optional(),
  ports: z.array(z.union([z.string(), z.number()])).optional(),
  depends_on: z
    .union([z.array(z.string()), z.record(z.string(), z.looseObject({ condition: z.string().optional() }).nullable())])
    .optional(),
  healthcheck: z.looseObject({ test: stringOrList.optional(), disable: z.boolean().optional() }).optional(),
  volumes: z
    .array(z.union([z.string(), z.looseObject({ source: z.string().optional(), target: z.string() })]))
    .optional(),
  restart: z.string().optional(),
  stop_grace_period: z.string().optional(),
});

const composeSchema = z.looseObject({ services: z.record(z.string(), serviceSchema) });

type Service = z.infer<typeof serviceSchema>;
type Env = Record<string, string>;

function loadCompose(): z.infer<typeof composeSchema> {
  // Compose reads YAML merge keys (`<<: *anchor`); the yaml package does when asked.
  const document: unknown = parseYaml(readFileSync(join(ROOT, COMPOSE_FILE), 'utf8'), { merge: true });
  const parsed = composeSchema.safeParse(document);
  if (!parsed.success) {
    throw new Error(`${COMPOSE_FILE} does not have the expected shape: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

const compose = loadCompose();

function service(name: string): Service {
  const found = compose.services[name];
  if (!found) {
    throw new Error(`${COMPOSE_FILE} has no service "${name}" (it has ${Object.keys(compose.services).join(', ')})`);
  }
  return found;
}

/** The one service that `matches`, as [name, service]; `what` names it in the error. */
function theService(what: string, matches: (svc: Service) => boolean): [string, Service] {
  const found = Object.entries(compose.services).filter(([, svc]) => matches(svc));
  if (found.length !== 1) {
    const names = found.map(([name]) => name).join(', ') || 'none';
    throw new Error(`expected one service that is ${what} in ${COMPOSE_FILE}, found: ${names}`);
  }
  return found[0]!;
}

const postgresService = () => theService('PostgreSQL (image postgres:*)', (svc) => /^postgres:/.test(svc.image ?? ''));
const temporalService = () =>
  theService('the Temporal server (temporalio/auto-setup or server)', (svc) =>
    /^temporalio\/(auto-setup|server):/.test(svc.image ?? ''),
  );
const uiService = () =>
  theService('the Temporal Web UI (temporalio/ui)', (svc) => /^temporalio\/ui:/.test(svc.image ?? ''));
const searchAttributeService = () =>
  theService('registering search attributes', (svc) => shellText(svc).includes('search-attribute create'));

function envFilesOf(svc: Service): string[] {
  const files = svc.env_file === undefined ? [] : Array.isArray(svc.env_file) ? svc.env_file : [svc.env_file];
  return files.map((file) => (typeof file === 'string' ? file : file.path).replace(/^\.\//, ''));
}

/** The `environment:` map as Compose passes it (list or map form). */
function inlineEnvironmentOf(name: string): Env {
  const environment = service(name).environment ?? {};
  const env: Env = {};
  const entries = Array.isArray(environment)
    ? environment.map((item): [string, string | null] => {
        const at = item.indexOf('=');
        return at < 0 ? [item, null] : [item.slice(0, at), item.slice(at + 1)];
      })
    : Object.entries(environment);
  for (const [key, value] of entries) {
    // Without a value Compose copies the variable from the shell that runs it: not reproducible.
    if (value === null) {
      throw new Error(`${name}: ${key} has no value in ${COMPOSE_FILE}; it would come from the shell`);
    }
    const text = String(value);
    if (text.includes('$')) {
      throw new Error(`${name}: ${key}=${text} uses Compose interpolation, which this test cannot follow`);
    }
    env[key] = text;
  }
  return env;
}

/**
 * The environment a service's process starts with: its env files in order (read from their
 * committed `.example` copies), then its `environment:` map over them, as Compose does.
 */
function environmentOf(name: string): Env {
  const env: Env = {};
  for (const file of envFilesOf(service(name))) Object.assign(env, readEnvFile(`${file}.example`));
  return Object.assign(env, inlineEnvironmentOf(name));
}

function configOf(name: string): AppConfig {
  return loadConfig(environmentOf(name));
}

function argsOf(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : value.split(/\s+/).filter(Boolean);
}

/** Entry point and command of a service as one text: `$$` unescaped as Compose does, `\` lines joined. */
function shellText(svc: Service): string {
  return [...argsOf(svc.entrypoint), ...argsOf(svc.command)]
    .join(' ')
    .replaceAll('$$', '$')
    .replace(/\\\n\s*/g, ' ');
}

/** What the admin tools register: `--namespace`, and each `--name` with its `--type`. */
function searchAttributeRegistration(): { namespace?: string; attributes: Record<string, string> } {
  const [, admin] = searchAttributeService();
  const line = shellText(admin)
    .split('\n')
    .find((text) => text.includes('search-attribute create'));
  const words = (line ?? '').trim().split(/\s+/);
  const valuesOf = (flag: string) =>
    words.flatMap((word, i) => (word === flag && words[i + 1] !== undefined ? [words[i + 1]!] : []));

  const types = valuesOf('--type');
  // `--type` is given once per `--name`; a single `--type` would apply to every name.
  const attributes = Object.fromEntries(valuesOf('--name').map((name, i) => [name, types[i] ?? types[0] ?? '']));
  return { namespace: valuesOf('--namespace')[0], attributes };
}

interface PortMapping {
  hostIp?: string;
  published?: number;
  target: number;
}

/** `[host_ip:][published:]target[/protocol]`, the short syntax. */
function parsePort(spec: string | number): PortMapping {
  const text = String(spec).replace(/\/(tcp|udp)$/, '');
  const targetAt = text.lastIndexOf(':');
  const target = Number(text.slice(targetAt + 1));
  if (targetAt < 0) return { target };

  const rest = text.slice(0, targetAt);
  const publishedAt = rest.lastIndexOf(':');
  const published = Number(rest.slice(publishedAt + 1));
  const hostIp = publishedAt < 0 ? undefined : rest.slice(0, publishedAt).replace(/^\[|\]$/g, '');
  return { hostIp, published, target };
}

/** `30s`, `1m30s`, `500ms` in milliseconds. */
function durationMs(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001 };
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us)/g)) {
    total += Number(amount) * units[unit!]!;
  }
  return total;
}

function imageTag(image: string): string | undefined {
  const name = image.split('@')[0]!;
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? name.slice(colon + 1) : undefined;
}

// ---- env files ------------------------------------------------------------------------------------

/** `KEY=value` lines; Compose takes unquoted values literally, so ours must need no more than that. */
function readEnvFile(relativePath: string): Env {
  const path = join(ROOT, relativePath);
  if (!existsSync(path)) throw new Error(`${relativePath} is missing: it documents the settings of ${COMPOSE_FILE}`);

  const env: Env = {};
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, index) => {
      const text = line.trim();
      if (text === '' || text.startsWith('#')) return;
      const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(text);
      if (!match) throw new Error(`${relativePath}:${index + 1} is not KEY=value: ${text}`);
      const key = match[1]!;
      const value = match[2]!;
      if (/["'#$]/.test(value)) {
        throw new Error(`${relativePath}:${index + 1}: ${key} has quotes, # or $, which tools read differently`);
      }
      env[key] = value;
    });
  return env;
}

/** Every `KEY=` of the file, set or commented out (`# KEY=default`). */
function mentionedKeys(relativePath: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const line of readFileSync(join(ROOT, relativePath), 'utf8').split('\n')) {
    const match = /^#?\s*([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) keys.set(match[1]!, match[2]!);
  }
  return keys;
}

// ---- Dockerfile -----------------------------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  base: string;
  name?: string;
  instructions: Instruction[];
}

function readDockerfile(): { globalArgs: Env; stages: Stage[] } {
  const joined = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\r?\n/g, ' ');
  const instructions = joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line): Instruction => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });

  const globalArgs: Env = {};
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [base = '', as, name] = instruction.args.split(/\s+/).filter((word) => !word.startsWith('--'));
      stages.push({ base, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (stages.length === 0 && instruction.keyword === 'ARG') {
      const [key = '', value = ''] = instruction.args.split('=');
      globalArgs[key] = value;
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

const dockerfile = readDockerfile();

function finalStage(): Stage {
  const stage = dockerfile.stages.at(-1);
  if (!stage) throw new Error('the Dockerfile has no FROM');
  return stage;
}

function resolveArgs(text: string): string {
  return text.replace(/\$\{?(\w+)\}?/g, (whole, key: string) => dockerfile.globalArgs[key] ?? whole);
}

/** WORKDIR of the final stage, where relative paths (SYNC_CONFIG, the commands' files) resolve. */
function finalWorkdir(): string {
  const workdir = finalStage().instructions.filter((i) => i.keyword === 'WORKDIR').at(-1);
  if (!workdir) throw new Error('the final stage of the Dockerfile sets no WORKDIR');
  return workdir.args;
}

/** `COPY` instructions of a stage as [sources, destination], without the flags. */
function copiesOf(stage: Stage): { from?: string; sources: string[]; dest: string }[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY')
    .map((i) => {
      const words = i.args.split(/\s+/);
      const from = words.find((word) => word.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((word) => !word.startsWith('--'));
      return { from, sources: paths.slice(0, -1), dest: paths.at(-1) ?? '' };
    });
}

/**
 * Whether .dockerignore lets `path` into the build context: the last rule that matches wins, a rule
 * matches the path or a folder above it, and `*` matches any one name. Enough for our rules.
 */
function inBuildContext(path: string, rules: string[]): boolean {
  let included = true;
  for (const rule of rules) {
    const negated = rule.startsWith('!');
    const pattern = rule.replace(/^!/, '').replace(/^\/|\/$/g, '');
    const segments = path.split('/');
    const matches = segments.some((_, depth) => {
      const prefix = segments.slice(0, depth + 1).join('/');
      return pattern === '*' ? depth === 0 : prefix === pattern;
    });
    if (matches) included = negated;
  }
  return included;
}

// ---- a receiver health check run against a real HTTP server -----------------------------------------

async function listen(status: number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    res.statusCode = req.url === '/readyz' ? status : 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function exitCodeOf(file: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 15_000 }, (error) => resolve(error ? Number(error.code ?? 1) : 0));
  });
}

function dockerignoreRules(): string[] {
  return readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

function readJson<T>(relativePath: string): T {
  return JSON.parse(readFileSync(join(ROOT, relativePath), 'utf8')) as T;
}

// ---- the checks -----------------------------------------------------------------------------------

describe('docker-compose.yml', () => {
  it.each(APP_SERVICES)('gives the %s an environment that the app config accepts', (name) => {
    expect(() => configOf(name)).not.toThrow();
  });

  it('gives the worker the GitBook token and organization it requires', () => {
    expect(() => requireGitBookSettings(configOf('worker'))).not.toThrow();
  });

  it('gives the receiver a hook secret and keeps its insecure mode off', () => {
    const config = configOf('receiver');

    expect(config.HOOK_SECRET).toEqual(expect.any(String));
    expect(config.HOOK_ALLOW_INSECURE).toBe(false);
  });

  it.each(APP_SERVICES)('points the %s at the temporal service on port 7233, as the app resolves it', (name) => {
    const [temporalName] = temporalService();

    const target = resolveTemporalTarget({ env: environmentOf(name) });

    expect(target.connectionOptions.address).toBe(`${temporalName}:${TEMPORAL_FRONTEND_PORT}`);
  });

  it('points the Web UI and the admin tools at the temporal service on port 7233', () => {
    const [temporalName] = temporalService();
    const names = [uiService()[0], searchAttributeService()[0]];

    const addresses = names.map((name) => [name, inlineEnvironmentOf(name).TEMPORAL_ADDRESS]);

    expect(addresses).toEqual(names.map((name) => [name, `${temporalName}:${TEMPORAL_FRONTEND_PORT}`]));
  });

  it('registers every search attribute the workflows set, with the type they declare', () => {
    // The CLI spells types `Keyword`, `KeywordList`...; the SDK `KEYWORD`, `KEYWORD_LIST`.
    const cliType = (sdkType: string) =>
      sdkType.toLowerCase().replace(/(?:^|_)(\w)/g, (_, letter: string) => letter.toUpperCase());

    const { attributes } = searchAttributeRegistration();

    expect(attributes).toEqual(Object.fromEntries(SEARCH_ATTRIBUTE_KEYS.map((key) => [key.name, cliType(key.type)])));
  });

  it('registers them in the namespace that auto-setup creates and that the worker and the receiver use', () => {
    const [temporalName] = temporalService();
    const { namespace } = searchAttributeRegistration();

    const used = APP_SERVICES.map((name) => [name, configOf(name).TEMPORAL_NAMESPACE]);
    const created = inlineEnvironmentOf(temporalName).DEFAULT_NAMESPACE ?? 'default';

    expect(used).toEqual(APP_SERVICES.map((name) => [name, namespace]));
    expect(created).toBe(namespace);
  });

  it('registers them with a shell script that parses and retries until the server answers', async () => {
    const [, admin] = searchAttributeService();
    const [shell, flag, script = ''] = [...argsOf(admin.entrypoint), ...argsOf(admin.command)];

    const status = await exitCodeOf('/bin/sh', ['-n', '-c', script.replaceAll('$$', '$')]);

    expect([shell, flag]).toEqual(['/bin/sh', '-c']);
    expect(status).toBe(0);
    expect(script).toMatch(/^\s*until temporal operator search-attribute create/m);
  });

  it('publishes the receiver on the port it listens on (HOOK_PORT), on all interfaces in its container', () => {
    const config = configOf('receiver');

    const targets = (service('receiver').ports ?? []).map((spec) => parsePort(spec).target);

    expect(targets).toEqual([config.HOOK_PORT]);
    expect(['0.0.0.0', '::']).toContain(config.HOOK_HOST);
  });

  it('checks the receiver health on /readyz at HOOK_PORT, with Node since the image has no curl', () => {
    const test = argsOf(service('receiver').healthcheck?.test);

    const url = new URL(/https?:\/\/[^'"\s)]+/.exec(test.join(' '))?.[0] ?? 'http://missing');

    expect(test.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
    expect({ host: url.hostname, port: Number(url.port), path: url.pathname }).toEqual({
      host: '127.0.0.1',
      port: configOf('receiver').HOOK_PORT,
      path: '/readyz',
    });
  });

  it('has a receiver health check that passes on 200 from /readyz and fails on 503 or no answer', async () => {
    const script = argsOf(service('receiver').healthcheck?.test)[3] ?? '';
    const ready = await listen(200);
    const notReady = await listen(503);
    const gone = await listen(200);
    await new Promise((resolve) => gone.server.close(resolve));
    const runAgainst = (port: number) =>
      exitCodeOf(process.execPath, ['-e', script.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${port}`)]);

    try {
      const statuses = await Promise.all([ready.port, notReady.port, gone.port].map(runAgainst));

      expect(statuses).toEqual([0, 1, 1]);
    } finally {
      ready.server.close();
      notReady.server.close();
    }
  });

  it('names only defined services in depends_on', () => {
    const undefinedTargets = Object.entries(compose.services).flatMap(([name, svc]) => {
      const targets = Array.isArray(svc.depends_on) ? svc.depends_on : Object.keys(svc.depends_on ?? {});
      return targets.filter((target) => !(target in compose.services)).map((target) => `${name} -> ${target}`);
    });

    expect(undefinedTargets).toEqual([]);
  });

  it('waits only on health checks that exist and on one-shot jobs that end', () => {
    const problems = Object.entries(compose.services).flatMap(([name, svc]) => {
      const dependencies = Array.isArray(svc.depends_on) ? {} : (svc.depends_on ?? {});
      return Object.entries(dependencies).flatMap(([target, options]) => {
        const dependency = compose.services[target];
        const condition = options?.condition ?? 'service_started';
        if (condition === 'service_healthy' && !dependency?.healthcheck?.test) {
          return [`${name} waits for ${target} to be healthy, but it has no healthcheck`];
        }
        if (condition === 'service_completed_successfully' && (dependency?.restart ?? 'no') !== 'no') {
          return [`${name} waits for ${target} to end, but it restarts`];
        }
        return [];
      });
    });

    expect(problems).toEqual([]);
  });

  it('starts the worker and the receiver once Temporal is healthy and the search attributes exist', () => {
    const [temporalName] = temporalService();
    const [adminName] = searchAttributeService();

    const dependencies = APP_SERVICES.map((name) => [name, service(name).depends_on]);

    expect(dependencies).toEqual(
      APP_SERVICES.map((name) => [
        name,
        {
          [temporalName]: { condition: 'service_healthy' },
          [adminName]: { condition: 'service_completed_successfully' },
        },
      ]),
    );
  });

  it('gives PostgreSQL and Temporal the same database user and password, and Temporal the database host', () => {
    const [postgresName] = postgresService();
    const [temporalName] = temporalService();
    const database = environmentOf(postgresName);
    const temporal = environmentOf(temporalName);

    expect(database.POSTGRES_PASSWORD).toEqual(expect.any(String));
    expect({ user: temporal.POSTGRES_USER, password: temporal.POSTGRES_PWD }).toEqual({
      user: database.POSTGRES_USER,
      password: database.POSTGRES_PASSWORD,
    });
    expect({ DB: temporal.DB, DB_PORT: temporal.DB_PORT, POSTGRES_SEEDS: temporal.POSTGRES_SEEDS }).toEqual({
      DB: 'postgres12',
      DB_PORT: '5432',
      POSTGRES_SEEDS: postgresName,
    });
  });

  it('keeps PostgreSQL data in a named volume and checks its health with pg_isready', () => {
    const [, postgres] = postgresService();

    const volumes = (postgres.volumes ?? []).map((volume) =>
      typeof volume === 'string' ? volume : `${volume.source}:${volume.target}`,
    );

    expect(volumes).toContainEqual(expect.stringMatching(/^[\w-]+:\/var\/lib\/postgresql\/data$/));
    expect(argsOf(postgres.healthcheck?.test).join(' ')).toContain('pg_isready');
  });

  it('hands the GitBook and hook secrets only to the app, and the database password only to the database', () => {
    const leaks = Object.keys(compose.services).flatMap((name) => {
      const env = environmentOf(name);
      const isApp = (APP_SERVICES as readonly string[]).includes(name);
      const unwanted = isApp ? ['POSTGRES_PASSWORD', 'POSTGRES_PWD'] : ['GITBOOK_API_TOKEN', 'HOOK_SECRET'];
      return unwanted.filter((key) => key in env).map((key) => `${name} gets ${key}`);
    });
    const inlineSecrets = Object.keys(compose.services).flatMap((name) =>
      Object.keys(inlineEnvironmentOf(name))
        .filter((key) => SECRET_NAME.test(key))
        .map((key) => `${name} sets ${key} in ${COMPOSE_FILE}`),
    );

    expect(leaks).toEqual([]);
    expect(inlineSecrets).toEqual([]);
  });

  it('pins every pulled image to a version tag, never latest', () => {
    const pulled = Object.entries(compose.services).filter(([, svc]) => svc.build === undefined);

    const unpinned = pulled
      .map(([name, svc]) => ({ name, image: svc.image ?? '(no image)', tag: imageTag(svc.image ?? '') }))
      .filter(({ tag }) => tag === undefined || tag === 'latest' || !/\d/.test(tag))
      .map(({ name, image }) => `${name}: ${image}`);

    expect(unpinned).toEqual([]);
  });

  it('builds the worker and the receiver as one image from the Dockerfile in this folder', () => {
    const builds = APP_SERVICES.map((name) => {
      const { build, image } = service(name);
      const context = typeof build === 'string' ? build : build?.context;
      const file = typeof build === 'object' ? (build.dockerfile ?? 'Dockerfile') : 'Dockerfile';
      return { context, file, image };
    });

    expect(builds[0]).toEqual({ context: '.', file: 'Dockerfile', image: expect.any(String) });
    expect(builds[1]).toEqual(builds[0]);
    expect(existsSync(join(ROOT, builds[0]!.file))).toBe(true);
  });

  it('runs commands whose files are compiled outputs of src/ files, as the npm scripts do', () => {
    const { scripts } = readJson<{ scripts: Record<string, string> }>('package.json');
    const { compilerOptions } = readJson<{ compilerOptions: { outDir: string; rootDir: string } }>('tsconfig.json');
    const { include } = readJson<{ include: string[] }>('tsconfig.build.json');

    const commands = APP_SERVICES.map((name) => {
      const command = argsOf(service(name).command);
      const source = /^dist\/(src\/.+)\.js$/.exec(command[1] ?? '')?.[1];
      const compiled = source !== undefined && existsSync(join(ROOT, `${source}.ts`));
      return { name, command: command.join(' '), npmScript: scripts[name], compiledFromSrc: compiled };
    });

    expect(commands).toEqual(
      commands.map(({ name, command }) => ({ name, command, npmScript: command, compiledFromSrc: true })),
    );
    expect(commands.map(({ command }) => command.split(' ')[0])).toEqual(APP_SERVICES.map(() => 'node'));
    expect(compilerOptions).toMatchObject({ rootDir: '.', outDir: 'dist' });
    expect(include).toContain('src');
  });

  it.each(APP_SERVICES)('gives the %s a valid group mapping mounted where SYNC_CONFIG points', async (name) => {
    const inContainer = posix.resolve(finalWorkdir(), configOf(name).SYNC_CONFIG);

    const mount = (service(name).volumes ?? [])
      .map((volume) => (typeof volume === 'string' ? volume.split(':') : [volume.source ?? '', volume.target]))
      .find(([, target]) => target !== undefined && inContainer.startsWith(`${target}/`));

    expect({ file: inContainer, mounted: mount !== undefined }).toEqual({ file: inContainer, mounted: true });
    const [source = '', target = ''] = mount ?? [];
    const onHost = join(ROOT, source, posix.relative(target, inContainer));
    await expect(loadSyncConfig(onHost)).resolves.toMatchObject({ groups: expect.any(Array) });
  });

  it('restarts the worker and the receiver unless stopped, and lets the worker finish its GitBook calls', () => {
    const policies = APP_SERVICES.map((name) => [name, service(name).restart]);

    expect(policies).toEqual(APP_SERVICES.map((name) => [name, 'unless-stopped']));
    expect(durationMs(service('worker').stop_grace_period ?? '10s')).toBeGreaterThan(WORKER_SHUTDOWN_GRACE_MS);
  });
});

describe('deploy/.env.example', () => {
  const ENV_EXAMPLE = 'deploy/.env.example';

  it('lists every variable that configSchema requires without a default', () => {
    const required = Object.entries(configSchema.shape)
      .filter(([, schema]) => !schema.safeParse(undefined).success)
      .map(([key]) => key);

    const listed = readEnvFile(ENV_EXAMPLE);

    expect(required.filter((key) => !(key in listed))).toEqual([]);
  });

  it('mentions every configSchema variable, set or commented out', () => {
    const mentioned = mentionedKeys(ENV_EXAMPLE);

    expect(Object.keys(configSchema.shape).filter((key) => !mentioned.has(key))).toEqual([]);
  });

  it('sets the GitBook credentials and the hook secret that the production processes need', () => {
    const listed = Object.keys(readEnvFile(ENV_EXAMPLE));

    expect(listed).toEqual(expect.arrayContaining(['GITBOOK_API_TOKEN', 'GITBOOK_ORG_ID', 'HOOK_SECRET']));
  });

  it('sets nothing that docker-compose.yml overrides, so no value there is silently ignored', () => {
    const listed = readEnvFile(ENV_EXAMPLE);

    const overridden = APP_SERVICES.flatMap((name) =>
      Object.keys(inlineEnvironmentOf(name))
        .filter((key) => key in listed)
        .map((key) => `${name}: ${key}`),
    );

    expect(overridden).toEqual([]);
  });

  const EXAMPLES = [ENV_EXAMPLE, 'deploy/postgres.env.example'];

  it.each(EXAMPLES)('holds placeholders only, no real-looking secret, in %s', (file) => {
    const secrets = [...mentionedKeys(file)].filter(([key]) => SECRET_NAME.test(key));

    const notPlaceholders = secrets
      .filter(([, value]) => !PLACEHOLDER.test(value))
      .map(([key, value]) => `${key}=${value}`);

    expect(notPlaceholders).toEqual([]);
  });

  it('has its filled-in copies ignored by git', () => {
    const ignored = readFileSync(join(ROOT, 'deploy/.gitignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim());

    const envFiles = [...new Set(Object.values(compose.services).flatMap(envFilesOf))];

    expect(envFiles.filter((file) => !ignored.includes(posix.relative('deploy', file)))).toEqual([]);
  });
});

describe('Dockerfile', () => {
  it('runs the final stage as a non-root user', () => {
    const user = finalStage().instructions.filter((i) => i.keyword === 'USER').at(-1)?.args;

    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user?.split(':')[0]);
  });

  it('installs only production dependencies in the final stage, with npm ci --omit=dev', () => {
    const stage = finalStage();

    const installs = stage.instructions.filter((i) => i.keyword === 'RUN' && /\bnpm (ci|install|i)\b/.test(i.args));
    const copiedModules = copiesOf(stage).filter((copy) => copy.sources.some((path) => path.includes('node_modules')));

    expect(installs.map((i) => /\bnpm ci\b.*--omit=dev/.test(i.args))).toEqual([true]);
    expect(copiedModules).toEqual([]);
  });

  it('builds in an earlier stage with npm ci and npm run build', () => {
    const earlier = dockerfile.stages.slice(0, -1).flatMap((stage) => stage.instructions);

    const runs = earlier.filter((i) => i.keyword === 'RUN').map((i) => i.args);

    expect(runs).toEqual(expect.arrayContaining([expect.stringMatching(/\bnpm ci\b/), 'npm run build']));
  });

  it('copies dist/, config/ and sandbox/ into the final stage and sets NODE_ENV=production', () => {
    const buildStage = dockerfile.stages.at(-2)?.name;

    const copies = copiesOf(finalStage());
    const env = finalStage()
      .instructions.filter((i) => i.keyword === 'ENV')
      .map((i) => i.args);

    expect(copies).toEqual(
      expect.arrayContaining([
        { from: buildStage, sources: [`${finalWorkdir()}/dist`], dest: './dist' },
        { from: undefined, sources: ['config'], dest: './config' },
        { from: undefined, sources: ['sandbox'], dest: './sandbox' },
      ]),
    );
    expect(env).toContain('NODE_ENV=production');
  });

  it('starts from a Node image pinned to a minor version that satisfies package.json engines', () => {
    const engines = readJson<{ engines: { node: string } }>('package.json').engines.node;
    const [minMajor = 0, minMinor = 0] = (/>=\s*(\d+)\.(\d+)/.exec(engines) ?? []).slice(1).map(Number);

    const bases = dockerfile.stages.map((stage) => {
      const image = resolveArgs(stage.base);
      const [major = 0, minor = -1] = (/^node:(\d+)\.(\d+)/.exec(image) ?? []).slice(1).map(Number);
      const satisfiesEngines = major > minMajor || (major === minMajor && minor >= minMinor);
      return { image, pinned: minor >= 0, satisfiesEngines };
    });

    expect(bases).toEqual(bases.map(({ image }) => ({ image, pinned: true, satisfiesEngines: true })));
  });

  it('bakes no secret in: no secret ARG or ENV, and the build context leaves the settings files out', () => {
    const settingsFiles = ['deploy/.env', 'deploy/postgres.env', '.env', '.data/temporal/dev.db', 'node_modules/x'];

    const secretInstructions = dockerfile.stages
      .flatMap((stage) => stage.instructions)
      .filter((i) => ['ENV', 'ARG'].includes(i.keyword) && SECRET_NAME.test(i.args.split(/[=\s]/)[0] ?? ''));
    const sent = settingsFiles.filter((path) => inBuildContext(path, dockerignoreRules()));

    expect(secretInstructions).toEqual([]);
    expect(sent).toEqual([]);
  });

  it('has every file it copies from the build context let in by .dockerignore', () => {
    const sources = dockerfile.stages.flatMap((stage) =>
      copiesOf(stage)
        .filter((copy) => copy.from === undefined)
        .flatMap((copy) => copy.sources),
    );
    const rules = dockerignoreRules();

    const missing = sources.filter((path) => !existsSync(join(ROOT, path)) || !inBuildContext(path, rules));

    expect(missing).toEqual([]);
  });
});
