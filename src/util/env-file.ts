// KEY=VALUE files (the seed's direnv .env, a repository's backend credentials).
import fs from "node:fs";
import { EXIT, HoldfastError } from "../errors.js";

export class EnvFileError extends HoldfastError {
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`, { kind: "config", exitCode: EXIT.usage });
    this.name = "EnvFileError";
    this.file = file;
    this.line = line;
  }
}

/** Parses `KEY=VALUE` lines: `export ` prefix, # comments, blank lines, single/double quotes. */
export function parseEnvText(text: string, file = "<env>"): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) throw new EnvFileError(file, i + 1, "expected KEY=VALUE");
    const key = match[1] as string;
    let value = match[2] ?? "";
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
      const quote = value[0];
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    } else {
      value = value.replace(/\s+#.*$/, "");
    }
    out[key] = value;
  });
  return out;
}

export function readEnvFile(file: string): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new EnvFileError(
      file,
      0,
      `cannot read env file (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
  return parseEnvText(text, file);
}
