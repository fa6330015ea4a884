import { domainToASCII } from 'node:url';

/** RFC 1123 section 2.1 limits, applied to the ASCII (punycode) form. */
export const MAX_DOMAIN_LENGTH = 253;
export const MAX_LABEL_LENGTH = 63;

/**
 * The longest input (UTF-16 code units, after percent-decoding) normalization looks at.
 * A valid name has at most 253 code points in any form (each punycode label encodes at
 * most as many code points as it has characters), that is at most 506 code units, plus
 * white space and a trailing dot: 1024 leaves room for all of them. Every route applies
 * this one limit to the name as sent and MAX_DOMAIN_LENGTH to its normalized form.
 */
export const MAX_RAW_DOMAIN_LENGTH = 1024;

/**
 * The longest path segment that can carry a name of MAX_RAW_DOMAIN_LENGTH code units:
 * percent-encoded UTF-8 takes at most 9 characters per code unit (3 bytes of a code point
 * below U+10000, `%XX` each; a surrogate pair takes 12 for 2 units).
 */
export const MAX_ENCODED_DOMAIN_LENGTH = 9 * MAX_RAW_DOMAIN_LENGTH;

const ALL_DIGITS = /^[0-9]+$/;

const LABEL = /^[a-z0-9-]+$/;
// The common case in one test: ASCII labels of 1 to 63 letters, digits and inner hyphens,
// none of them punycode. A name it accepts passes every check below unchanged.
const PLAIN_HOST =
  /^(?!(?:.*\.)?xn--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const NEEDS_IDNA = /[^\p{ASCII}]|(^|\.)xn--/u;

export type NormalizedDomain = { ok: true; domain: string } | { ok: false; reason: string };

function reject(reason: string): NormalizedDomain {
  return { ok: false, reason };
}

function checkLabel(label: string): string | undefined {
  if (label.length === 0) return 'has an empty label (two dots in a row or a leading dot)';
  if (label.length > MAX_LABEL_LENGTH) {
    return `has a label longer than ${MAX_LABEL_LENGTH} characters`;
  }
  if (!LABEL.test(label)) {
    return 'may contain only letters, digits, hyphens and dots';
  }
  if (label.startsWith('-') || label.endsWith('-')) {
    return 'has a label that starts or ends with a hyphen';
  }
  return undefined;
}

/**
 * Normalizes a domain name as ARCHITECTURE.md, section 3 says: trimmed, lower-cased, one
 * trailing dot removed, internationalized names converted to punycode, then checked to be
 * a valid RFC 1123 host name. Pure: the same input always gives the same answer.
 * Limits: MAX_RAW_DOMAIN_LENGTH code units as sent, MAX_DOMAIN_LENGTH after normalization,
 * MAX_LABEL_LENGTH per label; `reason` says which rule the input breaks.
 */
export function normalizeDomain(input: string): NormalizedDomain {
  if (input.length > MAX_RAW_DOMAIN_LENGTH) {
    return reject(`is longer than ${MAX_RAW_DOMAIN_LENGTH} characters as sent`);
  }
  let name = input.trim().toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name.length === 0) return reject('is empty');
  if (name.length <= MAX_DOMAIN_LENGTH && PLAIN_HOST.test(name)) return checkTopLabel(name);
  if (NEEDS_IDNA.test(name)) {
    // WHATWG/UTS #46 processing; '' means the name is not a valid IDN.
    const ascii = domainToASCII(name);
    if (ascii === '') return reject('is not a valid internationalized domain name');
    name = ascii;
  }
  if (name.length > MAX_DOMAIN_LENGTH) {
    return reject(`is longer than ${MAX_DOMAIN_LENGTH} characters`);
  }
  for (const label of name.split('.')) {
    const problem = checkLabel(label);
    if (problem !== undefined) return reject(problem);
  }
  return checkTopLabel(name);
}

/**
 * RFC 1123 section 2.1: a host name never has the dotted-decimal form of an address, since
 * its highest-level label is not all-numeric (`1.2.3.4` is an address, not a mail domain).
 */
function checkTopLabel(name: string): NormalizedDomain {
  if (ALL_DIGITS.test(name.slice(name.lastIndexOf('.') + 1))) {
    return reject(
      'has an all-numeric top-level label (an IP address is not a host name, RFC 1123 section 2.1)',
    );
  }
  return { ok: true, domain: name };
}
