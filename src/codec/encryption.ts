/**
 * Payload encryption: every workflow and activity input, result, signal and query answer is sealed
 * with AES-256-GCM before it reaches Temporal, so histories hold ciphertext. Each sealed payload
 * names the key that sealed it; a key ring of several keys lets old histories be read after the
 * current key changes (rotation: put the new key first, keep the old ones after it).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';

/** The `encoding` metadata of a sealed payload. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** The metadata key that names the key a payload was sealed with. */
export const KEY_ID_METADATA = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Thrown when a payload names a key the ring does not have, or fails authentication. */
export class PayloadDecryptionError extends Error {
  readonly code = 'PAYLOAD_DECRYPTION_FAILED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PayloadDecryptionError';
  }
}

export interface EncryptionKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

const keyRingSchema = z
  .string()
  .min(1)
  .transform((value, ctx) => {
    const keys: EncryptionKey[] = [];
    for (const [index, entry] of value.split(',').entries()) {
      const match = /^([A-Za-z0-9._-]{1,64}):([A-Za-z0-9+/=]+)$/.exec(entry.trim());
      const key = match ? Buffer.from(match[2]!, 'base64') : undefined;
      if (!match || key?.length !== 32) {
        // The message names the position, never the key material.
        ctx.addIssue({ code: 'custom', message: `key ${index + 1} must be <id>:<32 bytes in base64>` });
        return z.NEVER;
      }
      keys.push({ id: match[1]!, key });
    }
    if (new Set(keys.map((k) => k.id)).size !== keys.length) {
      ctx.addIssue({ code: 'custom', message: 'key ids must be unique' });
      return z.NEVER;
    }
    return keys;
  });

/**
 * Parses `PAYLOAD_ENCRYPTION_KEYS`: `id:base64key[,id:base64key...]`, the first one seals new
 * payloads, all of them open old ones. Generate a key with `openssl rand -base64 32`.
 */
export function parseKeyRing(value: string): EncryptionKey[] {
  const parsed = keyRingSchema.safeParse(value);
  if (!parsed.success) throw new Error(`PAYLOAD_ENCRYPTION_KEYS: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** A Temporal payload codec that seals payloads with the first key and opens them with any. */
export class AesGcmPayloadCodec implements PayloadCodec {
  readonly #current: EncryptionKey;
  readonly #byId: Map<string, Buffer>;

  constructor(keys: EncryptionKey[]) {
    if (keys.length === 0) throw new Error('at least one encryption key is needed');
    this.#current = keys[0]!;
    this.#byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.#seal(payload));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.#open(payload));
  }

  #seal(payload: Payload): Payload {
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#current.key, iv);
    const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        [METADATA_ENCODING_KEY]: encoder.encode(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: encoder.encode(this.#current.id),
      },
      data: sealed,
    };
  }

  #open(payload: Payload): Payload {
    const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
    if (!encoding || decoder.decode(encoding) !== ENCRYPTED_ENCODING) return payload;

    const keyIdBytes = payload.metadata?.[KEY_ID_METADATA];
    const keyId = keyIdBytes ? decoder.decode(keyIdBytes) : '';
    const key = this.#byId.get(keyId);
    if (!key) throw new PayloadDecryptionError(`no key "${keyId}" in PAYLOAD_ENCRYPTION_KEYS`);

    const data = Buffer.from(payload.data ?? new Uint8Array());
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return temporal.api.common.v1.Payload.decode(plain);
    } catch (cause) {
      throw new PayloadDecryptionError(`a payload sealed with key "${keyId}" could not be opened`, { cause });
    }
  }
}
