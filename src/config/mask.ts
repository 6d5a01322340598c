// The effective config for `config show` and the API: secrets masked. Inline secrets are refused at
// load time, so what is left to mask is credentials inside URLs and secret-looking env values.
import type { Config } from "./schema.js";
import { MASK, maskUrlCredentials } from "../util/redact.js";

const SECRET_ENV = /(PASSWORD|PASSWD|SECRET|TOKEN|ACCOUNT_KEY|ACCESS_KEY|PRIVATE_KEY|API_KEY|CREDENTIAL)/i;

export function maskConfig(config: Config): unknown {
  const visit = (value: unknown, key: string, parentKey: string): unknown => {
    if (typeof value === "string") {
      if (parentKey === "env" && SECRET_ENV.test(key) && !/_ID$/.test(key)) return MASK;
      return maskUrlCredentials(value);
    }
    if (Array.isArray(value)) return value.map((v) => visit(v, key, parentKey));
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, visit(v, k, key)]));
    }
    return value;
  };
  return visit(config, "", "");
}
