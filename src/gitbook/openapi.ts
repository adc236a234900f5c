/**
 * The GitBook API contract, straight from the OpenAPI document that ships in `@gitbook/api`.
 *
 * The document is OpenAPI 3.1, so its schemas are JSON Schema 2020-12: Ajv's 2020 build compiles them
 * once the whole document is registered under one `$id`, which lets every `#/components/...` reference
 * resolve. Validators are compiled on first use and cached, per operation and per status.
 */
import { readFileSync } from 'node:fs';

import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/** The outcome of checking a body against the GitBook OpenAPI document. */
export type SpecCheckResult = { ok: true } | { ok: false; message: string };

/** One operation of the GitBook API, as the OpenAPI document declares it. */
export interface GitBookOperation {
  operationId: string;
  /** Upper-case HTTP method, e.g. `POST`. */
  method: string;
  /** Path template relative to the `/v1` base, e.g. `/orgs/{organizationId}/invites`. */
  path: string;
  /** Whether the operation takes a JSON request body. */
  hasRequestBody: boolean;
  /** Whether that body is mandatory. */
  requestBodyRequired: boolean;
  /** The documented response statuses, e.g. `['200', '400']`. */
  responseStatuses: string[];
}

/** Where the validators find the document; an identifier only, never fetched. */
const SPEC_ID = 'https://gitbook-sync.invalid/gitbook-openapi.json';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Formats the document names that Ajv does not know; they carry no constraint worth checking here. */
const ANNOTATION_FORMATS = ['int32', 'int64', 'float', 'double', 'emoji', 'icon'];

type JsonObject = Record<string, unknown>;

interface IndexedOperation {
  operation: GitBookOperation;
  /** JSON pointer to the operation object inside the document. */
  pointer: string;
}

interface SpecContext {
  document: JsonObject;
  ajv: Ajv2020;
  operations: Map<string, IndexedOperation>;
  validators: Map<string, ValidateFunction>;
}

let context: SpecContext | undefined;

/** Returns the operation declared under `operationId`, or `undefined` when the document has none. */
export function getOperation(operationId: string): GitBookOperation | undefined {
  return specContext().operations.get(operationId)?.operation;
}

/**
 * Checks a request body against the operation's declared body schema.
 * A failure message names the failing instance path, e.g. `request body /emails/0 must match format "email"`.
 *
 * @throws Error when the document has no operation `operationId` (a programming mistake, not bad input).
 */
export function validateRequestBody(operationId: string, body: unknown): SpecCheckResult {
  const { operation, pointer } = requireOperation(operationId);
  const requestBodyPointer = `${pointer}/requestBody`;

  if (!operation.hasRequestBody) {
    return body === undefined ? { ok: true } : { ok: false, message: `${operationId} takes no request body` };
  }
  if (body === undefined && !operation.requestBodyRequired) {
    return { ok: true };
  }

  const schemaPointer = jsonSchemaPointer(requestBodyPointer);
  if (schemaPointer === undefined) {
    return { ok: true };
  }
  return check(schemaPointer, body, 'request body');
}

/**
 * Checks a response body against what the operation declares for `status`.
 *
 * A status the operation declares without content (202, 204, 205...) must come with no body
 * (`undefined` or an empty string). An error status the operation does not declare is checked
 * against the document's generic `Error` schema, since GitBook answers every error in that shape.
 *
 * @throws Error when the document has no operation `operationId`.
 */
export function validateResponseBody(operationId: string, status: number, body: unknown): SpecCheckResult {
  const { pointer } = requireOperation(operationId);
  const responsePointer = findResponsePointer(pointer, status);

  if (responsePointer === undefined) {
    if (status >= 400) {
      return check('/components/schemas/Error', body, `response body (status ${status})`);
    }
    return { ok: false, message: `${operationId} does not document status ${status}` };
  }

  const schemaPointer = jsonSchemaPointer(responsePointer);
  if (schemaPointer === undefined) {
    const empty = body === undefined || body === '';
    return empty ? { ok: true } : { ok: false, message: `${operationId} answers status ${status} with no body` };
  }
  return check(schemaPointer, body, `response body (status ${status})`);
}

function requireOperation(operationId: string): IndexedOperation {
  const found = specContext().operations.get(operationId);
  if (found === undefined) {
    throw new Error(`The GitBook OpenAPI document has no operation named ${operationId}`);
  }
  return found;
}

function specContext(): SpecContext {
  if (context !== undefined) {
    return context;
  }

  const file = require.resolve('@gitbook/api/spec/openapi.json');
  const document = JSON.parse(readFileSync(file, 'utf8')) as JsonObject;

  const ajv = new Ajv2020({ strict: false });
  addFormats(ajv);
  for (const format of ANNOTATION_FORMATS) {
    ajv.addFormat(format, true);
  }
  // Registering is cheap: Ajv compiles a part of the document only when a validator refers to it.
  ajv.addSchema(document, SPEC_ID);

  context = { document, ajv, operations: indexOperations(document), validators: new Map() };
  return context;
}

function indexOperations(document: JsonObject): Map<string, IndexedOperation> {
  const operations = new Map<string, IndexedOperation>();
  const paths = asObject(document.paths) ?? {};

  for (const [path, item] of Object.entries(paths)) {
    const pathItem = asObject(item) ?? {};
    for (const method of HTTP_METHODS) {
      const operation = asObject(pathItem[method]);
      const operationId = operation?.operationId;
      if (operation === undefined || typeof operationId !== 'string') {
        continue;
      }

      const pointer = `/paths/${escapePointerSegment(path)}/${method}`;
      const requestBody = resolveRef(document, operation.requestBody);
      operations.set(operationId, {
        pointer,
        operation: {
          operationId,
          method: method.toUpperCase(),
          path,
          hasRequestBody: requestBody !== undefined,
          requestBodyRequired: requestBody?.required === true,
          responseStatuses: Object.keys(asObject(operation.responses) ?? {}),
        },
      });
    }
  }
  return operations;
}

/** Finds the response object for a status: exact code first, then `4XX`-style ranges, then `default`. */
function findResponsePointer(operationPointer: string, status: number): string | undefined {
  const responses = asObject(resolvePointer(specContext().document, `${operationPointer}/responses`)) ?? {};
  const candidates = [String(status), `${String(status)[0]}XX`, 'default'];
  const key = candidates.find((candidate) => candidate in responses);
  return key === undefined ? undefined : `${operationPointer}/responses/${key}`;
}

/**
 * From a request body or response object (possibly a `$ref` to `#/components/...`), the pointer to its
 * `application/json` schema, or `undefined` when it declares no JSON content.
 */
function jsonSchemaPointer(objectPointer: string): string | undefined {
  const { document } = specContext();
  let pointer = objectPointer;
  let object = asObject(resolvePointer(document, pointer));

  // Follow `$ref`s to shared responses or request bodies so the schema's own refs keep resolving.
  while (object !== undefined && typeof object.$ref === 'string' && object.$ref.startsWith('#')) {
    pointer = object.$ref.slice(1);
    object = asObject(resolvePointer(document, pointer));
  }

  const content = asObject(object?.content);
  if (content === undefined || !('application/json' in content)) {
    return undefined;
  }
  return `${pointer}/content/${escapePointerSegment('application/json')}/schema`;
}

function check(schemaPointer: string, body: unknown, subject: string): SpecCheckResult {
  const validate = compiledValidator(schemaPointer);
  if (validate(body)) {
    return { ok: true };
  }
  return { ok: false, message: describeErrors(subject, validate.errors ?? []) };
}

function compiledValidator(schemaPointer: string): ValidateFunction {
  const { ajv, validators } = specContext();
  const cached = validators.get(schemaPointer);
  if (cached !== undefined) {
    return cached;
  }

  // Pointer segments may hold `{` and `}` (path templates), which are not allowed raw in a URI fragment.
  const fragment = schemaPointer
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
  const validate = ajv.compile({ $ref: `${SPEC_ID}#${fragment}` });
  validators.set(schemaPointer, validate);
  return validate;
}

/**
 * Turns Ajv's errors into one sentence about the most specific failure. `oneOf` reports an error per
 * branch plus a summary; the deepest instance path is the one a person can act on.
 */
function describeErrors(subject: string, errors: ErrorObject[]): string {
  const specific = errors.filter((error) => !['oneOf', 'anyOf', 'allOf', 'if'].includes(error.keyword));
  const pool = specific.length > 0 ? specific : errors;
  const depth = (error: ErrorObject): number => error.instancePath.split('/').length;
  const chosen = pool.reduce<ErrorObject | undefined>(
    (best, error) => (best === undefined || depth(error) > depth(best) ? error : best),
    undefined,
  );

  if (chosen === undefined) {
    return `${subject} is invalid`;
  }
  return `${subject} ${describeError(chosen)}`;
}

function describeError(error: ErrorObject): string {
  const path = error.instancePath;
  const at = path === '' ? '' : `${path} `;

  switch (error.keyword) {
    case 'required':
      return `${path}/${String(error.params.missingProperty)} is required`;
    case 'enum':
      return `${at}must be one of: ${(error.params.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'additionalProperties':
      return `${at}must not have property ${String(error.params.additionalProperty)}`;
    default:
      return `${at}${error.message ?? 'is invalid'}`;
  }
}

function resolveRef(document: JsonObject, value: unknown): JsonObject | undefined {
  const object = asObject(value);
  if (object !== undefined && typeof object.$ref === 'string' && object.$ref.startsWith('#')) {
    return asObject(resolvePointer(document, object.$ref.slice(1)));
  }
  return object;
}

function resolvePointer(document: JsonObject, pointer: string): unknown {
  const segments = pointer.split('/').slice(1).map(unescapePointerSegment);
  return segments.reduce<unknown>((node, segment) => asObject(node)?.[segment], document);
}

function escapePointerSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function unescapePointerSegment(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

function asObject(value: unknown): JsonObject | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined;
}
