/**
 * The shared-secret check of the hook routes. Okta Event Hooks carry no signature: the admin
 * configures a static header (usually `Authorization`) and Okta sends it with every request,
 * the verification included. We accept the secret as is or as `Bearer <secret>`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const BEARER_PREFIX = /^bearer\s+/i;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Whether an `Authorization` header value carries `secret`. Compares SHA-256 digests in constant
 * time, so neither the content nor the length of the secret shows in the response time.
 */
export function isAuthorized(header: string | string[] | undefined, secret: string): boolean {
  if (typeof header !== 'string' || header.length === 0 || secret.length === 0) return false;

  const expected = digest(secret);
  const asIs = timingSafeEqual(digest(header), expected);
  const bearer = BEARER_PREFIX.test(header) && timingSafeEqual(digest(header.replace(BEARER_PREFIX, '')), expected);
  return asIs || bearer;
}
