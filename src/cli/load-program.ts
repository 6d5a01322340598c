// Loads the CLI (program.ts) for main.ts, through V8's code cache (targets.md P2′, P1′).
//
// Compiling the 2.3 MB CLI bundle was the largest single cost of every command: ~40 ms of a one-step
// `holdfast run`'s ~140 ms over `node -e 0`, and more for the functions compiled lazily as they run.
// Node 20 has no compile cache for ES modules (module.enableCompileCache is Node 22), so the bundle
// is also written as CommonJS (dist/cli/program-bundle.cjs, scripts/bundle.mjs) and run here through
// vm.Script with the bytecode V8 produced the last time the same command ran: one cache file per
// top-level command, because V8 stores only the functions that had been compiled when the cache was
// made, and `status` compiles other functions than `run`.
//
// The cache is bytecode this process will execute, so it is trusted only as holdfast's own state is
// (util/trusted-dir.ts): a 0700 directory of the user's, a 0600 file that is no link. V8 checks its
// version, flags and the source's length itself; the file name carries the bundle's size, mtime and
// inode and the Node version, so a rebuilt or upgraded holdfast never reads another build's bytecode.
// Every failure here only costs speed: without a usable cache (or without the bundle: a tsc-only
// dist/) the program is loaded the ordinary way. HOLDFAST_NO_COMPILE_CACHE=1 turns the cache off.
import crypto from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { cacheDir } from "../config/locate.js";
import { writeFileAtomicSync } from "../util/atomic-write.js";
import { dirDistrust, fileDistrust, READ_NO_FOLLOW } from "../util/trusted-dir.js";
import type * as ProgramModule from "./program.js";

type Program = typeof ProgramModule;

export interface LoadedProgram {
  program: Program;
  /** Stores the bytecode for the next run of the same command, when this run had none to use. */
  saveCache: () => void;
}

const BUNDLE = "program-bundle.cjs";
// Global flags that take a value: the word after them is not the command.
const FLAGS_WITH_VALUE = new Set(["-c", "--config"]);

/** The top-level command argv names (`holdfast --config x run -q` → "run"), or null. */
export function commandOf(argv: readonly string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === "--") return null;
    if (FLAGS_WITH_VALUE.has(word)) {
      i++;
      continue;
    }
    if (word.startsWith("-")) continue;
    return /^[a-z][a-z0-9-]{0,31}$/.test(word) ? word : null;
  }
  return null;
}

export async function loadProgram(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoadedProgram> {
  const bundle = fileURLToPath(new URL(`./${BUNDLE}`, import.meta.url));
  let source: string;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(bundle);
    source = fs.readFileSync(bundle, "utf8");
  } catch {
    return { program: await import("./program.js"), saveCache: () => undefined };
  }
  const command = env.HOLDFAST_NO_COMPILE_CACHE ? null : commandOf(argv);
  const cacheFile = command === null ? null : cachePath(stat, command, env);
  const cached = cacheFile === null ? undefined : readTrustedCache(cacheFile);
  const script = new vm.Script(wrap(source), {
    filename: bundle,
    ...(cached ? { cachedData: cached } : {}),
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const module = { exports: {} as Program };
  const init = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: unknown,
    filename: string,
    dirname: string,
  ) => void;
  init(module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
  const usable = cached !== undefined && !script.cachedDataRejected;
  return {
    program: module.exports,
    saveCache: () => {
      if (usable || cacheFile === null) return;
      // Only for the command argv named: a mistyped word would otherwise leave a file per typo.
      if (module.exports.commandThatRan() !== command) return;
      writeTrusted(cacheFile, script.createCachedData());
    },
  };
}

// Node's own CommonJS wrapper, so the bundle sees the module scope esbuild's CommonJS output expects.
function wrap(source: string): string {
  return `(function (exports, require, module, __filename, __dirname) { ${source}\n})`;
}

function cachePath(stat: fs.Stats, command: string, env: NodeJS.ProcessEnv): string {
  const build = crypto
    .createHash("sha256")
    .update(`${stat.size}:${stat.mtimeMs}:${stat.ino}:${process.version}:${process.arch}`)
    .digest("hex")
    .slice(0, 16);
  return path.join(cacheDir(env), "v8", `${build}-${command}.bin`);
}

/** The cache file's bytes, or undefined when it is missing or anyone but this user could have written it. */
export function readTrustedCache(file: string): Buffer | undefined {
  try {
    if (dirDistrust(path.dirname(file)) !== null || fileDistrust(file) !== null) return undefined;
    const fd = fs.openSync(file, READ_NO_FOLLOW);
    try {
      const st = fs.fstatSync(fd);
      // Written 0600; a file someone made readable or writable by others was not written by us.
      if ((st.mode & 0o077) !== 0) return undefined;
      return fs.readFileSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

function writeTrusted(file: string, data: Buffer): void {
  try {
    const dir = path.dirname(file);
    // Nothing is made, not even v8/, inside a cache directory that someone else could write.
    if (dirDistrust(path.dirname(dir)) !== null) return;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (dirDistrust(dir) !== null) return;
    // Bytecode of older builds is never read again.
    const build = path.basename(file).split("-")[0];
    for (const name of fs.readdirSync(dir))
      if (!name.startsWith(`${build}-`)) fs.rmSync(path.join(dir, name), { force: true });
    writeFileAtomicSync(file, data, { mode: 0o600, durable: false });
  } catch {
    // Only speed is lost.
  }
}
