import { pipeline, type Transform } from 'node:stream';
import zlib from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import sjson from 'secure-json-parse';
import { errors } from './errors';

/** Content codings a request body may use (RFC 9110 section 8.4.1); identity is none. */
const DECODERS: Record<string, () => zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
};

/** Fatal: a byte sequence that is not UTF-8 is refused, never replaced by U+FFFD. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A request body as text: UTF-8 (RFC 8259 section 8.1), a leading byte-order mark dropped
 * (section 8.1 lets a parser ignore it), invalid UTF-8 refused with 400.
 */
export function decodeBody(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    throw errors.invalidBody('it is not valid UTF-8');
  }
}

/**
 * Strict JSON: invalid UTF-8, trailing garbage and `__proto__` or `constructor.prototype`
 * keys are refused. An empty body is no body (null), so that a route whose body is
 * optional takes it with or without `Content-Type: application/json`.
 */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return null;
  const text = decodeBody(body);
  try {
    return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    throw errors.invalidBody(`it is not valid JSON (${(err as Error).message})`);
  }
}

/** The stream fastify reads the body from; it compares the encoded length with limits. */
type DecodedStream = Transform & { receivedEncodedLength?: number };

/**
 * Bodies in JSON only (other media types 415, per route parsers may add theirs), and
 * compressed bodies decompressed before parsing: gzip, deflate and br (bulk clients
 * compress their batches); any other coding is 415 (RFC 9110 section 15.5.16). The body
 * limit of a route applies to the decompressed bytes, so a small compressed body cannot
 * expand without bound.
 */
export function acceptJsonBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addHook('preParsing', (request, _reply, payload, done) => {
    // Node reads the chunked framing and hands any other transfer coding over undecoded: a
    // coding we do not understand is refused (400: a bad request from the client, where RFC 9112
    // section 6.1 suggests 501), not a body read raw.
    const transfer = request.headers['transfer-encoding'];
    if (
      transfer !== undefined &&
      transfer.split(',').some((coding) => coding.trim().toLowerCase() !== 'chunked')
    ) {
      done(errors.unsupportedTransferCoding(JSON.stringify(transfer)), undefined);
      return;
    }
    const header = request.headers['content-encoding'];
    const coding = (header ?? '').trim().toLowerCase();
    // No body (neither length nor chunks, or a length of 0): nothing to decode, and a
    // decoder given no bytes fails with "unexpected end of file" where nothing listens.
    const { 'content-length': length, 'transfer-encoding': chunked } = request.headers;
    const hasBody = chunked !== undefined || (length !== undefined && length !== '0');
    if (coding === '' || coding === 'identity' || !hasBody) {
      done(null, payload);
      return;
    }
    const decoder = DECODERS[coding];
    if (decoder === undefined) {
      done(errors.unsupportedEncoding(JSON.stringify(header)), undefined);
      return;
    }
    const decoded: DecodedStream = decoder();
    let encodedLength = 0;
    payload.on('data', (chunk: Buffer) => {
      encodedLength += chunk.length;
      decoded.receivedEncodedLength = encodedLength;
    });
    // Errors reach fastify through `decoded` when it reads the body: a bad stream is a 400
    // (see the error handler). A body fastify does not read (a GET, a media type it refuses)
    // may fail after the answer; that failure is only logged, it belongs to no answer.
    decoded.on('error', (err) => request.log.debug({ err }, 'compressed body not decoded'));
    pipeline(payload, decoded, () => undefined);
    done(null, decoded);
  });
}
