import { describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";
import {
  accuracyFor,
  formatTimeSpan,
  jobRunLimitMs,
  quoteExecArg,
  renderEnvironmentFile,
  renderExecLine,
  renderJobDropIn,
  renderServiceTemplate,
  renderTimerUnit,
  renderUnitFiles,
  renderWatchService,
  renderWatchTimer,
  UnitRenderError,
  type UnitSettings,
} from "../../src/scheduler/systemd.js";
import { parseSchedule } from "../../src/scheduler/calendar.js";

const SEED = `
version: 1
state_dir: /var/lib/holdfast
repositories:
  local: { url: /data/backups/restic, password_file: /etc/holdfast/secrets/local.pass }
jobs:
  backup-job:
    schedule: "*-*-* 03:00:00"
    randomized_delay: 10m
    max_age: 26h
    user: sig
    group: users
    steps:
      - { name: hello, type: exec, command: [echo, hello] }
      - { name: logseq, type: exec, command: [rsync, -a, /a/, /b/], timeout: 2h, retries: 2, retry_delay: 1m }
  often:
    schedule: "*:0/15"
    steps:
      - { name: ping, type: exec, command: ["true"], timeout: 5m }
  cron-or:
    schedule: "30 2 1,15 * Sun"
    steps:
      - { name: ping, type: exec, command: ["true"], timeout: 5m }
  manual:
    steps:
      - { name: ping, type: exec, command: ["true"], timeout: 5m }
`;

function seedConfig(text = SEED): Config {
  return parseConfigText(text, "/etc/holdfast/holdfast.yaml", { HOME: "/root" });
}

const settings: UnitSettings = {
  mode: "system",
  command: ["/usr/bin/node", "/usr/lib/node_modules/holdfast/dist/cli/main.js"],
  configPath: "/etc/holdfast/holdfast.yaml",
  environmentFile: "/etc/holdfast/systemd.env",
  watchArgs: ["watch"],
};

describe("unit text", () => {
  const config = seedConfig();
  const job = (name: string) => config.jobs[name]!;

  it("renders the template service", () => {
    expect(renderServiceTemplate(config, settings)).toMatchInlineSnapshot(`
      "# holdfast job runner: one instance per job (holdfast@JOB.service runs \`holdfast run JOB\`).
      # Written by \`holdfast schedule install\`; \`holdfast schedule remove\` deletes it. Edit the holdfast config and re-install instead of editing this file.

      [Unit]
      Description=holdfast backup job %i
      Documentation=man:holdfast(1)
      Wants=network-online.target
      After=network-online.target

      [Service]
      Type=oneshot
      ExecStart=/usr/bin/node /usr/lib/node_modules/holdfast/dist/cli/main.js --config /etc/holdfast/holdfast.yaml run %i --trigger schedule
      EnvironmentFile=-/etc/holdfast/systemd.env
      StandardOutput=journal
      StandardError=journal
      SyslogIdentifier=holdfast-%i
      Nice=10
      IOSchedulingClass=idle
      CPUSchedulingPolicy=batch
      TimeoutStartSec=infinity
      KillMode=mixed
      KillSignal=SIGTERM
      TimeoutStopSec=45s
      SuccessExitStatus=3
      NoNewPrivileges=yes
      PrivateTmp=yes
      ProtectKernelLogs=yes
      ProtectControlGroups=yes
      RestrictRealtime=yes
      LockPersonality=yes
      "
    `);
  });

  it("renders the user-mode template without system-only settings", () => {
    const text = renderServiceTemplate(config, {
      ...settings,
      mode: "user",
      environmentFile: "/home/sig/.config/holdfast/systemd.env",
    });
    expect(text).not.toContain("PrivateTmp");
    expect(text).not.toContain("network-online");
    expect(text).toContain("NoNewPrivileges=yes");
    expect(text).toContain("EnvironmentFile=-/home/sig/.config/holdfast/systemd.env");
  });

  it("renders a job's drop-in with its user, group and time limit", () => {
    expect(renderJobDropIn(job("backup-job"), { mode: "system", killGraceMs: config.kill_grace }))
      .toMatchInlineSnapshot(`
      "# holdfast job backup-job: its user and time limit.
      # Written by \`holdfast schedule install\`; \`holdfast schedule remove\` deletes it. Edit the holdfast config and re-install instead of editing this file.

      [Service]
      User=sig
      Group=users
      TimeoutStartSec=12h 14min
      "
    `);
    const user = renderJobDropIn(job("backup-job"), { mode: "user", killGraceMs: config.kill_grace });
    expect(user).not.toContain("User=");
    expect(user).not.toContain("Group=");
  });

  it("renders a timer per scheduled job", () => {
    expect(renderTimerUnit(job("backup-job"))).toMatchInlineSnapshot(`
      "# holdfast schedule of job backup-job: *-*-* 03:00:00
      # Written by \`holdfast schedule install\`; \`holdfast schedule remove\` deletes it. Edit the holdfast config and re-install instead of editing this file.

      [Unit]
      Description=holdfast schedule of job backup-job
      Documentation=man:holdfast(1)

      [Timer]
      OnCalendar=*-*-* 03:00:00
      Persistent=true
      RandomizedDelaySec=10min
      AccuracySec=1min
      Unit=holdfast@backup-job.service

      [Install]
      WantedBy=timers.target
      "
    `);
    expect(renderTimerUnit(job("often"))).toMatchInlineSnapshot(`
      "# holdfast schedule of job often: *:0/15
      # Written by \`holdfast schedule install\`; \`holdfast schedule remove\` deletes it. Edit the holdfast config and re-install instead of editing this file.

      [Unit]
      Description=holdfast schedule of job often
      Documentation=man:holdfast(1)

      [Timer]
      OnCalendar=*-*-* *:00/15:00
      Persistent=true
      AccuracySec=1min
      Unit=holdfast@often.service

      [Install]
      WantedBy=timers.target
      "
    `);
  });

  it("renders a cron with both day fields restricted as two OnCalendar lines (systemd ORs them)", () => {
    const text = renderTimerUnit(job("cron-or"));
    expect(text.split("\n").filter((l) => l.startsWith("OnCalendar="))).toEqual([
      "OnCalendar=*-*-01,15 02:30:00",
      "OnCalendar=Sun *-*-* 02:30:00",
    ]);
  });

  it("renders the freshness check", () => {
    expect(renderWatchService(settings, { user: "sig", group: "users" })).toMatchInlineSnapshot(`
      "# holdfast freshness check: notices jobs whose runs never happened (max_age).
      # Written by \`holdfast schedule install\`; \`holdfast schedule remove\` deletes it. Edit the holdfast config and re-install instead of editing this file.

      [Unit]
      Description=holdfast freshness check
      Documentation=man:holdfast(1)

      [Service]
      Type=oneshot
      ExecStart=/usr/bin/node /usr/lib/node_modules/holdfast/dist/cli/main.js --config /etc/holdfast/holdfast.yaml watch
      EnvironmentFile=-/etc/holdfast/systemd.env
      User=sig
      Group=users
      StandardOutput=journal
      StandardError=journal
      SyslogIdentifier=holdfast-watch
      Nice=10
      IOSchedulingClass=idle
      CPUSchedulingPolicy=batch
      TimeoutStartSec=10min
      NoNewPrivileges=yes
      PrivateTmp=yes
      ProtectKernelLogs=yes
      ProtectControlGroups=yes
      RestrictRealtime=yes
      LockPersonality=yes
      "
    `);
    expect(renderWatchTimer()).toMatchInlineSnapshot(`
      "# holdfast freshness check, hourly.
      # Written by \`holdfast schedule install\`; \`holdfast schedule remove\` deletes it. Edit the holdfast config and re-install instead of editing this file.

      [Unit]
      Description=holdfast freshness check, hourly
      Documentation=man:holdfast(1)

      [Timer]
      OnCalendar=hourly
      AccuracySec=1min
      Unit=holdfast-watch.service

      [Install]
      WantedBy=timers.target
      "
    `);
    expect(renderWatchService({ ...settings, watchArgs: ["status", "--check"] })).toContain(
      "ExecStart=/usr/bin/node /usr/lib/node_modules/holdfast/dist/cli/main.js --config /etc/holdfast/holdfast.yaml status --check",
    );
  });

  it("renders every file: template, a drop-in per job, a timer per scheduled job, the check", () => {
    expect(renderUnitFiles(config, settings).map((f) => f.name)).toEqual([
      "holdfast@.service",
      "holdfast@backup-job.service.d/holdfast.conf",
      "holdfast@backup-job.timer",
      "holdfast@cron-or.service.d/holdfast.conf",
      "holdfast@cron-or.timer",
      "holdfast@manual.service.d/holdfast.conf",
      "holdfast@often.service.d/holdfast.conf",
      "holdfast@often.timer",
      "holdfast-watch.service",
      "holdfast-watch.timer",
    ]);
  });
});

describe("escaping (systemd.syntax, specifiers)", () => {
  it("doubles % and $ and quotes arguments with spaces, quotes and backslashes", () => {
    expect(quoteExecArg("/etc/holdfast/holdfast.yaml")).toBe("/etc/holdfast/holdfast.yaml");
    expect(quoteExecArg("/srv/100%/cfg.yaml")).toBe("/srv/100%%/cfg.yaml");
    expect(quoteExecArg("/srv/$HOME/cfg.yaml")).toBe("/srv/$$HOME/cfg.yaml");
    expect(quoteExecArg("/srv/my backups/cfg.yaml")).toBe('"/srv/my backups/cfg.yaml"');
    expect(quoteExecArg('/srv/a"b\\c')).toBe('"/srv/a\\"b\\\\c"');
    expect(quoteExecArg("it's")).toBe('"it\'s"');
    expect(quoteExecArg(";")).toBe('";"');
    expect(quoteExecArg("")).toBe('""');
  });

  it("refuses line breaks and relative programs", () => {
    expect(() => quoteExecArg("a\nExecStartPost=/bin/evil")).toThrow(UnitRenderError);
    expect(() => renderExecLine(["node", "main.js"])).toThrow(/absolute path/);
    expect(() => renderExecLine(["-/usr/bin/node"])).toThrow(/absolute path/);
  });

  it("escapes the config path and the environment file in the template", () => {
    const text = renderServiceTemplate(seedConfig(), {
      ...settings,
      configPath: "/srv/100% sure/$cfg.yaml",
      environmentFile: "/srv/100% sure/env",
    });
    expect(text).toContain('--config "/srv/100%% sure/$$cfg.yaml" run %i --trigger schedule');
    expect(text).toContain("EnvironmentFile=-/srv/100%% sure/env");
  });

  it("writes environment files that systemd reads back literally", () => {
    expect(renderEnvironmentFile({ PATH: "/usr/bin:/bin", ODD: 'a b"c\\' }, "comment")).toBe(
      '# comment\nPATH=/usr/bin:/bin\nODD="a b\\"c\\\\"\n',
    );
    expect(() => renderEnvironmentFile({ "BAD-NAME": "x" }, "c")).toThrow(UnitRenderError);
  });
});

describe("limits", () => {
  it("formats systemd time spans", () => {
    expect(formatTimeSpan(0)).toBe("0");
    expect(formatTimeSpan(600_000)).toBe("10min");
    expect(formatTimeSpan(90_500)).toBe("1min 31s");
    expect(formatTimeSpan(26 * 3_600_000)).toBe("1d 2h");
    expect(formatTimeSpan(Infinity)).toBe("infinity");
  });

  it("sums every attempt of every step, the retry delays and the stop grace, plus a margin", () => {
    const job = seedConfig().jobs["backup-job"]!;
    // hello: 6h + 15s grace; logseq: 3 attempts × (2h + 15s) + 1m + 2m of retry delay; margin 10m.
    const expected = 6 * 3_600_000 + 15_000 + 3 * (2 * 3_600_000 + 15_000) + 3 * 60_000 + 10 * 60_000;
    expect(jobRunLimitMs(job, 15_000)).toBe(expected);
  });

  it("uses AccuracySec=1s only for schedules finer than a minute", () => {
    expect(accuracyFor(parseSchedule("*-*-* 03:00:00"))).toBe("1min");
    expect(accuracyFor(parseSchedule("*:0/15"))).toBe("1min");
    expect(accuracyFor(parseSchedule("minutely"))).toBe("1min");
    expect(accuracyFor(parseSchedule("*:*:0/10"))).toBe("1s");
    expect(accuracyFor(parseSchedule("*-*-* 03:00:30"))).toBe("1s");
  });
});
