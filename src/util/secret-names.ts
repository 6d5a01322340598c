// The one rule for which environment variable names hold secrets and which are harmless (S9). Config
// validation (config/secrets.ts refuses a secret-named inline `env:`), masking (config/mask.ts, the
// config cache) and redaction (engine/secrets.ts) all ask here, so a name can never pass one and
// leak through another. No imports: config/, engine/ and server/ all depend on it.

/**
 * Words that make a name secret wherever they appear, even glued to another word (PGPASSWORD,
 * MYPASSPHRASE): none of them is part of a common harmless word.
 */
const SECRET_SUBSTRINGS = ["PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "CREDENTIAL"];

/**
 * Short words that make a name secret only as a whole `_`-separated segment, so RCLONE_CONFIG_PASS,
 * MYSQL_PWD, B2_ACCOUNT_KEY and HTTP_AUTH are secrets but KEYBOARD_LAYOUT, PASSIVE_MODE, AUTHOR_NAME
 * and BYPASS are not.
 */
const SECRET_SEGMENTS = new Set([
  "PASS",
  "PWD",
  "KEY",
  "KEYS",
  "APIKEY",
  "ACCESSKEY",
  "AUTH",
  "AUTHORIZATION",
  "SAS",
  "COOKIE",
]);

/**
 * A last segment that says the variable names where a secret is, not the secret itself:
 * RESTIC_PASSWORD_FILE, RESTIC_PASSWORD_COMMAND, AWS_ACCESS_KEY_ID, SSH_AUTH_SOCK.
 */
const POINTER_SUFFIXES = new Set(["ID", "FILE", "PATH", "COMMAND", "CMD", "DIR", "SOCK"]);

/** Names the rule would catch that are well known not to hold a secret. */
const NOT_SECRET_NAMES = new Set(["PWD", "OLDPWD", "GOOGLE_APPLICATION_CREDENTIALS"]);

/**
 * True when a variable of this name holds a secret by its name (RESTIC_PASSWORD, BORG_PASSPHRASE,
 * …). Segments are split on `_`, `-` and `.`, so the rule also reads HTTP header names (X-Api-Key).
 */
export function isSecretName(name: string): boolean {
  const upper = name.toUpperCase();
  if (NOT_SECRET_NAMES.has(upper)) return false;
  const segments = upper.split(/[_\-.]+/).filter((s) => s !== "");
  if (segments.length > 1 && POINTER_SUFFIXES.has(segments.at(-1) ?? "")) return false;
  if (SECRET_SUBSTRINGS.some((word) => upper.includes(word))) return true;
  return segments.some((segment) => SECRET_SEGMENTS.has(segment));
}

/**
 * The short list of names whose inline `env:` values are shown by `config show` and left alone in
 * logs: locale, time zone, where things are, and tuning knobs. Any other inline value is masked and
 * redacted like a secret, because holdfast cannot know what it is. Keep this list short.
 */
export const HARMLESS_ENV_NAMES: readonly string[] = [
  "TZ",
  "LANG",
  "LANGUAGE",
  "LC_*",
  "HOME",
  "PATH",
  "TMPDIR",
  "USER",
  "LOGNAME",
  "GOMAXPROCS",
  "RESTIC_CACHE_DIR",
  "RESTIC_PACK_SIZE",
  "RESTIC_COMPRESSION",
  "RESTIC_READ_CONCURRENCY",
  "RCLONE_BWLIMIT",
];

const HARMLESS_EXACT = new Set(HARMLESS_ENV_NAMES.filter((n) => !n.endsWith("*")));
const HARMLESS_PREFIXES = HARMLESS_ENV_NAMES.filter((n) => n.endsWith("*")).map((n) => n.slice(0, -1));

/** True when an inline value of this name may be shown as it is (HARMLESS_ENV_NAMES). */
export function isHarmlessEnvName(name: string): boolean {
  return HARMLESS_EXACT.has(name) || HARMLESS_PREFIXES.some((prefix) => name.startsWith(prefix));
}
