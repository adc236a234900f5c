import { getOperation, validateRequestBody, validateResponseBody } from '../src/gitbook/openapi';

const member = {
  object: 'member',
  id: 'u_1',
  role: 'read',
  user: {
    object: 'user',
    id: 'u_1',
    displayName: 'Ada',
    email: 'ada@example.com',
    urls: { location: 'http://127.0.0.1:8280/v1/users/u_1' },
  },
  disabled: false,
  joinedAt: '2024-01-01T00:00:00.000Z',
  sso: false,
  spaces: 0,
  teams: 0,
  sites: 0,
};

describe('getOperation', () => {
  it('finds the method and path template of an operation by its id', () => {
    expect(getOperation('inviteUsersToOrganization')).toMatchObject({
      method: 'POST',
      path: '/orgs/{organizationId}/invites',
      hasRequestBody: true,
      requestBodyRequired: true,
    });
    expect(getOperation('removeMemberFromOrganizationById')?.responseStatuses.sort()).toEqual(['202', '204', '205']);
  });

  it('returns undefined for an operation the document does not have', () => {
    expect(getOperation('noSuchOperation')).toBeUndefined();
  });
});

describe('validateRequestBody', () => {
  it('accepts invite bodies with plain emails, per-email roles, a default role and the SSO flag', () => {
    const body = { emails: ['a@example.com', { email: 'b@example.com', role: 'edit' }], role: 'read', sso: true };

    expect(validateRequestBody('inviteUsersToOrganization', body)).toEqual({ ok: true });
  });

  it.each([
    ['a malformed email', { emails: ['not-an-email'] }, 'request body /emails/0 must match format "email"'],
    ['an unknown default role', { emails: ['a@example.com'], role: 'owner' }, 'request body /role must be one of'],
    ['an unknown per-email role', { emails: [{ email: 'a@example.com', role: 'boss' }] }, '/emails/0/role must be'],
    ['no emails at all', { role: 'read' }, 'request body /emails is required'],
    ['a body that is not an object', 'emails', 'request body must be object'],
  ])('rejects an invite with %s and names the failing path', (_case, body, message) => {
    const result = validateRequestBody('inviteUsersToOrganization', body);

    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain(message);
  });

  it('checks team membership bodies: lists of strings are fine, anything else is named', () => {
    const body = { add: ['u_1'], remove: ['b@example.com'] };
    expect(validateRequestBody('updateMembersInOrganizationTeam', body)).toEqual({ ok: true });

    const result = validateRequestBody('updateMembersInOrganizationTeam', { add: [42] });
    expect(result).toEqual({ ok: false, message: 'request body /add/0 must be string' });
  });

  it('accepts a null role (a guest) when updating a member', () => {
    expect(validateRequestBody('updateMemberInOrganizationById', { role: null })).toEqual({ ok: true });
    expect(validateRequestBody('updateMemberInOrganizationById', { role: 'captain' }).ok).toBe(false);
  });

  it('rejects a body sent to an operation that takes none', () => {
    expect(validateRequestBody('removeMemberFromOrganizationById', { force: true })).toEqual({
      ok: false,
      message: 'removeMemberFromOrganizationById takes no request body',
    });
    expect(validateRequestBody('removeMemberFromOrganizationById', undefined)).toEqual({ ok: true });
  });

  it('throws for an operation id the document does not have, since that is a programming mistake', () => {
    expect(() => validateRequestBody('inviteUser', {})).toThrow(/no operation named inviteUser/);
  });
});

describe('validateResponseBody', () => {
  it('accepts a complete organization member and rejects one without a user location', () => {
    expect(validateResponseBody('getMemberInOrganizationById', 200, member)).toEqual({ ok: true });

    const withoutLocation = { ...member, user: { ...member.user, urls: {} } };
    expect(validateResponseBody('getMemberInOrganizationById', 200, withoutLocation)).toEqual({
      ok: false,
      message: 'response body (status 200) /user/urls/location is required',
    });
  });

  it('checks list answers item by item', () => {
    const list = { items: [member], next: { page: 'abc' }, count: 3 };
    expect(validateResponseBody('listMembersInOrganizationById', 200, list)).toEqual({ ok: true });

    const broken = { items: [{ ...member, role: 'owner' }], count: 1 };
    const result = validateResponseBody('listMembersInOrganizationById', 200, broken);
    expect(!result.ok && result.message).toContain('/items/0/role must be one of');
  });

  it('requires an empty body for statuses declared without content', () => {
    expect(validateResponseBody('removeMemberFromOrganizationById', 205, '')).toEqual({ ok: true });
    expect(validateResponseBody('updateMembersInOrganizationTeam', 204, undefined)).toEqual({ ok: true });
    expect(validateResponseBody('removeMemberFromOrganizationById', 202, { queued: true }).ok).toBe(false);
  });

  it('checks errors against the declared error response, or the generic Error schema', () => {
    const badRequest = { error: { code: 400, message: 'bad' } };
    expect(validateResponseBody('inviteUsersToOrganization', 400, badRequest)).toEqual({ ok: true });
    const teapot = { error: { code: 418, message: 'x' } };
    expect(validateResponseBody('inviteUsersToOrganization', 400, teapot).ok).toBe(false);

    const notFound = { error: { code: 404, message: 'gone' } };
    expect(validateResponseBody('getMemberInOrganizationById', 404, notFound)).toEqual({ ok: true });
    expect(validateResponseBody('getMemberInOrganizationById', 429, { message: 'slow down' }).ok).toBe(false);
  });

  it('rejects a success status the operation does not document', () => {
    expect(validateResponseBody('removeMemberFromOrganizationById', 200, '')).toEqual({
      ok: false,
      message: 'removeMemberFromOrganizationById does not document status 200',
    });
  });
});
