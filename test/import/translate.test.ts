// `holdfast import autorestic|resticprofile FILE` on the projects' own example configs
// (test/fixtures/import/, NOTICE.md): every import validates, and the restic commands of
// `run --dry-run` carry the paths, excludes, tags, retention and schedules the original file asks
// for — the expectations below are read off the original files, not off the importer. Secrets
// written inline in an original never reach the new config.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseJson, REPO_ROOT, runCli } from "../helpers/cli.js";
import { makeTempDir } from "../helpers/tmp.js";

const FIXTURES = path.join(REPO_ROOT, "test/fixtures/import");

interface Imported {
  out: string;
  secrets: string;
  text: string;
  report: string;
  code: number | null;
  config: Record<string, any>;
}

async function importFixture(tool: "autorestic" | "resticprofile", name: string): Promise<Imported> {
  const dir = makeTempDir("holdfast-import-");
  const out = path.join(dir, "holdfast.yaml");
  const secrets = path.join(dir, "secrets");
  const r = await runCli([
    "import",
    tool,
    path.join(FIXTURES, tool, name),
    "-o",
    out,
    "--secrets-dir",
    secrets,
  ]);
  const text = fs.existsSync(out) ? fs.readFileSync(out, "utf8") : "";
  return { out, secrets, text, report: r.stderr, code: r.code, config: parse(text) as Record<string, any> };
}

async function validate(imp: Imported) {
  return runCli(["--config", imp.out, "config", "validate"], {
    env: { XDG_STATE_HOME: path.dirname(imp.out) },
  });
}

/** The restic command lines of a job's dry run, by step name. */
async function plan(imp: Imported, job: string): Promise<Record<string, string[]>> {
  const r = await runCli(["--config", imp.out, "run", job, "--dry-run", "--json"], {
    env: { XDG_STATE_HOME: path.dirname(imp.out) },
  });
  expect(r.code, r.stderr).toBe(0);
  const json = parseJson<{ steps: Array<{ name: string; commands: string[] }> }>(r);
  return Object.fromEntries(json.steps.map((s) => [s.name, s.commands]));
}

const resticLine = (lines: string[] | undefined, command: string) =>
  (lines ?? []).find((l) => new RegExp(`\\brestic ${command}\\b`).test(l)) ?? "";

describe("autorestic", () => {
  const all = fs.readdirSync(path.join(FIXTURES, "autorestic")).filter((f) => f.endsWith(".yml"));

  it.each(all)("%s imports into a config that validates", async (name) => {
    const imp = await importFixture("autorestic", name);
    expect(imp.code, imp.report).toBe(0);
    expect(imp.text).toMatch(/^# holdfast config imported from autorestic/);
    const v = await validate(imp);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });

  // Every fixture, every location, read off the original with a reader of its own (YAML with merge
  // keys, autorestic's documented keys): the dry run backs up `from` into each backend of `to` with the
  // location's excludes and exclude files, its `cron` is the job's schedule, its forget policy is the
  // forget line (in the job with `forget: yes|prune`, else in LOCATION-forget, `autorestic forget`'s
  // job), its copy: targets are copied to, and autorestic's tag is adopted.
  it.each(all)(
    "%s: each location's paths, excludes, schedule, retention and copies as the original says",
    async (name) => {
      const file = path.join(FIXTURES, "autorestic", name);
      const original = parse(fs.readFileSync(file, "utf8"), { merge: true }) as {
        locations?: Record<string, any>;
      };
      const imp = await importFixture("autorestic", name);
      const q = (arg: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg}'`);
      const abs = (p: string) => (path.isAbsolute(p) ? p : path.join(path.dirname(file), p));
      const list = (v: unknown): string[] =>
        v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x) => String(x as string | number));
      const locations = Object.entries(original.locations ?? {});
      expect(locations.length).toBeGreaterThan(0);
      for (const [loc, l] of locations) {
        const steps = await plan(imp, loc);
        const backups = Object.values(steps)
          .flat()
          .filter((line) => /\brestic backup\b/.test(line));
        expect(backups, `${name} ${loc}`).toHaveLength(list(l.to).length);
        const backup = l.options?.backup ?? {};
        for (const line of backups) {
          const tail = `-- ${list(l.from)
            .map((p) => q(abs(p)))
            .join(" ")}`;
          expect(line.endsWith(tail) || line.includes(`${tail} (`), `${name} ${loc}: ${line}`).toBe(true);
          for (const x of list(backup.exclude)) expect(line).toContain(`--exclude ${q(x)}`);
          for (const x of list(backup["exclude-file"])) expect(line).toContain(`--exclude-file ${q(abs(x))}`);
          for (const t of list(backup.tag)) expect(line).toContain(`--tag ${q(t)}`);
        }
        expect(imp.config.jobs[loc].schedule, `${name} ${loc}`).toBe(l.cron);
        const keep = Object.entries(l.options?.forget ?? {}).filter(([k]) => k.startsWith("keep-"));
        if (keep.length > 0) {
          const inJob = l.forget === "yes" || l.forget === "prune" || l.forget === true;
          const forget = resticLine(
            Object.values(inJob ? steps : await plan(imp, `${loc}-forget`)).flat(),
            "forget",
          );
          for (const [k, v] of keep) expect(forget, `${name} ${loc}`).toContain(`--${k} ${String(v)}`);
          if (l.forget === "prune") expect(forget).toContain("--prune");
        }
        for (const [from, targets] of Object.entries(l.copy ?? {})) {
          const copies = (imp.config.jobs[loc].steps as Array<Record<string, unknown>>).filter(
            (st) => st.type === "copy",
          );
          expect(copies.map((c) => [c.from, c.to])).toEqual([[from, list(targets)]]);
        }
        expect(imp.config.sources[loc].adopt, `${name} ${loc}`).toEqual({ tags: [`ar:location:${loc}`] });
      }
    },
  );

  it("config-example.yml: both locations, their backends, B2 credentials referenced not copied", async () => {
    const imp = await importFixture("autorestic", "config-example.yml");
    expect(imp.config.repositories.remote.url).toBe("b2:myBucket:backup/home");
    expect(imp.config.repositories.hdd.url).toBe("/mnt/my_external_storage");
    // B2_ACCOUNT_ID is not secret by name; B2_ACCOUNT_KEY is: it goes to an env_file, reported.
    expect(imp.config.repositories.remote.env).toEqual({ B2_ACCOUNT_ID: "account_id" });
    expect(imp.config.repositories.remote.env_file).toBe(path.join(imp.secrets, "remote.env"));
    expect(imp.text).not.toContain("account_key");
    expect(imp.report).toContain("B2_ACCOUNT_KEY=…");
    const home = await plan(imp, "home");
    expect(resticLine(home.backup, "backup")).toMatch(
      /RESTIC_REPOSITORY=b2:myBucket:backup\/home .*-- \/home\/me \(\+ variables from .*remote\.env\)$/,
    );
    const important = await plan(imp, "important");
    expect(important.backup).toHaveLength(3); // guard + one restic backup per repository
    expect(important.backup!.filter((l) => l.includes("-- /path/to/important/stuff"))).toHaveLength(2);
    // autorestic's own tag on every snapshot of the location: adopted.
    expect(imp.config.sources.home.adopt).toEqual({ tags: ["ar:location:home"] });
  });

  it("quick.yml: the keys written inline are never copied; each names the file to put it in", async () => {
    const imp = await importFixture("autorestic", "quick.yml");
    const original = fs.readFileSync(path.join(FIXTURES, "autorestic/quick.yml"), "utf8");
    expect(original).toContain("some-random-password-198rc79r8y1029c8yfewj8f1u0ef87yh198uoieufy");
    expect(imp.text).not.toContain("some-random-password");
    expect(imp.text).not.toContain("if not key is set");
    expect(imp.text).not.toContain("account_key");
    expect(imp.config.repositories.remote.password_file).toBe(path.join(imp.secrets, "remote.pass"));
    expect(imp.report).toMatch(/password of repository remote: from backends\.remote\.key \(inline/);
    expect(imp.config.repositories.remote.url).toBe("s3:s3.amazonaws.com/bucket_name");
  });

  it("forget.yml: the policy applies when `autorestic forget` runs: a job of its own with every keep rule", async () => {
    const imp = await importFixture("autorestic", "forget.yml");
    const p = await plan(imp, "etc-forget");
    expect(resticLine(p.forget, "forget")).toContain(
      "--keep-last 5 --keep-hourly 3 --keep-daily 4 --keep-weekly 1 --keep-monthly 12 --keep-yearly 7 --keep-within 14d",
    );
    expect(resticLine((await plan(imp, "etc")).backup, "backup")).toMatch(/-- \/etc$/);
  });

  it("forget-prune.yml: forget: prune runs after the backup, with --prune", async () => {
    const imp = await importFixture("autorestic", "forget-prune.yml");
    const p = await plan(imp, "etc");
    expect(Object.keys(p)).toEqual(["backup", "forget"]);
    expect(resticLine(p.forget, "forget")).toMatch(/--keep-last 5 --prune {3}# source etc/);
  });

  it("--check validates the new config and prints every job's plan; a validation failure is its exit code", async () => {
    const dir = makeTempDir();
    const out = path.join(dir, "holdfast.yaml");
    const env = { XDG_STATE_HOME: dir };
    const file = path.join(FIXTURES, "autorestic/forget-prune.yml");
    const ok = await runCli(["import", "autorestic", file, "-o", out, "--check"], { env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("plan for job etc: 2 steps, nothing will run");
    expect(ok.stdout).toMatch(/restic forget .*--keep-last 5 --prune/);
    const again = await runCli(["import", "autorestic", file, "-o", out], { env });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("--force");
    const bad = await runCli(
      [
        "import",
        "resticprofile",
        path.join(FIXTURES, "resticprofile/template.yaml"),
        "-o",
        out,
        "--force",
        "--check",
      ],
      { env },
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('missing required key "jobs"');
  });

  it("global options (docs/pages/location/options/index.md's global block, with a location): all.cache-dir, backup.tag", async () => {
    const dir = makeTempDir();
    const file = path.join(dir, ".autorestic.yml");
    fs.writeFileSync(
      file,
      `version: 2
global:
  all:
    cache-dir: ~/restic
    verbose: true
  backup:
    tag:
      - foo
backends:
  hdd: { type: local, path: /mnt/hdd }
locations:
  home: { from: /home, to: hdd }
`,
    );
    const out = path.join(dir, "holdfast.yaml");
    const r = await runCli(["import", "autorestic", file, "-o", out]);
    expect(r.code, r.stderr).toBe(0);
    const config = parse(fs.readFileSync(out, "utf8")) as Record<string, any>;
    expect(config.restic).toEqual({ cache_dir: "~/restic" });
    expect(config.jobs.home.steps[0].tags).toEqual(["foo"]);
    expect(r.stderr).toContain("global.all.verbose: a flag for every restic command");
  });

  it("exclude.yml: excludes and the exclude file (relative to the config's directory)", async () => {
    const imp = await importFixture("autorestic", "exclude.yml");
    const line = resticLine((await plan(imp, "my-location")).backup, "backup");
    expect(line).toContain("--exclude '*.nope' --exclude '*.abc'");
    expect(line).toContain(`--exclude-file ${path.join(FIXTURES, "autorestic/.gitignore")}`);
  });

  it("cron.yml: the location's cron is the job's schedule", async () => {
    const imp = await importFixture("autorestic", "cron.yml");
    expect(imp.config.jobs["my-location"].schedule).toBe("0 3 * * 0");
    const expression = imp.config.jobs["my-location"].schedule as string;
    const next = await runCli(["schedule", "next", expression, "--json", "--from", "2026-12-03T00:00:00Z"], {
      env: { TZ: "UTC" },
    });
    expect(next.code, next.stderr).toBe(0);
    expect(parseJson<{ next: string[] }>(next).next[0]).toBe("2026-12-06T03:00:00.000Z"); // a Sunday
  });

  it("copy.yml: the snapshot made in a is copied to c (not backed up twice)", async () => {
    const imp = await importFixture("autorestic", "copy.yml");
    const steps = imp.config.jobs["my-location"].steps as Array<Record<string, unknown>>;
    expect(steps.map((s) => [s.type, s.repos ?? s.to])).toEqual([
      ["backup", ["a", "b"]],
      ["copy", ["c"]],
    ]);
    expect(steps[1]!.from).toBe("a");
  });

  it("hooks.yml and aliases.yml: hooks in autorestic's order, success/failure as notifiers, merge keys resolved", async () => {
    const hooks = await importFixture("autorestic", "hooks.yml");
    const steps = hooks.config.jobs["my-location"].steps as Array<{ name: string; command?: string[] }>;
    expect(steps.map((s) => s.name)).toEqual(["prevalidate", "before", "backup", "after"]);
    expect(steps[1]!.command).toEqual(["bash", "-e", "-c", 'echo "One"\necho "Two"\necho "Three"']);
    expect(hooks.config.notifications["my-location-failure"]).toMatchObject({
      type: "command",
      events: ["failure"],
    });
    expect(hooks.config.notifications["my-location-success"].command.at(-1)).toBe('echo "Well done!"');
    expect(hooks.config.jobs["my-location"].notify).toEqual(["my-location-success", "my-location-failure"]);

    const aliases = await importFixture("autorestic", "aliases.yml");
    for (const loc of ["a", "b"]) {
      expect(aliases.config.jobs[loc].steps[0].command.at(-1)).toBe('echo "Wake up!"');
      expect(aliases.config.jobs[`${loc}-forget`].steps[0].keep).toEqual({ daily: 14, weekly: 52 });
    }
    // from: data/b is relative to the config file.
    expect(aliases.config.sources.b.paths).toEqual([path.join(FIXTURES, "autorestic/data/b")]);
    expect(aliases.report).toContain("backends.some: not defined in the file");
  });
});

describe("resticprofile", () => {
  const all = fs
    .readdirSync(path.join(FIXTURES, "resticprofile"))
    .filter((f) => /\.(ya?ml|toml|json)$/.test(f) && f !== "template.yaml");

  it.each(all)("%s imports into a config that validates", async (name) => {
    const imp = await importFixture("resticprofile", name);
    expect(imp.code, imp.report).toBe(0);
    const v = await validate(imp);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });

  it("dev.toml and dev.json (the same profiles in two formats) give the same sources, repositories and jobs", async () => {
    const toml = await importFixture("resticprofile", "dev.toml");
    const json = await importFixture("resticprofile", "dev.json");
    const same = (imp: Imported, key: string) =>
      JSON.parse(JSON.stringify(imp.config[key]).replaceAll(imp.secrets, "SECRETS")) as unknown;
    for (const key of ["sources", "repositories", "jobs"]) expect(same(json, key)).toEqual(same(toml, key));
    // v1 inherit: root inherits default's repository and password-file (relative to the file).
    expect(toml.config.repositories.root).toMatchObject({
      url: "/Volumes/RAMDisk",
      password_file: path.join(FIXTURES, "resticprofile/key"),
    });
    const root = await plan(toml, "root");
    const backup = resticLine(root.backup, "backup");
    expect(backup).toContain("--tag test --tag dev");
    expect(backup).toContain(`--exclude-file ${path.join(FIXTURES, "resticprofile/root-excludes")}`);
    expect(backup).toContain("--exclude-caches");
    expect(resticLine(root.retention, "forget")).toContain(
      "--keep-last 3 --keep-hourly 1 --keep-daily 1 --keep-weekly 1 --keep-monthly 1 --keep-yearly 1 --keep-within 3h",
    );
    expect(toml.report).toContain("root.retention.keep-tag: holdfast's keep has no keep-tag");
    // The group runs its profiles in order.
    const group = toml.config.jobs["full-backup"].steps.map((s: { name: string }) => s.name);
    expect(group.filter((n: string) => n.endsWith("-backup"))).toEqual(["root-backup", "src-backup"]);
  });

  it("v2.yaml: profiles:, {{ .Profile.Name }} per profile, {{ .Hostname }}, groups with schedules", async () => {
    const imp = await importFixture("resticprofile", "v2.yaml");
    expect(imp.config.jobs.root.steps[0].tags).toEqual(["dev", "root"]);
    expect(imp.config.jobs.self.steps[0].tags).toEqual(["dev", "self"]);
    expect(imp.config.repositories.root.url).toBe("/Volumes/RAMDisk/root");
    expect(imp.config.repositories.documents.url).toMatch(/^~\/backup\/.+/);
    expect(imp.config.jobs.root.schedule).toBe("*:0,15,30,45");
    expect(imp.config.jobs["full-backup"]).toMatchObject({ description: "Full Backup", schedule: "*:*" });
    expect(imp.config.sources.root.adopt).toEqual({ tags: ["dev", "root"] });
    // A run-before with {{ .Now.Format … }} cannot be computed ahead: left out and reported.
    expect(imp.report).toMatch(/profiles\.src\.backup\.run-before: \{\{ \.Now\.Format .*\(line 182\)/);
    const src = await plan(imp, "src");
    expect(resticLine(src.retention, "forget")).toMatch(/--keep-within 30d --prune {3}# source src/);
  });

  it("linux.yaml: v1 inherit with per-profile templates; copy sections become copy jobs", async () => {
    const imp = await importFixture("resticprofile", "linux.yaml");
    expect(imp.config.repositories.documents.url).toBe("/tmp/backup/documents");
    expect(imp.config.repositories["documents-copy"].url).toBe("/tmp/backup/documents-copy");
    expect(imp.config.jobs["documents-copy"].steps[0]).toMatchObject({
      type: "copy",
      from: "documents",
      to: ["documents-copy"],
    });
    expect(imp.config.jobs.documents.schedule).toBe("*:00,15,30,45");
    expect(imp.config.sources.src.exclude).toEqual(["/**/.git"]);
    expect(imp.report).toContain('test3.backup.run-finally: {{ tempFile "backup.log" }}');
  });

  it("nested templates (TOML and YAML): define/template inlined, credentials in the URL moved to a url_file", async () => {
    for (const name of ["nested-templates.toml", "nested-templates.yaml"]) {
      const imp = await importFixture("resticprofile", name);
      expect(imp.config.sources["nas-root"]).toMatchObject({
        paths: ["/"],
        exclude: ["nas-root-backup.log"],
        exclude_file: [
          path.join(FIXTURES, "resticprofile/root-excludes"),
          path.join(FIXTURES, "resticprofile/excludes"),
        ],
      });
      expect(imp.config.jobs["nas-root"].schedule).toBe("01:47");
      expect(imp.config.repositories["nas-root"].url_file).toBe(path.join(imp.secrets, "nas-root.url"));
      expect(imp.text).not.toContain("BACKUP_REST_PASSWORD}@");
      // A secret the shell reads from the environment at run time stays a variable.
      const mysql = imp.config.jobs["azure-mysql"].steps[0];
      expect(mysql.command.at(-1)).toContain("-p${MYSQL_BACKUP_PASSWORD}");
    }
  });

  it("mixins.yaml: mixins with vars and list appends, applied before inherit", async () => {
    const imp = await importFixture("resticprofile", "mixins.yaml");
    const some = imp.config.sources["select-some-and-retain-last-30"];
    // exclude: /tmp, then exclude-backup's and exclude-hidden's appends; the repository (inside /) last.
    expect(some.exclude).toEqual(["/tmp", "/backup/*", "*.bak*", "*.", "*~", "/backup/alternate"]);
    expect(imp.config.repositories["select-some-and-retain-last-30"]).toMatchObject({
      url: "/backup/alternate",
      password_file: path.join(FIXTURES, "resticprofile/alternate-repo.key"),
    });
    expect(imp.report).toContain(
      "profiles.select-all-and-retain-last-60.retention: neither before-backup nor after-backup",
    );
  });

  it("template.yaml: what depends on the run ({{ .Now.Weekday }}) is reported, not guessed", async () => {
    const imp = await importFixture("resticprofile", "template.yaml");
    expect(imp.code).toBe(0);
    expect(imp.report).toMatch(/src\.repository: \{\{ \.Now\.Weekday \}\} \(line 9\)/);
    expect(imp.report).toContain("no job could be made");
  });

  it("an HCL file, or a file that is not the tool's, is a usage error with a hint (exit 2)", async () => {
    const dir = makeTempDir();
    fs.writeFileSync(path.join(dir, "p.hcl"), 'default { repository = "/x" }\n');
    const hcl = await runCli(["import", "resticprofile", path.join(dir, "p.hcl"), "-o", "-"]);
    expect(hcl.code).toBe(2);
    expect(hcl.stderr).toContain("HCL configs are not read");
    const wrong = await runCli([
      "import",
      "autorestic",
      path.join(FIXTURES, "resticprofile/v2.yaml"),
      "-o",
      "-",
    ]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("is not an autorestic config");
    expect(wrong.stderr).not.toMatch(/\n\s+at /);
  });
});
