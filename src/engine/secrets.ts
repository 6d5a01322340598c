// Collects the secret values a config points at, so the redactor can mask them everywhere (S1).
import fs from "node:fs";
import type { Config } from "../config/schema.js";
import { parseEnvText } from "../util/env-file.js";
import { createRedactor, type Redactor } from "../util/redact.js";

const SECRET_ENV = /(PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL)/i;

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
    redactor.add(url.trim());
    const match = /\/\/[^/@\s]*:([^/@\s]+)@/.exec(url);
    if (match?.[1]) redactor.add(match[1]);
  };
  const addEnvFile = (file: string | undefined, all: boolean) => {
    const text = readQuietly(file);
    if (!text) return;
    try {
      for (const [key, value] of Object.entries(parseEnvText(text)))
        if (all || SECRET_ENV.test(key)) redactor.add(value);
    } catch {
      /* a malformed env file is reported when a step uses it */
    }
  };
  for (const repo of Object.values(config.repositories)) {
    redactor.add(readQuietly(repo.password_file)?.trim());
    addUrl(readQuietly(repo.url_file));
    // Every value in a repository's env file is a backend credential or close to one.
    addEnvFile(repo.env_file, true);
  }
  addEnvFile(config.env_file, false);
  for (const job of Object.values(config.jobs)) {
    addEnvFile(job.env_file, false);
    for (const step of job.steps) addEnvFile(step.env_file, false);
  }
  for (const n of Object.values(config.notifications)) {
    for (const key of ["url_file", "secret_file", "token_file"]) {
      const value = n[key];
      if (typeof value === "string") addUrl(readQuietly(value));
    }
    const smtp = n.smtp as { password_file?: string } | undefined;
    redactor.add(readQuietly(smtp?.password_file)?.trim());
  }
  return redactor;
}
