// Renders the systemd units of `holdfast schedule install`: pure functions from the config and a few
// host facts to unit text, so every byte that lands in /etc/systemd/system is covered by snapshot tests.
//
// The shape is the seed's: one template service whose instance is the job (`holdfast@JOB.service`)
// and one timer per scheduled job. Per-job settings that differ between jobs (User=, Group=,
// TimeoutStartSec=) go in a drop-in `holdfast@JOB.service.d/holdfast.conf`, because the template is
// shared by every job.
import type { Config, JobConfig } from "../config/types.js";
import { parseSchedule, type CalendarSchedule } from "./calendar.js";
import { EXIT, HoldfastError } from "../errors.js";

export type UnitMode = "system" | "user";

/** Where `systemctl help holdfast@JOB` leads: the man page `npm install -g` links into man(1)'s path
 * (package.json "man"); holdfast has no web site, so no URL that could be dead. */
export const DOCUMENTATION_URL = "man:holdfast(1)";
export const WATCH_UNIT = "holdfast-watch";

/** Host facts the units are rendered for; everything else comes from the config. */
export interface UnitSettings {
  mode: UnitMode;
  /** The argv prefix that starts holdfast: absolute node binary and absolute main.js. */
  command: readonly string[];
  /** Absolute path of the config file, as seen by the target system. */
  configPath: string;
  /** Absolute path of the 0600 environment file the services read, or null for none. */
  environmentFile: string | null;
  /** The freshness check's arguments after `--config PATH`: ["watch"], or ["status", "--check"] before `watch` exists. */
  watchArgs: readonly string[];
}

export interface UnitFile {
  /** Path relative to the unit directory. */
  name: string;
  content: string;
}

export class UnitRenderError extends HoldfastError {
  constructor(message: string) {
    super(message, { kind: "config", exitCode: EXIT.usage });
    this.name = "UnitRenderError";
  }
}

// ---------------------------------------------------------------------------------------------
// Escaping (systemd.syntax(7), systemd.unit(5) "Specifiers", systemd.service(5) "Command lines")

function assertSingleLine(value: string, what: string): void {
  // A newline would end the setting and start a new one: a unit-file injection, never legitimate.
  if (/[\n\r\0]/.test(value))
    throw new UnitRenderError(`${what} contains a line break or NUL: ${JSON.stringify(value)}`);
}

/** Escapes `%` so systemd does not read it as a specifier (paths, descriptions, user names). */
export function escapeSpecifiers(value: string): string {
  assertSingleLine(value, "a unit setting");
  return value.replace(/%/g, "%%");
}

/** A path for settings that take one path as their whole value (EnvironmentFile=, WorkingDirectory=). */
export function escapeUnitPath(value: string): string {
  if (!value.startsWith("/")) throw new UnitRenderError(`not an absolute path: ${JSON.stringify(value)}`);
  if (value !== value.trim())
    throw new UnitRenderError(`path with leading or trailing spaces: ${JSON.stringify(value)}`);
  return escapeSpecifiers(value);
}

/**
 * One argument of an Exec*= command line: `%` → `%%` (specifiers), `$` → `$$` (environment
 * substitution), and double quotes with C-style escapes when it contains whitespace, quotes,
 * backslashes or a lone `;`.
 */
export function quoteExecArg(arg: string): string {
  assertSingleLine(arg, "a command-line argument");
  const escaped = arg.replace(/%/g, "%%").replace(/\$/g, () => "$$");
  if (escaped !== "" && !/[\s"'\\;]/.test(escaped)) return escaped;
  const body = escaped.replace(/[\\"\t]/g, (c) => (c === "\t" ? "\\t" : `\\${c}`));
  return `"${body}"`;
}

/** A specifier passed through to systemd as it is (`%i`), not escaped like the other arguments. */
export interface Specifier {
  specifier: "%i";
}

export function renderExecLine(argv: ReadonlyArray<string | Specifier>): string {
  const [program] = argv;
  // systemd treats a leading @ - : + ! as prefixes, and a relative name as a PATH lookup.
  if (typeof program !== "string" || !program.startsWith("/")) {
    throw new UnitRenderError(`the program must be an absolute path, got ${JSON.stringify(program)}`);
  }
  return argv.map((arg) => (typeof arg === "string" ? quoteExecArg(arg) : arg.specifier)).join(" ");
}

/** systemd time span syntax ("6h 10min", "90s"); whole seconds, rounded up. */
export function formatTimeSpan(ms: number): string {
  if (!Number.isFinite(ms)) return "infinity";
  let s = Math.max(0, Math.ceil(ms / 1000));
  if (s === 0) return "0";
  const parts: string[] = [];
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3600],
    ["min", 60],
    ["s", 1],
  ] as const) {
    const n = Math.floor(s / size);
    if (n > 0) parts.push(`${n}${unit}`);
    s -= n * size;
  }
  return parts.join(" ");
}

/** A unit name for job JOB: `holdfast@JOB.service`. Job names are `[a-z0-9][a-z0-9_-]*`, all valid in unit names. */
export function jobUnitName(job: string, suffix: "service" | "timer"): string {
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(job))
    throw new UnitRenderError(`"${job}" cannot be a unit instance name`);
  return `holdfast@${job}.${suffix}`;
}

// ---------------------------------------------------------------------------------------------
// Limits

const START_MARGIN_MS = 10 * 60_000;
const STOP_MARGIN_MS = 30_000;

/**
 * The longest a run of the job can legitimately take: every step's timeout for every attempt, the
 * retry delays (doubled per attempt), and the stop grace of each attempt, plus a margin for locks,
 * history writes and notifications. systemd kills the run only if holdfast's own timeouts failed.
 */
export function jobRunLimitMs(job: JobConfig, killGraceMs: number): number {
  let total = START_MARGIN_MS;
  for (const step of job.steps) {
    const attempts = step.retries + 1;
    total += attempts * (step.timeout + killGraceMs);
    total += step.retry_delay * (2 ** step.retries - 1);
  }
  return total;
}

/** SIGTERM reaches holdfast; it gives each step kill_grace after SIGINT, then records and notifies. */
export function stopLimitMs(config: Pick<Config, "kill_grace" | "notifications">): number {
  const slowestNotifier = Math.max(0, ...Object.values(config.notifications).map((n) => n.timeout));
  return config.kill_grace + slowestNotifier + STOP_MARGIN_MS;
}

/** 1s for schedules that fire more often than once a minute or off the minute, else 1min (lets systemd batch wake-ups). */
export function accuracyFor(schedule: CalendarSchedule, from = new Date(Date.UTC(2030, 0, 1))): string {
  let previous: Date | null = null;
  let cursor: Date | null = from;
  for (let i = 0; i < 8 && cursor; i++) {
    cursor = schedule.next(cursor);
    if (!cursor) break;
    if (cursor.getTime() % 60_000 !== 0) return "1s";
    if (previous && cursor.getTime() - previous.getTime() < 60_000) return "1s";
    previous = cursor;
  }
  return "1min";
}

// ---------------------------------------------------------------------------------------------
// Units

function header(what: string): string {
  assertSingleLine(what, "a comment");
  return `# ${what}\n# Written by \`holdfast schedule install\`; \`holdfast schedule remove\` deletes it. Edit the holdfast config and re-install instead of editing this file.\n`;
}

function section(name: string, lines: ReadonlyArray<string | null | false>): string {
  return `[${name}]\n${lines.filter((l): l is string => typeof l === "string").join("\n")}\n`;
}

function serviceHardening(mode: UnitMode): string[] {
  // Only settings that cannot break a backup. Not ProtectSystem=strict/ProtectHome=: backups and
  // restores read and write anywhere the config says (mirror targets, manifests, git bundles, restic
  // caches), and a read-only /home or /etc would turn into failed steps. Not RestrictSUIDSGID= or a
  // device policy: rsync -a and restores must keep setuid bits, and a step may read a block device.
  // NoNewPrivileges= does mean a step cannot use sudo/setuid helpers, which a scheduled job must not need.
  const lines = ["NoNewPrivileges=yes"];
  // PrivateTmp= in a user manager needs unprivileged user namespaces, which some distributions disable.
  if (mode === "system") lines.push("PrivateTmp=yes", "ProtectKernelLogs=yes", "ProtectControlGroups=yes");
  lines.push("RestrictRealtime=yes", "LockPersonality=yes");
  return lines;
}

function priorityLines(): string[] {
  // Backups yield to everything else on the host (the weak-NAS case): lowest CPU and I/O class.
  return ["Nice=10", "IOSchedulingClass=idle", "CPUSchedulingPolicy=batch"];
}

function networkDependencies(mode: UnitMode): string[] {
  // Persistent=true fires a missed run right after boot, often before the network is up; off-site
  // repositories need it. The user manager cannot order against system targets.
  return mode === "system" ? ["Wants=network-online.target", "After=network-online.target"] : [];
}

export function renderServiceTemplate(
  config: Pick<Config, "kill_grace" | "notifications">,
  settings: UnitSettings,
): string {
  const execStart = renderExecLine([
    ...settings.command,
    "--config",
    settings.configPath,
    "run",
    { specifier: "%i" },
    "--trigger",
    "schedule",
  ]);
  return [
    header("holdfast job runner: one instance per job (holdfast@JOB.service runs `holdfast run JOB`)."),
    section("Unit", [
      "Description=holdfast backup job %i",
      `Documentation=${DOCUMENTATION_URL}`,
      ...networkDependencies(settings.mode),
    ]),
    section("Service", [
      "Type=oneshot",
      `ExecStart=${execStart}`,
      settings.environmentFile !== null && `EnvironmentFile=-${escapeUnitPath(settings.environmentFile)}`,
      "StandardOutput=journal",
      "StandardError=journal",
      "SyslogIdentifier=holdfast-%i",
      ...priorityLines(),
      // Per-job limits live in holdfast@JOB.service.d/holdfast.conf; holdfast enforces each step's own timeout.
      "TimeoutStartSec=infinity",
      // Only holdfast gets SIGTERM: it stops its steps with SIGINT (restic then removes its own lock; on
      // SIGTERM restic 0.14 leaves it behind), waits kill_grace, records the run cancelled and exits 143.
      // The default KillMode=control-group would SIGTERM restic directly, at the same moment.
      "KillMode=mixed",
      "KillSignal=SIGTERM",
      `TimeoutStopSec=${formatTimeSpan(stopLimitMs(config))}`,
      // Exit 3 is "completed with warnings" under `warnings: warn`; `warnings: fail` makes it 1, a failed unit.
      "SuccessExitStatus=3",
      ...serviceHardening(settings.mode),
    ]),
  ].join("\n");
}

export interface JobDropInOptions {
  mode: UnitMode;
  killGraceMs: number;
}

/** `holdfast@JOB.service.d/holdfast.conf`: the settings that differ per job. */
export function renderJobDropIn(job: JobConfig, options: JobDropInOptions): string {
  const identity: string[] = [];
  // A user manager cannot switch users: User=/Group= there only fail the unit (status 216/GROUP).
  if (options.mode === "system") {
    if (job.user) identity.push(`User=${escapeSpecifiers(job.user)}`);
    if (job.group) identity.push(`Group=${escapeSpecifiers(job.group)}`);
  }
  return [
    header(`holdfast job ${job.name}: its user and time limit.`),
    section("Service", [
      ...identity,
      `TimeoutStartSec=${formatTimeSpan(jobRunLimitMs(job, options.killGraceMs))}`,
    ]),
  ].join("\n");
}

export function renderTimerUnit(job: JobConfig, schedule: CalendarSchedule = parseScheduleOf(job)): string {
  return [
    header(`holdfast schedule of job ${job.name}: ${job.schedule ?? ""}`),
    section("Unit", [
      `Description=holdfast schedule of job ${escapeSpecifiers(job.name)}`,
      `Documentation=${DOCUMENTATION_URL}`,
    ]),
    section("Timer", [
      // A cron whose day-of-month and day-of-week are both restricted is two OnCalendar= lines; systemd ORs them.
      ...schedule.onCalendar.map((expr) => `OnCalendar=${escapeSpecifiers(expr)}`),
      // Runs once at boot/resume when a due time passed while the machine was off or asleep.
      "Persistent=true",
      job.randomized_delay !== undefined &&
        job.randomized_delay > 0 &&
        `RandomizedDelaySec=${formatTimeSpan(job.randomized_delay)}`,
      `AccuracySec=${accuracyFor(schedule)}`,
      `Unit=${jobUnitName(job.name, "service")}`,
    ]),
    section("Install", ["WantedBy=timers.target"]),
  ].join("\n");
}

export interface WatchUnitOptions {
  /** User=/Group= for the check: set when every job runs as the same user (it reads their state dir). */
  user?: string | undefined;
  group?: string | undefined;
}

export function renderWatchService(settings: UnitSettings, options: WatchUnitOptions = {}): string {
  const identity: string[] = [];
  if (settings.mode === "system") {
    if (options.user) identity.push(`User=${escapeSpecifiers(options.user)}`);
    if (options.group) identity.push(`Group=${escapeSpecifiers(options.group)}`);
  }
  return [
    header("holdfast freshness check: notices jobs whose runs never happened (max_age)."),
    section("Unit", ["Description=holdfast freshness check", `Documentation=${DOCUMENTATION_URL}`]),
    section("Service", [
      "Type=oneshot",
      `ExecStart=${renderExecLine([...settings.command, "--config", settings.configPath, ...settings.watchArgs])}`,
      settings.environmentFile !== null && `EnvironmentFile=-${escapeUnitPath(settings.environmentFile)}`,
      ...identity,
      "StandardOutput=journal",
      "StandardError=journal",
      `SyslogIdentifier=${WATCH_UNIT}`,
      ...priorityLines(),
      "TimeoutStartSec=10min",
      ...serviceHardening(settings.mode),
    ]),
  ].join("\n");
}

export function renderWatchTimer(): string {
  return [
    header("holdfast freshness check, hourly."),
    section("Unit", ["Description=holdfast freshness check, hourly", `Documentation=${DOCUMENTATION_URL}`]),
    section("Timer", [
      "OnCalendar=hourly",
      // Not Persistent: right after boot the jobs' own catch-up runs are starting, and a check then
      // would report them stale moments before they succeed.
      "AccuracySec=1min",
      `Unit=${WATCH_UNIT}.service`,
    ]),
    section("Install", ["WantedBy=timers.target"]),
  ].join("\n");
}

/** `KEY=VALUE` lines for an EnvironmentFile= (systemd.exec(5)): values double-quoted when not plain. */
export function renderEnvironmentFile(env: Readonly<Record<string, string>>, comment: string): string {
  const lines = comment.split("\n").map((l) => `# ${l}`);
  for (const [key, value] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
      throw new UnitRenderError(`invalid environment variable name ${JSON.stringify(key)}`);
    assertSingleLine(value, `the value of ${key}`);
    const plain = /^[A-Za-z0-9_/.:,+=@-]*$/.test(value);
    lines.push(`${key}=${plain ? value : `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`}`);
  }
  return `${lines.join("\n")}\n`;
}

function parseScheduleOf(job: JobConfig): CalendarSchedule {
  if (!job.schedule) throw new UnitRenderError(`job "${job.name}" has no schedule`);
  return parseSchedule(job.schedule);
}

/** The user every job runs as, when they all agree (the freshness check then runs as that user too). */
export function commonJobIdentity(config: Pick<Config, "jobs">): WatchUnitOptions {
  const jobs = Object.values(config.jobs);
  const users = new Set(jobs.map((j) => j.user ?? ""));
  const groups = new Set(jobs.map((j) => j.group ?? ""));
  const [user] = users;
  const [group] = groups;
  return {
    user: users.size === 1 && user ? user : undefined,
    group: users.size === 1 && groups.size === 1 && group ? group : undefined,
  };
}

/**
 * Every unit file for the config: the template, one drop-in per job, one timer per scheduled job,
 * and the freshness check. Throws CalendarError for a schedule that does not parse.
 */
export function renderUnitFiles(config: Config, settings: UnitSettings): UnitFile[] {
  const files: UnitFile[] = [{ name: "holdfast@.service", content: renderServiceTemplate(config, settings) }];
  const jobs = Object.values(config.jobs).sort((a, b) => a.name.localeCompare(b.name));
  for (const job of jobs) {
    files.push({
      name: `${jobUnitName(job.name, "service")}.d/holdfast.conf`,
      content: renderJobDropIn(job, { mode: settings.mode, killGraceMs: config.kill_grace }),
    });
    if (job.schedule) files.push({ name: jobUnitName(job.name, "timer"), content: renderTimerUnit(job) });
  }
  files.push({
    name: `${WATCH_UNIT}.service`,
    content: renderWatchService(settings, commonJobIdentity(config)),
  });
  files.push({ name: `${WATCH_UNIT}.timer`, content: renderWatchTimer() });
  return files;
}

/** The timers `enable --now` starts. */
export function timerNames(files: readonly UnitFile[]): string[] {
  return files.filter((f) => f.name.endsWith(".timer") && !f.name.includes("/")).map((f) => f.name);
}
