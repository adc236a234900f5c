/**
 * The GitBook sandbox: a spec-faithful local emulator of the GitBook REST operations used by
 * directory sync, for tests, end-to-end runs and laptops without a GitBook token.
 */
export {
  DEFAULT_PAGE_SIZE,
  SANDBOX_STATE_PATH,
  startSandbox,
  type GitBookSandbox,
  type SandboxCall,
  type SandboxOptions,
  type SandboxSnapshot,
} from './server';
export {
  loadSeedFile,
  MEMBER_ROLES,
  resolveSeed,
  sandboxSeedSchema,
  SandboxSeedError,
  type MemberRole,
  type ResolvedSandboxSeed,
  type SandboxSeed,
} from './seed';
export type { DelayFault, FaultMatch, RateLimitFault, ResetFault, SandboxFault, StatusFault } from './faults';
export type { RateLimitOptions } from './rate-limit';
export type { SandboxMember, SandboxTeamSnapshot } from './state';
