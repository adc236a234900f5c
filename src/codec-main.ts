/**
 * Production codec endpoint (`npm run codec-server`): serves `POST /decode` and `/encode` for the
 * Temporal Web UI with the keys of `PAYLOAD_ENCRYPTION_KEYS`, on `CODEC_HOST:CODEC_PORT`.
 */
import { AesGcmPayloadCodec, buildCodecServer, parseKeyRing } from './codec';
import { ConfigError, loadConfig } from './config';
import { createLogger } from './logger';
import { exitOnFatal, onShutdownSignal } from './shutdown';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.LOG_LEVEL, name: 'codec' });
  if (!config.PAYLOAD_ENCRYPTION_KEYS) throw new ConfigError('PAYLOAD_ENCRYPTION_KEYS is required by the codec endpoint');

  const codec = new AesGcmPayloadCodec(parseKeyRing(config.PAYLOAD_ENCRYPTION_KEYS));
  const allowedOrigins = config.CODEC_CORS_ORIGINS.split(',').map((origin) => origin.trim());
  const app = await buildCodecServer({ codec, allowedOrigins, authToken: config.CODEC_AUTH_TOKEN, logger });
  const url = await app.listen({ host: config.CODEC_HOST, port: config.CODEC_PORT });
  logger.info({ url, origins: allowedOrigins, authenticated: Boolean(config.CODEC_AUTH_TOKEN) }, 'codec endpoint started');

  onShutdownSignal(logger, () => {
    app.close().then(
      () => logger.info('codec endpoint stopped'),
      (err) => exitOnFatal(logger, err),
    );
  });
}

main().catch((err) => exitOnFatal(createLogger({ name: 'codec' }), err));
