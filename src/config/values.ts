// zod building blocks for the value formats of config.md. Paths expand `~`, `$VAR` and `${VAR}` and
// resolve against the config file's directory; that directory is known only while a file is being
// loaded, so load.ts sets it around the (synchronous) parse with withPathBase.
import os from "node:os";
import path from "node:path";
import { z } from "zod";
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

/** Expands ~ and $VAR/${VAR}; returns the unset variable's name instead when one is missing. */
export function expandPath(
  raw: string,
  dir: string,
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
  return { value: path.resolve(dir, text) };
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
    if (raw.includes("\0")) {
      ctx.addIssue({ code: "custom", message: "a path cannot contain a NUL byte" });
      return z.NEVER;
    }
    if (!pathBase) return raw;
    const result = expandPath(raw, pathBase.dir, pathBase.env);
    if ("missing" in result) {
      ctx.addIssue({
        code: "custom",
        message: `environment variable $${result.missing} is not set`,
        params: { hint: `set ${result.missing} in the environment of holdfast, or write the path out` },
      });
      return z.NEVER;
    }
    return result.value;
  });

/** A path or an rsync-style `host:path` / `user@host:path` remote (kept literal when remote). */
export const pathOrRemoteSchema = z
  .string()
  .min(1)
  .transform((raw, ctx) => {
    if (/^[^/~$][^/:]*:/.test(raw)) return raw;
    const parsed = pathSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue({ code: "custom", message: issue.message });
      return z.NEVER;
    }
    // Keep a trailing slash: for rsync it means "the contents of".
    return raw.endsWith("/") && !parsed.data.endsWith("/") ? `${parsed.data}/` : parsed.data;
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
