// zod building blocks for the value formats of config.md. Paths expand `~`, `$VAR` and `${VAR}` and
// resolve against the config file's directory; that directory is known only while a file is being
// loaded, so load.ts sets it around the (synchronous) parse with withPathBase.
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { patternProblem, tagSpecProblem } from "../sources/selection.js";
import { parseDuration, parsePercent, parseResticDuration, parseSize } from "../util/units.js";

export const MAX_NAME_LENGTH = 64;
export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]*$/;

let pathBase: { dir: string; env: NodeJS.ProcessEnv } | null = null;

export function withPathBase<T>(dir: string, env: NodeJS.ProcessEnv, fn: () => T): T {
  const previous = pathBase;
  pathBase = { dir, env };
  try {
    return fn();
  } finally {
    pathBase = previous;
  }
}

/**
 * Expands $VAR/${VAR}, then a leading ~, and nothing else: no path resolution, so the caller can
 * decide what the value is (a URL, a remote `host:path`, a path) from what it expands to — `url:
 * $REPO_URL` holding `rest:http://…` is a URL, not a local directory named after it.
 */
export function expandVariables(
  raw: string,
  env: NodeJS.ProcessEnv,
): { value: string } | { missing: string } {
  let missing: string | null = null;
  let text = raw.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, braced, bare) => {
    const name = (braced ?? bare) as string;
    const value = env[name];
    if (value === undefined) missing ??= name;
    return value ?? "";
  });
  if (missing) return { missing };
  if (text === "~" || text.startsWith("~/")) text = path.join(env.HOME ?? os.homedir(), text.slice(1));
  return { value: text };
}

/** Expands ~ and $VAR/${VAR}; returns the unset variable's name instead when one is missing. */
export function expandPath(
  raw: string,
  dir: string,
  env: NodeJS.ProcessEnv,
): { value: string } | { missing: string } {
  const expanded = expandVariables(raw, env);
  if ("missing" in expanded) return expanded;
  return { value: path.resolve(dir, expanded.value) };
}

/** The value with its variables expanded, or an issue added (unset variable); raw outside a file load. */
function expandOrIssue(raw: string, ctx: z.RefinementCtx): string | null {
  if (raw.includes("\0")) {
    ctx.addIssue({ code: "custom", message: "a path cannot contain a NUL byte" });
    return null;
  }
  if (!pathBase) return raw;
  const result = expandVariables(raw, pathBase.env);
  if ("missing" in result) {
    ctx.addIssue({
      code: "custom",
      message: `environment variable $${result.missing} is not set`,
      params: { hint: `set ${result.missing} in the environment of holdfast, or write the value out` },
    });
    return null;
  }
  return result.value;
}

/** An expanded value made absolute against the config file's directory. */
function resolveAgainstBase(expanded: string): string {
  return pathBase ? path.resolve(pathBase.dir, expanded) : expanded;
}

export const nameSchema = z
  .string()
  .regex(NAME_PATTERN, "must be lowercase letters, digits, '_' or '-', starting with a letter or digit")
  // Names become file names (locks, logs) and systemd unit names, which have length limits.
  .max(MAX_NAME_LENGTH, `must be at most ${MAX_NAME_LENGTH} characters`);

/** A filesystem path: expanded and made absolute. */
export const pathSchema = z
  .string()
  .min(1, "must not be empty")
  .transform((raw, ctx) => {
    const expanded = expandOrIssue(raw, ctx);
    if (expanded === null) return z.NEVER;
    return resolveAgainstBase(expanded);
  });

/** rsync's `host:path` / `user@host:path` (no "/" before the first ":"). */
export const REMOTE_SPEC = /^[^/~$][^/:]*:/;

/**
 * A path or an rsync-style `host:path` / `user@host:path` remote (kept literal when remote). Expanded
 * first, then decided: `from: $SRC` holding `nas:/data` is a remote, not a local directory.
 */
export const pathOrRemoteSchema = z
  .string()
  .min(1)
  .transform((raw, ctx) => {
    // A remote written out is kept as written (a `$` there is the remote shell's business).
    if (REMOTE_SPEC.test(raw)) return raw;
    const expanded = expandOrIssue(raw, ctx);
    if (expanded === null) return z.NEVER;
    if (REMOTE_SPEC.test(expanded)) return expanded;
    const resolved = resolveAgainstBase(expanded);
    // Keep a trailing slash: for rsync it means "the contents of".
    return expanded.endsWith("/") && !resolved.endsWith("/") ? `${resolved}/` : resolved;
  });

/** restic's backends (restic 0.14 … 0.19, internal/backend/location); anything else is a local path to restic. */
export const RESTIC_BACKENDS = ["sftp", "rest", "s3", "b2", "azure", "gs", "swift", "rclone"] as const;

const URL_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** A URL whose userinfo carries a password: scheme://user:pass@host or rest:http://user:pass@host. */
export function urlHasCredentials(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:(?:[a-z][a-z0-9+.-]*:)?\/\/[^/@\s]*:[^/@\s]*@/i.test(url);
}

/**
 * An rclone repository whose connection string sets a credential inline — rclone::s3,secret_access_key=…:
 * or remote,pass=…: — names the parameter (never its value); null when none. restic passes the string
 * to `rclone serve restic` on its command line, so such a value would be visible in ps, plans and logs.
 */
export function rcloneInlineCredential(url: string): string | null {
  if (!/^rclone:/i.test(url)) return null;
  // The remote part runs up to the first ':' after the (possibly empty) remote name.
  const remote = /^rclone:(:?[^:]*)/i.exec(url)?.[1] ?? "";
  for (const param of remote.split(",").slice(1)) {
    const name = param.split("=")[0]?.trim().toLowerCase() ?? "";
    if (/secret|pass|token|key|credential|sas_url|session|auth_url|bearer/.test(name) && name !== "env_auth")
      return name;
  }
  return null;
}

/**
 * A repository: a path (~, $VAR and relative paths resolve like every other path) or a backend URL
 * (rest:, s3:, sftp:, b2:, rclone:, …) kept as written. The order matters: expand first, then decide
 * URL or path from the result, then refuse credentials in the result — `url: $REPO_URL` holding
 * `rest:http://user:pass@host/` is a REST URL with inline credentials, whatever the file shows.
 */
export const repositoryUrlSchema = z
  .string()
  .min(1)
  .transform((raw, ctx) => {
    // A URL written out is kept as written, `$` included (config.md: variables expand in paths);
    // a value that only becomes a URL through a variable is judged by what it becomes.
    const expanded = URL_SCHEME.test(raw) ? raw : expandOrIssue(raw, ctx);
    if (expanded === null) return z.NEVER;
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(expanded);
    if (!scheme) return resolveAgainstBase(expanded);
    const [, name, rest] = scheme as unknown as [string, string, string];
    if (name === "local") {
      // `local:PATH` is a path like any other (restic would take a relative one from its own cwd).
      const local = expandOrIssue(rest, ctx);
      return local === null ? z.NEVER : resolveAgainstBase(local);
    }
    if (!(RESTIC_BACKENDS as readonly string[]).includes(name)) {
      ctx.addIssue({
        code: "custom",
        message: `"${name}:" is not a restic backend${raw !== expanded ? ` (${raw} expands to it)` : ""}`,
        params: {
          hint: `write a local repository as a path (/data/restic, ./restic), or use one of ${RESTIC_BACKENDS.map((b) => `${b}:`).join(", ")}`,
        },
      });
      return z.NEVER;
    }
    const rcloneParam = rcloneInlineCredential(expanded);
    if (rcloneParam !== null) {
      ctx.addIssue({
        code: "custom",
        message: `this rclone repository sets ${rcloneParam}= inline in its connection string${raw !== expanded ? ` (after expanding ${raw})` : ""}: restic would pass it on rclone's command line`,
        params: {
          hint: "configure the remote in rclone.conf (rclone config) and name it (rclone:REMOTE:path), or set RCLONE_CONFIG_REMOTE_* variables in the repository's env_file (mode 0600)",
        },
      });
      return z.NEVER;
    }
    if (urlHasCredentials(expanded)) {
      ctx.addIssue({
        code: "custom",
        message: `this URL carries credentials inline${raw !== expanded ? ` (after expanding ${raw})` : ""}`,
        params: {
          hint: "put the URL in a file (mode 0600) and use url_file: PATH instead of url:, or give the backend its credentials through the repository's env_file",
        },
      });
      return z.NEVER;
    }
    return expanded;
  });

export const durationSchema = z.union([z.string(), z.number()]).transform((raw, ctx) => {
  if (typeof raw === "number") {
    ctx.addIssue({
      code: "custom",
      message: `a bare number (${raw}) is ambiguous as a duration`,
      params: { hint: `write it with a unit, e.g. "${raw}s" or "${raw}m"` },
    });
    return z.NEVER;
  }
  const ms = parseDuration(raw);
  if (ms === null) {
    ctx.addIssue({
      code: "custom",
      message: `"${raw}" is not a duration`,
      params: { hint: "use a number and a unit: 90s, 15m, 26h, 7d, or combinations like 1h30m" },
    });
    return z.NEVER;
  }
  return ms;
});

/** restic's duration for keep-within*: 1y6m2d3h (y m d h only), checked as restic would. */
export const resticDurationSchema = z
  .string()
  .transform((raw, ctx) => {
    const parsed = parseResticDuration(raw);
    if ("error" in parsed) {
      ctx.addIssue({ code: "custom", message: parsed.error, params: { hint: parsed.hint } });
      return z.NEVER;
    }
    return parsed.value;
  })
  .describe('restic duration: numbers with y, m (months), d, h — e.g. "30d", "1y6m"');

export const percentSchema = z.string().transform((raw, ctx) => {
  const fraction = parsePercent(raw);
  if (fraction === null) {
    ctx.addIssue({
      code: "custom",
      message: `"${raw}" is not a percentage`,
      params: { hint: "write a number from 0 to 100 followed by %, e.g. 30%" },
    });
    return z.NEVER;
  }
  return fraction;
});

export const sizeSchema = z.union([z.string(), z.number().int().nonnegative()]).transform((raw, ctx) => {
  if (typeof raw === "number") return raw;
  const bytes = parseSize(raw);
  if (bytes === null) {
    ctx.addIssue({
      code: "custom",
      message: `"${raw}" is not a size`,
      params: { hint: "write a number and a unit: 512MiB, 10GB, 1TiB" },
    });
    return z.NEVER;
  }
  return bytes;
});

/** A count ("25") or a share ("2%") — `sample`, `count_tolerance`. */
export const countOrPercentSchema = z
  .union([z.number().int().nonnegative(), z.string()])
  .transform((raw, ctx) => {
    if (typeof raw === "number") return { count: raw } as const;
    const fraction = parsePercent(raw);
    if (fraction !== null) return { fraction } as const;
    if (/^\d+$/.test(raw.trim())) return { count: Number(raw) } as const;
    ctx.addIssue({
      code: "custom",
      message: `"${raw}" is neither a count nor a percentage`,
      params: { hint: "write a whole number (25) or a percentage (2%)" },
    });
    return z.NEVER;
  });

/** An argv list: the program and its arguments, never run through a shell. */
export const argvSchema = z
  .array(z.string().refine((arg) => !arg.includes("\0"), "an argument cannot contain a NUL byte"))
  .min(1, "needs at least the program to run");

/** A plain map of environment variables. */
export const envMapSchema = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "is not a valid environment variable name"),
  z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v)),
);

/** Large enough for any real use, small enough to stop absurd values (S5: huge numbers). */
export const boundedInt = (max: number) => z.number().int().nonnegative().max(max);

/** A restic exclude pattern: refused at load when restic would refuse it at backup time. */
export const excludePatternSchema = z.string().superRefine((pattern, ctx) => {
  const problem = patternProblem(pattern);
  if (problem)
    ctx.addIssue({
      code: "custom",
      message: `is not a valid restic exclude pattern: ${problem}`,
      params: {
        hint: "a `[` opens a character class that needs its `]` (write \\[ for a literal one); a `\\` escapes the next character",
      },
    });
});

/** exclude_if_present: NAME or NAME:HEADER, as restic's --exclude-if-present. */
export const tagFileSpecSchema = z.string().superRefine((spec, ctx) => {
  const problem = tagSpecProblem(spec);
  if (problem)
    ctx.addIssue({
      code: "custom",
      message: problem,
      params: { hint: "write NAME or NAME:HEADER, e.g. .nobackup" },
    });
});
