// A database password from a dump step's password_file, handed to the client the way the client
// reads secrets from a file: a PGPASSFILE for PostgreSQL, an option file for --defaults-extra-file
// for MariaDB/MySQL. Both are written 0600 in a private 0700 directory (mkdtemp) and removed when
// the step or the restore is done. The password never goes into argv, the environment or a log.
import fs from "node:fs";
import path from "node:path";
import { stepError, type StepError } from "../errors.js";
import { makePrivateTempDir } from "../util/private-temp.js";
import type { ClientCredentials, DumpEngine } from "./drivers.js";

export interface PreparedCredentials {
  creds: ClientCredentials;
  /** Removes the private directory (idempotent). */
  cleanup(): void;
}

/** The first line of password_file, or a config error naming the file. */
export function readPasswordFile(file: string): string | StepError {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    return stepError(
      code === "EACCES" ? "permission" : "config",
      `cannot read password_file ${file} (${code || (err as Error).message})`,
      "create it (one line, the password; mode 0600) or fix password_file in the step",
    );
  }
  const password = text.split(/\r?\n/)[0] ?? "";
  if (password === "")
    return stepError("config", `password_file ${file} is empty`, "write the password on its first line");
  return password;
}

/** libpq's .pgpass escapes ":" and "\" with a backslash. */
export function pgpassLine(password: string): string {
  return `*:*:*:*:${password.replace(/[\\:]/g, (c) => `\\${c}`)}\n`;
}

/** A MariaDB option file value in double quotes ("\" and '"' escaped; newlines are not allowed). */
export function mysqlOptionFile(password: string): string {
  return `[client]\npassword="${password.replace(/[\\"]/g, (c) => `\\${c}`)}"\n`;
}

export function prepareCredentials(
  engine: DumpEngine,
  passwordFile: string | undefined,
): PreparedCredentials | StepError {
  if (passwordFile === undefined || (engine !== "postgresql" && engine !== "mariadb" && engine !== "mysql"))
    return { creds: {}, cleanup: () => undefined };
  const password = readPasswordFile(passwordFile);
  if (typeof password !== "string") return password;
  // Named with our pid: a killed holdfast's directory (and the password in it) goes at the next one.
  const dir = makePrivateTempDir("holdfast-dbauth-");
  let removed = false;
  const cleanup = () => {
    if (removed) return;
    removed = true;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (engine === "postgresql") {
      const file = path.join(dir, "pgpass");
      fs.writeFileSync(file, pgpassLine(password), { mode: 0o600 });
      return { creds: { pgpassFile: file }, cleanup };
    }
    const file = path.join(dir, "client.cnf");
    fs.writeFileSync(file, mysqlOptionFile(password), { mode: 0o600 });
    return { creds: { optionFile: file }, cleanup };
  } catch (err) {
    cleanup();
    return stepError("internal", `cannot write the client's password file: ${(err as Error).message}`);
  }
}
