/**
 * The hook receiver: Okta Event Hooks and the generic directory hook, into Temporal.
 */
export {
  buildReceiver,
  startReceiver,
  DEFAULT_BODY_LIMIT_BYTES,
  DEFAULT_CLOSE_GRACE_MS,
  DEFAULT_READINESS_TIMEOUT_MS,
  DEFAULT_RETRY_AFTER_SECONDS,
  DEFAULT_SUBMIT_TIMEOUT_MS,
  OKTA_CHALLENGE_HEADER,
  RECEIVER_ROUTES,
  type ReceiverOptions,
  type RunningReceiver,
  type StartReceiverOptions,
} from './server';
export { isAuthorized } from './auth';
export type { DeliveryReport, IgnoredEvent, RejectedEvent } from './batch';
export {
  DIRECTORY_HOOK_EVENT_KINDS,
  DIRECTORY_HOOK_EVENT_TYPES,
  DIRECTORY_SOURCE,
  directoryHookEventSchema,
  mapDirectoryHookEvent,
  parseDirectoryDelivery,
  type DirectoryHookEvent,
  type DirectoryHookEventType,
} from './directory';
export { DIRECTORY_HOOK_JSON_SCHEMA } from './directory-json-schema';
export {
  HandoffError,
  HookRequestError,
  ReceiverConfigError,
  ReceiverErrorCode,
  type ErrorAnswer,
  type FieldIssue,
} from './errors';
export type { SubmitEvents } from './handoff';
export {
  DEFAULT_MAX_CONCURRENT_HANDOFFS,
  DEFAULT_MAX_GROUP_BYTES,
  DEFAULT_MAX_GROUP_EVENTS,
  DEFAULT_MAX_QUEUED_EVENTS,
  GroupCommit,
  MAX_GROUP_EVENTS,
  type CommitEvents,
  type GroupCommitOptions,
  type HandoffPath,
  type HandoffRecord,
} from './group-commit';
export { OKTA_EVENT_KINDS, OKTA_EVENT_TYPES, OKTA_SOURCE, mapOktaEvent, parseOktaDelivery } from './okta';
