/**
 * The JSON Schema (2020-12) of the generic directory hook body, written by hand to say exactly what
 * `directoryHookEventSchema` accepts; a test checks that the two agree and that the docs show this
 * object. The email and timestamp patterns are zod's own (`z.regexes`), so they match by
 * construction; `format` is informative, the pattern is what the receiver checks.
 */
import { z } from 'zod';
import { DIRECTORY_HOOK_EVENT_TYPES } from './directory';

const LENGTH_NOTE = 'Lengths are counted in UTF-16 code units, as JavaScript does.';

export const DIRECTORY_HOOK_JSON_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:gitbook-directory-sync:hooks:directory',
  title: 'Generic directory hook body (POST /hooks/directory)',
  description: 'One event, or a batch { "events": [...] }.',
  oneOf: [{ $ref: '#/$defs/event' }, { $ref: '#/$defs/batch' }],
  $defs: {
    batch: {
      type: 'object',
      required: ['events'],
      additionalProperties: false,
      properties: {
        events: { type: 'array', items: { $ref: '#/$defs/event' } },
      },
    },
    event: {
      type: 'object',
      required: ['id', 'type', 'occurredAt', 'user'],
      additionalProperties: false,
      properties: {
        id: {
          description: 'Unique per change; a redelivery carries the same id and changes nothing.',
          type: 'string',
          minLength: 1,
          maxLength: 200,
        },
        type: { type: 'string', enum: [...DIRECTORY_HOOK_EVENT_TYPES] },
        occurredAt: {
          description: 'When the directory made the change: ISO 8601 with seconds and Z or an offset.',
          type: 'string',
          format: 'date-time',
          pattern: z.regexes.datetime({ offset: true }).source,
        },
        user: {
          type: 'object',
          required: ['id', 'email'],
          additionalProperties: false,
          properties: {
            id: {
              description: 'The stable directory user id (never the email): printable ASCII, no spaces, no slash.',
              type: 'string',
              minLength: 1,
              maxLength: 200,
              pattern: '^[!-.0-~]+$',
            },
            email: { type: 'string', maxLength: 320, format: 'email', pattern: z.regexes.email.source },
            name: { description: LENGTH_NOTE, type: 'string', minLength: 1, maxLength: 256 },
          },
        },
        group: {
          description: 'Required for group.* events; ignored for user.* events.',
          type: 'object',
          required: ['id'],
          additionalProperties: false,
          properties: {
            id: { description: LENGTH_NOTE, type: 'string', minLength: 1, maxLength: 200 },
            name: { description: LENGTH_NOTE, type: 'string', minLength: 1, maxLength: 256 },
          },
        },
      },
      if: {
        required: ['type'],
        properties: { type: { enum: ['group.user_added', 'group.user_removed'] } },
      },
      then: { required: ['group'] },
    },
  },
} as const;
