import { Type } from '@sinclair/typebox';
import { MAX_RAW_DOMAIN_LENGTH } from '../domain/normalize-domain';

/**
 * Formats that name what a string holds for the OpenAPI document and for generators of
 * test data. The schema validator does not check them: the route does, with an answer
 * that says which rule failed (a lookup answers per name, a batch per index).
 */
export const DOMAIN_FORMAT = 'domain';
export const CURSOR_FORMAT = 'page-cursor';
/** A consistency token (core/src/domain/consistency-token.ts), in a request header. */
export const CONSISTENCY_TOKEN_FORMAT = 'consistency-token';

/**
 * A domain in a path, a batch item or a lookup: the one limit of every route, on the name
 * as sent; normalization then allows 253 characters (RFC 1123) and answers 400 beyond.
 */
export const DomainField = Type.String({
  minLength: 1,
  maxLength: MAX_RAW_DOMAIN_LENGTH,
  format: DOMAIN_FORMAT,
  description:
    'the mail domain as sent (Unicode or punycode, any case, one trailing dot); normalized before use, then at most 253 characters (RFC 1123)',
});
