// What an import produces, whichever tool it reads: a holdfast config as plain data, a comment for
// each part saying where it came from, and a report — every field of the original that did not map
// and why, every template left unresolved, every secret the user has to put in a file. Pure data:
// the importers read no file but the one handed in, and write nothing (the CLI writes).
import path from "node:path";
import { isSecretName } from "../util/secret-names.js";

export type ConfigPath = ReadonlyArray<string | number>;

export interface Unmapped {
  /** Where in the original: "locations.home.hooks.success[0]", "profiles.root.retention.keep-tag". */
  where: string;
  why: string;
}

export interface SecretToPlace {
  /** What the secret is: "the password of repository remote", "B2_ACCOUNT_KEY of repository remote". */
  what: string;
  /** Where the original had it: "backends.remote.key (inline)", "$AUTORESTIC_REMOTE_RESTIC_PASSWORD". */
  from: string;
  /** The file the holdfast config names for it (never written by the import). */
  file: string;
  /** KEY=VALUE lines to put in an env_file (names only), when the file is one. */
  keys?: string[];
}

export interface ImportResult {
  tool: "autorestic" | "resticprofile";
  /** The original file, absolute. */
  file: string;
  /** The holdfast config (version 1), as it is written out. */
  config: Record<string, unknown>;
  /** Comments, placed before the key at `path`. */
  comments: Array<{ path: ConfigPath; text: string }>;
  unmapped: Unmapped[];
  /** Go templates (resticprofile) that could not be resolved without running: where and what. */
  unresolved: Unmapped[];
  secrets: SecretToPlace[];
  /** Things translated that the user should know (a template resolved to this machine's value). */
  notes: string[];
}

/** What a translation may know of the machine: passed in, so that translating stays pure. */
export interface ImportContext {
  /** Absolute path of the original file. */
  file: string;
  /** Where the secrets files the new config names are to go (default: beside the new config). */
  secretsDir: string;
  /** The machine's host name (restic's default --host, resticprofile's {{ .Hostname }}). */
  hostname: string;
  /** The working directory (resticprofile's {{ .CurrentDir }}). */
  cwd: string;
  home: string;
}

/** Collects one import's config, comments and report. */
export class ImportBuilder {
  readonly config: Record<string, unknown> = { version: 1 };
  readonly comments: Array<{ path: ConfigPath; text: string }> = [];
  readonly unmapped: Unmapped[] = [];
  readonly unresolved: Unmapped[] = [];
  readonly secrets: SecretToPlace[] = [];
  readonly notes: string[] = [];

  constructor(
    readonly tool: ImportResult["tool"],
    readonly file: string,
  ) {}

  section(key: "repositories" | "sources" | "jobs" | "notifications" | "restic"): Record<string, unknown> {
    const existing = this.config[key];
    if (existing && typeof existing === "object") return existing as Record<string, unknown>;
    const created: Record<string, unknown> = {};
    this.config[key] = created;
    return created;
  }

  comment(path: ConfigPath, text: string): void {
    this.comments.push({ path, text });
  }

  /**
   * holdfast refuses to back a repository up into itself (it would grow every run); the other tools let
   * restic do it. Such a repository is excluded from the source, as holdfast's own hint says.
   */
  private excludeRepositoriesInSources(): void {
    const repos = (this.config.repositories ?? {}) as Record<string, { url?: unknown }>;
    const sources = (this.config.sources ?? {}) as Record<string, { paths: string[]; exclude?: string[] }>;
    const jobs = (this.config.jobs ?? {}) as Record<string, { steps: Array<Record<string, unknown>> }>;
    for (const job of Object.values(jobs)) {
      for (const step of job.steps) {
        if (step.type !== "backup") continue;
        const name = String(step.source);
        const source = sources[name];
        if (!source) continue;
        for (const repoName of step.repos as string[]) {
          const url = repos[repoName]?.url;
          if (typeof url !== "string" || !path.isAbsolute(url)) continue;
          if (!source.paths.some((p) => path.isAbsolute(p) && isInside(url, p))) continue;
          if (source.exclude?.includes(url)) continue;
          source.exclude = [...(source.exclude ?? []), url];
          this.comment(
            ["sources", name, "exclude"],
            `${url}: repository ${repoName} is inside this source's paths; excluded so it is not backed up into itself`,
          );
        }
      }
    }
  }

  note(text: string): void {
    this.notes.push(text);
  }

  /**
   * A secret of repository `repoName` the user puts in a file: the file's path in the secrets dir
   * (REPO.url, REPO.pass, REPO.env), reported with what it is and where the original had it.
   */
  secretFile(
    ctx: Pick<ImportContext, "secretsDir">,
    repoName: string,
    kind: "url" | "pass" | "env",
    what: string,
    from: string,
    keys?: string[],
  ): string {
    const file = path.join(ctx.secretsDir, `${repoName}.${kind}`);
    this.secrets.push({ what, from, file, ...(keys ? { keys } : {}) });
    return file;
  }

  /**
   * A repository's environment: the variables that are secret by name (B2_ACCOUNT_KEY) go to an
   * env_file in the secrets dir, reported by name only; the rest stay inline as `env`.
   */
  repositoryEnv(
    ctx: Pick<ImportContext, "secretsDir">,
    repo: Record<string, unknown>,
    repoName: string,
    env: Record<string, unknown>,
    what: string,
    from: string,
  ): void {
    const plain: Record<string, string> = {};
    const secret: string[] = [];
    for (const [k, v] of Object.entries(env)) {
      const upper = k.toUpperCase();
      if (isSecretName(upper)) secret.push(upper);
      else plain[upper] = String(v);
    }
    if (Object.keys(plain).length > 0) repo.env = plain;
    if (secret.length > 0) repo.env_file = this.secretFile(ctx, repoName, "env", what, from, secret);
  }

  skip(where: string, why: string): void {
    this.unmapped.push({ where, why });
  }

  result(): ImportResult {
    this.excludeRepositoriesInSources();
    // Empty sections would only be noise in the written file.
    for (const key of ["repositories", "sources", "jobs", "notifications", "restic"]) {
      const v = this.config[key];
      if (v && typeof v === "object" && Object.keys(v).length === 0) delete this.config[key];
    }
    return {
      tool: this.tool,
      file: this.file,
      config: this.config,
      comments: this.comments,
      unmapped: this.unmapped,
      unresolved: this.unresolved,
      secrets: this.secrets,
      notes: this.notes,
    };
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * A path of the original file as an absolute one: relative paths are the config file's directory's
 * (both tools read them so); absolute, ~ and $VARIABLE paths are kept as written.
 */
export function relativeTo(configDir: string): (p: string) => string {
  return (p) => (path.isAbsolute(p) || p.startsWith("~") || p.startsWith("$") ? p : path.join(configDir, p));
}

/** A holdfast name (lower case, digits, - and _) for a name of the other tool. */
export function holdfastName(name: string): string {
  const cleaned = name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .slice(0, 64);
  return cleaned.length > 0 ? cleaned : "imported";
}

/** A name not yet in `taken` (name, name-2, name-3 …), added to it. */
export function uniqueName(name: string, taken: Set<string>): string {
  let candidate = name;
  for (let n = 2; taken.has(candidate); n++) candidate = `${name.slice(0, 60)}-${n}`;
  taken.add(candidate);
  return candidate;
}

/** A scalar as text ("" for anything else). */
export function scalarText(value: unknown): string {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean"
    ? String(value)
    : "";
}

/** A value as a list: undefined → [], a scalar → [it]. */
export function asList(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** restic keep flags → holdfast keep keys (keep-tag has no holdfast equivalent). */
export const KEEP_FLAGS: Record<string, string> = {
  "keep-last": "last",
  "keep-hourly": "hourly",
  "keep-daily": "daily",
  "keep-weekly": "weekly",
  "keep-monthly": "monthly",
  "keep-yearly": "yearly",
  "keep-within": "within",
  "keep-within-hourly": "within_hourly",
  "keep-within-daily": "within_daily",
  "keep-within-weekly": "within_weekly",
  "keep-within-monthly": "within_monthly",
  "keep-within-yearly": "within_yearly",
};

/** A flag and its value as restic arguments (true → the flag alone, a list → repeated). */
export function flagArgs(flag: string, value: unknown): string[] {
  const name = flag.startsWith("-") ? flag : `--${flag}`;
  if (value === true) return [name];
  if (value === false || value === null || value === undefined) return [];
  return asList(value).flatMap((v) => [name, String(v)]);
}
