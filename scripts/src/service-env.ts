/**
 * The environment of a service `npm start` spawns: the start's own environment with
 * `settings` in place of what it held for them. Each setting replaces both of its forms:
 * a service refuses to start with `<NAME>` and `<NAME>_FILE` both set, so the `_FILE`
 * form the user gave the start (read by the start itself, as DATABASE_URL_FILE is) must not
 * reach the service beside the value the start passes on.
 */
export function serviceEnv(
  parent: NodeJS.ProcessEnv,
  settings: Record<string, string>,
): NodeJS.ProcessEnv {
  const env = { ...parent };
  for (const name of Object.keys(settings)) delete env[`${name}_FILE`];
  return { ...env, ...settings };
}
