// Secrets never reach logs, the history DB, notifications or API responses (S1). A Redactor knows
// the secret values of a config (password files, url_files, env files of repositories, notifier
// secrets) and replaces them wherever text leaves holdfast.
export const MASK = "***";

export interface Redactor {
  add(secret: string | null | undefined): void;
  redact(text: string): string;
  readonly size: number;
}

// Short values ("1", "yes") would mask innocent text everywhere; real secrets are longer.
const MIN_SECRET_LENGTH = 4;

export function createRedactor(initial: Iterable<string> = []): Redactor {
  const secrets = new Set<string>();
  let ordered: string[] = [];
  const add = (secret: string | null | undefined) => {
    if (!secret) return;
    for (const candidate of [secret, secret.trim(), safeDecode(secret)]) {
      if (candidate.length >= MIN_SECRET_LENGTH && !secrets.has(candidate)) {
        secrets.add(candidate);
        // Longest first, so a secret that contains another is masked whole.
        ordered = [...secrets].sort((a, b) => b.length - a.length);
      }
    }
  };
  for (const s of initial) add(s);
  return {
    add,
    redact(text: string) {
      let out = maskUrlCredentials(text);
      for (const secret of ordered) if (out.includes(secret)) out = out.split(secret).join(MASK);
      return out;
    },
    get size() {
      return secrets.size;
    },
  };
}

/**
 * scheme://user:password@host → scheme://user:***@host, in any text. The password runs to the last
 * "@" before the path, as URL parsers read it (Go's, WHATWG's): `u:p@ss@host` is user u, password p@ss.
 */
export function maskUrlCredentials(text: string): string {
  if (!text.includes("@")) return text;
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*):([^\s/]+)@/gi, `$1:${MASK}@`);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The parts of a URL that work as credentials on their own: the whole URL (always first), the
 * userinfo password, and path segments or query values that look like tokens (a healthchecks ping UUID, an ntfy topic
 * secret, a webhook key) — so a step that prints only the token is masked too.
 */
export function secretPartsOfUrl(url: string): string[] {
  const parts = [url];
  const userinfo = /\/\/[^/@\s]*:([^/\s]+)@/.exec(url);
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

/**
 * The URL with every part that works as a credential on its own (secretPartsOfUrl) replaced by
 * MASK: what `config show` and the API print for a notifier's inline `url:`.
 */
export function maskUrlSecrets(url: string): string {
  let out = maskUrlCredentials(url);
  for (const part of secretPartsOfUrl(url).slice(1)) {
    out = out.split(part).join(MASK).split(encodeURIComponent(part)).join(MASK);
  }
  return out;
}
