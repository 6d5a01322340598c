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

/** scheme://user:password@host → scheme://user:***@host, in any text. */
export function maskUrlCredentials(text: string): string {
  if (!text.includes("@")) return text;
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*):([^\s/@]+)@/gi, `$1:${MASK}@`);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
