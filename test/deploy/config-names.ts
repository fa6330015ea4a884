import type { TProperties } from '@sinclair/typebox';
import { isSecret } from '@catchall/core';

/**
 * The variable a name given to a program sets: itself, or for `<NAME>_FILE` the secret
 * NAME (a field the program's schema marks secret, which loadConfig reads from that file);
 * undefined when the program reads neither.
 */
export function variableSet(fields: TProperties, name: string): string | undefined {
  if (name in fields) return name;
  const secret = name.replace(/_FILE$/, '');
  if (secret !== name && isSecret(fields[secret])) return secret;
  return undefined;
}
