// The effective config for `config show`, the API and the config cache: secrets masked. Inline
// secrets are refused at load time, so what is left to mask is credentials inside URLs, every inline
// `env:` value whose name is not on the harmless list (util/secret-names.ts), notifier headers (an
// Authorization header has nowhere else to live), and the tokens in a notifier's inline URL (a
// healthchecks ping UUID lets whoever reads it report a backup as done).
import type { Config } from "./types.js";
import { MASK, maskUrlCredentials, maskUrlSecrets } from "../util/redact.js";
import { isHarmlessEnvName } from "../util/secret-names.js";

export function maskConfig(config: Config): unknown {
  const visit = (value: unknown, key: string, parentKey: string): unknown => {
    if (typeof value === "string") {
      if (parentKey === "env" && !isHarmlessEnvName(key)) return MASK;
      if (parentKey === "headers") return MASK;
      return maskUrlCredentials(value);
    }
    if (Array.isArray(value)) return value.map((v) => visit(v, key, parentKey));
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, visit(v, k, key)]));
    }
    return value;
  };
  const masked = visit(config, "", "") as { notifications?: Record<string, Record<string, unknown>> };
  for (const notifier of Object.values(masked.notifications ?? {}))
    if (typeof notifier.url === "string") notifier.url = maskUrlSecrets(notifier.url);
  return masked;
}

/**
 * The config with the same values masked, still a Config: what the config cache stores. Only the
 * read-only commands read the cache (status, history, show, logs, metrics); none of them runs a
 * program or sends a notification, so none needs the masked values.
 */
export function maskConfigForCache(config: Config): Config {
  return maskConfig(config) as Config;
}
