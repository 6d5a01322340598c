// Paths that contain each other where that can only go wrong (issue 12 item 4), refused when the
// config loads (each kind's checkWithConfig):
//   - a mirror whose target is inside its source copies the previous mirror into the next one, and
//     grows every run; one whose source is inside its target writes the source over the directory
//     that holds it — with deletions, rsync then deletes the source itself (rsync 3.5: `rsync -a
//     --delete /a/b/ /a/` removes /a/b);
//   - a local repository inside a source it backs up stores itself in every snapshot, and grows;
//     a source inside the repository backs up restic's own files (a repository is copied with a
//     `copy` step).
// Paths are compared as the kernel resolves them (symlinks followed as far as the path exists), so a
// link to the source's directory is the source. An exclude that covers the inner path (the source's
// exclude, with restic's meaning; the mirror's exclude, with rsync's, relative to the mirror's root)
// makes the overlap harmless, and so does one_file_system with the repository on another device.
import fs from "node:fs";
import path from "node:path";
import type { RawConfig } from "../config/types.js";
import type { StepProblem } from "../engine/step-kind.js";
import { compilePatterns } from "../sources/selection.js";
import { deviceOf, isWithin, relativeParts, resolveExisting } from "../util/path-within.js";

/** A local mirror (the caller leaves remote sides out: their paths are on another host). */
export function mirrorOverlap(step: { from: string; to: string; exclude?: string[] }): StepProblem[] {
  const { from, to } = step;
  const source = resolveExisting(from);
  const target = resolveExisting(to);
  if (source === target) {
    return [
      {
        path: ["to"],
        message: `the mirror's target ${to} is its own source`,
        hint: "mirror to another directory, ideally on another disk",
      },
    ];
  }
  if (isWithin(target, source)) {
    // rsync's exclude patterns are relative to the transfer's root: the source's contents for "dir/",
    // the directory itself for "dir" (its name is then the first part).
    const parts = [...(from.endsWith("/") ? [] : [path.basename(source)]), ...relativeParts(target, source)];
    const excluded = compilePatterns(step.exclude ?? []);
    const covered = parts.some((_, k) => excluded(`/${parts.slice(0, k + 1).join("/")}`));
    if (covered) return [];
    return [
      {
        path: ["to"],
        message: `the mirror's target ${to} is inside its source ${from}: every run would copy the previous mirror into the next one`,
        hint: `put the mirror outside ${from}, or exclude it from the mirror: exclude: ["/${parts.join("/")}/"]`,
      },
    ];
  }
  if (isWithin(source, target)) {
    return [
      {
        path: ["to"],
        message: `the mirror's source ${from} is inside its target ${to}: rsync would write the source over the directory that holds it, and with deletions delete the source itself`,
        hint: "mirror to a directory outside the source's tree",
      },
    ];
  }
  return [];
}

export function backupOverlap(config: RawConfig, step: { source: string; repos: string[] }): StepProblem[] {
  const problems: StepProblem[] = [];
  const sourceName = step.source;
  const source = config.sources[sourceName];
  const repos = step.repos;
  if (!source) return problems;
  const excluded = compilePatterns(source.exclude);
  repos.forEach((repoName, k) => {
    const url = config.repositories[repoName]?.url;
    // A local repository's url is an absolute path after loading; a backend URL is not ("rest:…").
    if (!url || !url.startsWith("/")) return;
    const repo = resolveExisting(url);
    for (const sourcePath of source.paths) {
      const real = resolveExisting(sourcePath);
      if (isWithin(repo, real)) {
        // restic sees the repository under the source path as written: match the excludes there.
        const parts = relativeParts(repo, real);
        const seen = parts.map((_, n) => path.join(sourcePath, ...parts.slice(0, n + 1)));
        if (seen.some((p) => excluded(p))) continue;
        const markers = source.exclude_if_present.map((m) => m.split(":")[0] as string).filter(Boolean);
        const marked = parts.some((_, n) =>
          markers.some((m) => fs.existsSync(path.join(real, ...parts.slice(0, n + 1), m))),
        );
        if (marked) continue;
        if (source.one_file_system && repo !== real && deviceOf(repo) !== deviceOf(real)) continue;
        problems.push({
          path: ["repos", k],
          message: `repository ${repoName} (${url}) is inside ${sourcePath}, a path of source ${sourceName} it backs up: every snapshot would store the repository in itself, and it grows every run`,
          hint: `move the repository out of ${sourcePath}, or exclude it in sources.${sourceName}.exclude: ["${url}"]`,
        });
      } else if (isWithin(real, repo)) {
        problems.push({
          path: ["repos", k],
          message: `${sourcePath}, a path of source ${sourceName}, is inside repository ${repoName} (${url}): the backup would store restic's own files in the repository`,
          hint: "to keep a second copy of a repository use a copy step (restic copy) into another repository, or a mirror step",
        });
      }
    }
  });
  return problems;
}
