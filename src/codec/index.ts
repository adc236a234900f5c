/** Payload encryption and its codec endpoint, configured from the settings. */
import type { DataConverter } from '@temporalio/common';
import type { AppConfig } from '../config';
import { AesGcmPayloadCodec, parseKeyRing } from './encryption';

export { AesGcmPayloadCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, PayloadDecryptionError, parseKeyRing } from './encryption';
export { buildCodecServer, type CodecServerOptions } from './server';

/** The data converter every client and worker uses: encrypting when keys are configured. */
export function dataConverterFor(config: Pick<AppConfig, 'PAYLOAD_ENCRYPTION_KEYS'>): DataConverter | undefined {
  if (!config.PAYLOAD_ENCRYPTION_KEYS) return undefined;
  return { payloadCodecs: [new AesGcmPayloadCodec(parseKeyRing(config.PAYLOAD_ENCRYPTION_KEYS))] };
}
