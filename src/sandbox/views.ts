/**
 * The JSON the sandbox answers with, shaped as the GitBook OpenAPI document declares it: full
 * `OrganizationMember`, `User`, `OrganizationTeam` and `OrganizationTeamMember` objects, the paginated
 * `List` envelope, and GitBook's error body.
 */
import type { SandboxMember, SandboxTeam } from './state';

/** GitBook's `User`. */
export interface UserView {
  object: 'user';
  id: string;
  displayName: string;
  email: string;
  urls: { location: string };
}

/** GitBook's `OrganizationMember`. */
export interface OrganizationMemberView {
  object: 'member';
  id: string;
  role: SandboxMember['role'];
  user: UserView;
  disabled: boolean;
  joinedAt: string;
  sso: boolean;
  spaces: number;
  teams: number;
  sites: number;
}

/** GitBook's `OrganizationTeam`. */
export interface OrganizationTeamView {
  object: 'team';
  id: string;
  title: string;
  members: number;
  spaces: number;
  createdAt: string;
  permissions: { admin: boolean; view: boolean };
}

/** GitBook's `OrganizationTeamMember`. */
export interface OrganizationTeamMemberView {
  organization: OrganizationMemberView;
  team: { role: 'owner' | 'member' };
  permissions: { view: boolean };
}

/** GitBook's `List` envelope. */
export interface ListView<T> {
  items: T[];
  next?: { page: string };
  count: number;
}

/** GitBook's error body. */
export interface ErrorView {
  error: { code: number; message: string };
}

/** Builds an `OrganizationMember`; `apiUrl` is the sandbox base URL including `/v1`. */
export function memberView(member: SandboxMember, teamCount: number, apiUrl: string): OrganizationMemberView {
  return {
    object: 'member',
    id: member.id,
    role: member.role,
    user: {
      object: 'user',
      id: member.id,
      displayName: member.displayName,
      email: member.email,
      urls: { location: `${apiUrl}/users/${encodeURIComponent(member.id)}` },
    },
    disabled: false,
    joinedAt: member.joinedAt,
    sso: member.sso,
    spaces: 0,
    teams: teamCount,
    sites: 0,
  };
}

/** Builds an `OrganizationTeam`. The sandbox's caller manages every team, so both permissions hold. */
export function teamView(team: SandboxTeam): OrganizationTeamView {
  return {
    object: 'team',
    id: team.id,
    title: team.title,
    members: team.memberIds.length,
    spaces: 0,
    createdAt: team.createdAt,
    permissions: { admin: true, view: true },
  };
}

/** Builds an `OrganizationTeamMember`. */
export function teamMemberView(member: OrganizationMemberView): OrganizationTeamMemberView {
  // TODO(sandbox-team-roles): every team member is reported as `member`; the sandbox does not track
  // team owners because directory sync never sets them.
  return { organization: member, team: { role: 'member' }, permissions: { view: true } };
}

/** Builds GitBook's error body. */
export function errorView(code: number, message: string): ErrorView {
  return { error: { code, message } };
}
