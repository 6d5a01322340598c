// The dashboard's named tokens (viewer or operator), made by `holdfast serve token add NAME --role R`.
// Only a SHA-256 of each is kept, in STATE/server-tokens.json (0600): a token is 32 random bytes, so a
// fast hash is as safe as a slow one (nothing to guess), and checking one costs a microsecond. The value
// is printed once, when it is made, and is never stored, logged or answered by the API.
// The server re-reads the file when it changes (its mtime and size), so a token added or removed takes
// effect without a restart.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { ApiRole, TokenInfo } from "./api-types.js";
import { writeFileAtomicSync } from "../util/atomic-write.js";
import { UsageError } from "../errors.js";

export const TOKENS_FILE_NAME = "server-tokens.json";
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/i;

export interface StoredToken extends TokenInfo {
  /** "sha256:HEX" of the token's text. */
  hash: string;
}

interface TokensDoc {
  version: 1;
  tokens: StoredToken[];
}

export function tokensFileOf(stateDir: string): string {
  return path.join(stateDir, TOKENS_FILE_NAME);
}

export function hashToken(token: string): string {
  return `sha256:${crypto.createHash("sha256").update(token, "utf8").digest("hex")}`;
}

export function readTokens(file: string): StoredToken[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new UsageError(
      `cannot read the token file ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      "check its owner and permissions (it should be 0600, owned by the user that runs holdfast)",
    );
  }
  let doc: Partial<TokensDoc>;
  try {
    doc = JSON.parse(text) as Partial<TokensDoc>;
  } catch {
    throw new UsageError(
      `the token file ${file} is not valid JSON`,
      "restore it from a backup, or remove it and make the tokens again with `holdfast serve token add`",
    );
  }
  if (doc.version !== 1 || !Array.isArray(doc.tokens)) {
    throw new UsageError(`the token file ${file} is not a holdfast token file (version 1)`, null);
  }
  return doc.tokens.filter(
    (t): t is StoredToken =>
      typeof t?.name === "string" &&
      (t.role === "viewer" || t.role === "operator") &&
      typeof t.hash === "string" &&
      t.hash.startsWith("sha256:"),
  );
}

function writeTokens(file: string, tokens: StoredToken[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomicSync(file, `${JSON.stringify({ version: 1, tokens } satisfies TokensDoc, null, 2)}\n`, {
    mode: 0o600,
  });
}

/** Makes a token, stores its hash, and returns its value (the only time it exists outside a client). */
export function addToken(file: string, name: string, role: ApiRole, now = new Date()): string {
  if (!NAME.test(name)) {
    throw new UsageError(
      `token name "${name}" is not valid`,
      "use 1-64 letters, digits, dots, dashes or underscores, e.g. `laptop` or `grafana-viewer`",
    );
  }
  const tokens = readTokens(file);
  if (tokens.some((t) => t.name === name)) {
    throw new UsageError(
      `a token named "${name}" exists already`,
      `remove it first (\`holdfast serve token remove ${name}\`) or pick another name`,
    );
  }
  const value = `hf_${crypto.randomBytes(32).toString("base64url")}`;
  tokens.push({ name, role, created_at: now.toISOString(), hash: hashToken(value) });
  writeTokens(file, tokens);
  return value;
}

export function removeToken(file: string, name: string): boolean {
  const tokens = readTokens(file);
  const kept = tokens.filter((t) => t.name !== name);
  if (kept.length === tokens.length) return false;
  writeTokens(file, kept);
  return true;
}

export interface Caller {
  name: string | null;
  role: ApiRole;
}

/** Who a bearer token is, for the server: the config's token_file (operator) or a named token. */
export class TokenRegistry {
  private cache: { key: string; byHash: Map<string, StoredToken> } | null = null;

  constructor(
    private readonly file: string | null,
    private readonly operatorToken: string | null,
    private readonly logError: (message: string) => void = () => undefined,
  ) {}

  private named(): Map<string, StoredToken> {
    if (!this.file) return new Map();
    let key = "none";
    try {
      const st = fs.statSync(this.file);
      key = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      key = "none";
    }
    if (this.cache?.key === key) return this.cache.byHash;
    let tokens: StoredToken[] = [];
    try {
      tokens = key === "none" ? [] : readTokens(this.file);
    } catch (err) {
      // A broken file must not lock out the config's operator token, nor open anything.
      this.logError(`holdfast serve: ${(err as Error).message}; its tokens are refused until it is fixed`);
    }
    this.cache = { key, byHash: new Map(tokens.map((t) => [t.hash, t])) };
    return this.cache.byHash;
  }

  /** True when any token exists: then every /api call needs one. */
  get required(): boolean {
    return this.operatorToken !== null || this.named().size > 0;
  }

  list(): TokenInfo[] {
    return [...this.named().values()].map(({ name, role, created_at }) => ({ name, role, created_at }));
  }

  /** The caller a token belongs to, or null. Timing: one hash, then a map lookup by that hash (the
   * hash of a wrong token says nothing about a right one); the config's token is compared in
   * constant time. */
  identify(given: string): Caller | null {
    const h = hashToken(given);
    if (this.operatorToken !== null) {
      const a = Buffer.from(h);
      const b = Buffer.from(hashToken(this.operatorToken));
      if (crypto.timingSafeEqual(a, b)) return { name: null, role: "operator" };
    }
    const t = this.named().get(h);
    return t ? { name: t.name, role: t.role } : null;
  }
}
