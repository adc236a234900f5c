/**
 * The codec endpoint the Temporal Web UI (and `temporal --codec-endpoint`) calls to show decrypted
 * payloads to an operator: `POST /decode` and `POST /encode` with `{ "payloads": [...] }` in
 * protobuf JSON. It decrypts data, so it listens on 127.0.0.1 by default, answers only the
 * configured UI origins, and can require a bearer token.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import cors from '@fastify/cors';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';
import type { Logger } from '../logger';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Web UI origins allowed to call (CORS), e.g. `http://127.0.0.1:8233`. */
  allowedOrigins: string[];
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  authToken?: string;
  logger?: Logger;
}

const payloadsBodySchema = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), z.string()).optional(), data: z.string().optional() })),
});

const PayloadsProto = temporal.api.common.v1.Payloads;

function sameSecret(given: string | undefined, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return given !== undefined && timingSafeEqual(digest(given), digest(expected));
}

/** Builds the codec endpoint (not listening). */
export async function buildCodecServer(options: CodecServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 4 * 1024 * 1024 });
  await app.register(cors, {
    origin: options.allowedOrigins,
    methods: ['POST'],
    allowedHeaders: ['content-type', 'x-namespace', 'authorization'],
    credentials: true,
  });

  app.addHook('onRequest', async (request, reply) => {
    if (request.method === 'OPTIONS' || !options.authToken) return;
    const header = request.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
    if (!sameSecret(token, options.authToken)) {
      return reply.code(401).send({ error: { code: 'UNAUTHORIZED', message: 'a valid bearer token is required' } });
    }
  });

  const route = (name: 'encode' | 'decode') =>
    app.post(`/${name}`, async (request, reply) => {
      const body = payloadsBodySchema.safeParse(request.body);
      if (!body.success) {
        const field = body.error.issues[0]?.path.join('.') || '(root)';
        return reply.code(400).send({ error: { code: 'INVALID_BODY', message: `${field}: ${body.error.issues[0]?.message}` } });
      }

      const { payloads } = PayloadsProto.fromObject(body.data);
      try {
        const result = await options.codec[name]((payloads ?? []) as Payload[]);
        return PayloadsProto.toObject(PayloadsProto.create({ payloads: result }), { bytes: String });
      } catch (err) {
        options.logger?.warn({ err: (err as Error).message, route: name }, 'codec request failed');
        return reply.code(400).send({ error: { code: 'CODEC_FAILED', message: (err as Error).message } });
      }
    });
  route('encode');
  route('decode');
  return app;
}
