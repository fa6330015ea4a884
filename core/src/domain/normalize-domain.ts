import { domainToASCII } from 'node:url';

/** RFC 1123 section 2.1 limits, applied to the ASCII (punycode) form. */
export const MAX_DOMAIN_LENGTH = 253;
export const MAX_LABEL_LENGTH = 63;

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
 */
export function normalizeDomain(input: string): NormalizedDomain {
  let name = input.trim().toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name.length === 0) return reject('is empty');
  if (name.length <= MAX_DOMAIN_LENGTH && PLAIN_HOST.test(name)) return { ok: true, domain: name };
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
  return { ok: true, domain: name };
}
