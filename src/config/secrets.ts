// Secrets are never written inline (config.md). This finds the places where one was, so the error
// can name the safe alternative instead of a bare "unknown key".
import { urlHasCredentials } from "./values.js";
import { isSecretName } from "../util/secret-names.js";

export { urlHasCredentials };

export interface SecretProblem {
  path: PropertyKey[];
  message: string;
  hint: string;
  /** Point at the key rather than the value (so the error never needs to show the value). */
  atKey: boolean;
}

const SECRET_KEY = /^(password|passphrase|secret|token|api_key|apikey|access_key|secret_key)$/i;

export function findSecretProblems(data: Record<string, unknown>): SecretProblem[] {
  const problems: SecretProblem[] = [];
  const visit = (value: unknown, p: PropertyKey[]) => {
    if (Array.isArray(value)) {
      value.forEach((v, i) => visit(v, [...p, i]));
      return;
    }
    if (!value || typeof value !== "object") return;
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      const here = [...p, key];
      const parentKey = String(p.at(-1) ?? "");
      if (parentKey === "env" && typeof v !== "object") {
        // The one secret-name rule (util/secret-names.ts), the same that masking and redaction use.
        if (isSecretName(key)) {
          problems.push({
            path: here,
            message: `"${key}" looks like a secret (by its name) and is refused written inline under env:`,
            hint: inlineEnvHint(key),
            atKey: true,
          });
        }
        continue;
      }
      if (SECRET_KEY.test(key) && typeof v === "string") {
        const inRepo = p[0] === "repositories";
        problems.push({
          path: here,
          message: `inline secrets are refused ("${key}" written in the config)`,
          hint: inRepo
            ? "put the password in a file (mode 0600) and use password_file: PATH, or password_command: [pass, show, NAME]"
            : "put it in a file (mode 0600) and reference it with password_file / secret_file / token_file",
          atKey: true,
        });
        continue;
      }
      if ((key === "url" || key === "listen") && typeof v === "string" && urlHasCredentials(v)) {
        problems.push({
          path: here,
          message: "this URL carries credentials inline",
          hint: "put the URL in a file (mode 0600) and use url_file: PATH instead of url:",
          atKey: true,
        });
        continue;
      }
      visit(v, here);
    }
  };
  visit(data, []);
  return problems;
}

function inlineEnvHint(name: string): string {
  const move = `move ${name}=… to an env_file (mode 0600) and reference it with env_file: PATH`;
  if (/^RESTIC_(FROM_)?PASSWORD$/i.test(name))
    return "give the repository password_file: PATH (mode 0600) or password_command: [pass, show, NAME]";
  return `${move}; a repository password belongs in password_file: PATH`;
}
