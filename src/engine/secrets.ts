// Collects the secret values a config points at, so the redactor can mask them everywhere (S1, S9):
// password and url files, every value of every env file (BORG_PASSPHRASE, MYSQL_PWD and a variable
// named FOO alike: holdfast cannot tell what a value is by its name), every inline `env:` value
// whose name is not on the harmless list (util/secret-names.ts), notifier secrets and secret-named headers (Authorization, X-Api-Key).
import fs from "node:fs";
import type { Config } from "../config/schema.js";
import { parseEnvText } from "../util/env-file.js";
import { createRedactor, type Redactor } from "../util/redact.js";
import { isHarmlessEnvName, isSecretName } from "../util/secret-names.js";

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
    }
  }
  for (const n of Object.values(config.notifications)) {
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

/**
 * The parts of a URL that work as credentials on their own: the whole URL, the userinfo password,
 * and path segments or query values that look like tokens (a healthchecks ping UUID, an ntfy topic
 * secret, a webhook key) — so a step that prints only the token is masked too.
 */
export function secretPartsOfUrl(url: string): string[] {
  const parts = [url];
  const userinfo = /\/\/[^/@\s]*:([^/@\s]+)@/.exec(url);
  if (userinfo?.[1]) parts.push(userinfo[1]);
  let parsed: URL | null = null;
  try {
    parsed = new URL(url.replace(/^(rest|s3|sftp|rclone|b2|azure|gs):(?=[a-z]+:\/\/)/i, ""));
  } catch {
    parsed = null;
  }
  if (!parsed) return parts;
  const looksLikeToken = (text: string) =>
    text.length >= 12 && /^[A-Za-z0-9_~.=+-]+$/.test(text) && /\d/.test(text) && /[A-Za-z]/.test(text);
  for (const segment of parsed.pathname.split("/")) {
    const decoded = safeDecode(segment);
    if (looksLikeToken(decoded)) parts.push(decoded);
  }
  for (const value of parsed.searchParams.values()) if (looksLikeToken(value)) parts.push(value);
  return parts;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
