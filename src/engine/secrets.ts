// Collects the secret values a config points at, so the redactor can mask them everywhere (S1, S9):
// password and url files, every value of every env file (BORG_PASSPHRASE, MYSQL_PWD and a variable
// named FOO alike: holdfast cannot tell what a value is by its name), every inline `env:` value
// whose name is not on the harmless list (util/secret-names.ts), notifier secrets, the tokens in a
// notifier's inline URL, and secret-named headers (Authorization, X-Api-Key).
import fs from "node:fs";
import type { Config } from "../config/types.js";
import { parseEnvText } from "../util/env-file.js";
import { createRedactor, secretPartsOfUrl, type Redactor } from "../util/redact.js";
import { isHarmlessEnvName, isSecretName } from "../util/secret-names.js";

export { secretPartsOfUrl };

function readQuietly(file: string | undefined): string | null {
  if (!file) return null;
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

export function redactorForConfig(config: Config): Redactor {
  const redactor = createRedactor();
  const addUrl = (url: string | null) => {
    if (!url) return;
    for (const part of secretPartsOfUrl(url.trim())) redactor.add(part);
  };
  const addEnvFile = (file: string | undefined) => {
    const text = readQuietly(file);
    if (!text) return;
    try {
      for (const value of Object.values(parseEnvText(text))) redactor.add(value);
    } catch {
      // A malformed env file is reported when a step uses it; until then its lines are all secrets.
      for (const line of text.split(/\r?\n/)) redactor.add(line.replace(/^[^=]*=/, "").trim());
    }
  };
  const addInlineEnv = (env: Record<string, string> | undefined) => {
    for (const [name, value] of Object.entries(env ?? {})) if (!isHarmlessEnvName(name)) redactor.add(value);
  };
  for (const repo of Object.values(config.repositories)) {
    redactor.add(readQuietly(repo.password_file)?.trim());
    addUrl(readQuietly(repo.url_file));
    addEnvFile(repo.env_file);
    addInlineEnv(repo.env);
  }
  addEnvFile(config.env_file);
  addInlineEnv(config.env);
  for (const job of Object.values(config.jobs)) {
    addEnvFile(job.env_file);
    addInlineEnv(job.env);
    for (const step of job.steps) {
      addEnvFile(step.env_file);
      addInlineEnv(step.env);
      // A step's own secret (a dump step's database password).
      if (typeof step.password_file === "string")
        redactor.add(readQuietly(step.password_file)?.split(/\r?\n/)[0]);
    }
  }
  for (const n of Object.values(config.notifications)) {
    // An inline URL's tokens (a ping UUID, a hook key) work as credentials as much as a url_file's.
    if (typeof n.url === "string") for (const part of secretPartsOfUrl(n.url).slice(1)) redactor.add(part);
    for (const key of ["url_file", "secret_file", "token_file"]) {
      const value = n[key];
      if (typeof value === "string") addUrl(readQuietly(value));
    }
    const headers = n.headers as Record<string, string> | undefined;
    for (const [name, value] of Object.entries(headers ?? {})) {
      if (!isSecretName(name)) continue;
      redactor.add(value);
      // "Bearer TOKEN", "Basic BASE64": the credential alone, too.
      redactor.add(value.replace(/^\S+\s+/, ""));
    }
    const smtp = n.smtp as { password_file?: string } | undefined;
    redactor.add(readQuietly(smtp?.password_file)?.trim());
  }
  return redactor;
}
