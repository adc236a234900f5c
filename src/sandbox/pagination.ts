/**
 * GitBook-style pagination: `limit` items per page and an opaque `next.page` token for the rest.
 * The token encodes an offset; clients must treat it as opaque, and the sandbox rejects any token it
 * did not issue.
 */
import type { ListView } from './views';

/** Thrown for a `page` token the sandbox did not issue; the server answers 400. */
export class InvalidPageTokenError extends Error {
  override readonly name = 'InvalidPageTokenError';
  readonly code = 'SANDBOX_INVALID_PAGE_TOKEN';
}

const TOKEN_PREFIX = 'sandbox-offset:';

/**
 * Cuts one page out of `items` and builds the `List` envelope around it.
 *
 * @throws InvalidPageTokenError when `page` is not a token this module produced.
 */
export function paginate<T, V>(items: T[], page: string | undefined, limit: number, view: (item: T) => V): ListView<V> {
  const offset = page === undefined || page === '' ? 0 : decodePageToken(page);
  const slice = items.slice(offset, offset + limit);
  const nextOffset = offset + slice.length;

  const list: ListView<V> = { items: slice.map(view), count: items.length };
  if (nextOffset < items.length) {
    list.next = { page: encodePageToken(nextOffset) };
  }
  return list;
}

function encodePageToken(offset: number): string {
  return Buffer.from(`${TOKEN_PREFIX}${offset}`).toString('base64url');
}

function decodePageToken(token: string): number {
  const decoded = Buffer.from(token, 'base64url').toString('utf8');
  const offset = decoded.startsWith(TOKEN_PREFIX) ? Number(decoded.slice(TOKEN_PREFIX.length)) : NaN;
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new InvalidPageTokenError(`page ${token} is not a page token this server issued`);
  }
  return offset;
}
