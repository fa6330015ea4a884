import { hash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

/** The entity tags of an If-None-Match value (RFC 9110 section 8.8.3), their opaque parts. */
const ENTITY_TAG = /(?:W\/)?("[^"]*")/g;

/**
 * True when an If-None-Match value (RFC 9110 section 13.1.2) matches `etag`: `*`, or one of
 * its entity tags by weak comparison (section 8.8.3.2: the opaque tags are equal, `W/` or
 * not). Several header lines count as one list.
 */
export function noneMatchHits(ifNoneMatch: string | string[] | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const value = Array.isArray(ifNoneMatch) ? ifNoneMatch.join(', ') : ifNoneMatch;
  if (value.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  for (const [, tag] of value.matchAll(ENTITY_TAG)) if (tag === opaque) return true;
  return false;
}

/**
 * Conditional GET (RFC 9110 section 13.1.2): a `200` answer to GET or HEAD carries a weak
 * ETag (the body's SHA-1, base64), and a request whose If-None-Match matches it gets `304`
 * without a body. Nothing else is conditional: a POST such as a lookup selects no
 * representation of its target (its answer depends on the request content), so its
 * conditional headers are ignored and it carries no ETag (section 13.2.1), and an answer
 * other than 200 would be the same without the condition (section 13.2.1: preconditions
 * are ignored when the answer is not 2xx).
 */
export function conditionalGets(app: FastifyInstance): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    const method = request.method;
    if ((method !== 'GET' && method !== 'HEAD') || reply.statusCode !== 200) {
      done(null, payload);
      return;
    }
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) {
      done(null, payload);
      return;
    }
    // crypto.hash: the one-shot digest, without a Hash object per answer.
    const etag = `W/"${hash('sha1', payload, 'base64')}"`;
    void reply.header('etag', etag);
    if (noneMatchHits(request.headers['if-none-match'], etag)) {
      void reply.code(304);
      done(null, '');
      return;
    }
    done(null, payload);
  });
}
