import fs from "node:fs";
import readline from "node:readline";
import { createGunzip } from "node:zlib";
import { UsageError } from "../../errors.js";
import { findStepLog, stepLogRefusal } from "../../engine/step-log.js";
import { openFlags, READ_NO_FOLLOW } from "../../util/trusted-dir.js";
import type { StepRecord } from "../../store/types.js";
import { addPendingRecordsQuietly, openStore } from "../open-store.js";
import { loadConfigForReading, type GlobalOptions } from "../read-config.js";
import { color, stdoutClosed } from "../output.js";
import { resolveRun } from "./resolve-run.js";

export default async function logs(
  global: GlobalOptions,
  ref: string,
  flags: { step?: string; follow?: boolean },
): Promise<number> {
  const { config } = await loadConfigForReading(global, { allowEmbedded: true });
  await addPendingRecordsQuietly(config);
  const store = openStore(config);
  try {
    let run = await resolveRun(store, ref);
    if (flags.step && !run.steps.some((s) => s.name === flags.step)) {
      throw new UsageError(
        `run ${run.id} has no step "${flags.step}"`,
        `its steps: ${run.steps.map((s) => s.name).join(", ")}`,
      );
    }
    const printed = new Set<number>();
    const multi = !flags.step;
    for (;;) {
      for (const step of run.steps) {
        if (flags.step && step.name !== flags.step) continue;
        if (printed.has(step.index)) continue;
        const done = step.status !== "running" && step.status !== "pending";
        if (step.status === "pending") break;
        if (!done && !flags.follow) {
          await printLog(config.state_dir, step, multi);
          printed.add(step.index);
          continue;
        }
        if (!done) {
          await followLog(config.state_dir, step, multi, async () => {
            const fresh = await store.getRun(run.id);
            const s = fresh?.steps[step.index];
            return !s || (s.status !== "running" && s.status !== "pending");
          });
        } else {
          await printLog(config.state_dir, step, multi);
        }
        printed.add(step.index);
      }
      // Following for a reader that went away (`logs -f | head` quit) would never end.
      if (!flags.follow || run.status !== "running" || stdoutClosed()) break;
      await new Promise((r) => setTimeout(r, 500));
      run = (await store.getRun(run.id)) ?? run;
      if (run.status !== "running" && run.steps.every((s) => printed.has(s.index) || s.status === "skipped"))
        break;
    }
    return 0;
  } finally {
    await store.close();
  }
}

async function printLog(stateDir: string, step: StepRecord, header: boolean): Promise<void> {
  if (header) process.stdout.write(`${color.bold(`==> ${step.name} (${step.status})`)}\n`);
  const refusal = step.log_path ? stepLogRefusal(stateDir, step.log_path) : null;
  if (refusal) {
    process.stdout.write(color.dim(`(${refusal})\n`));
    return;
  }
  const file = step.log_path ? findStepLog(stateDir, step.log_path) : null;
  if (!file) {
    if (step.status !== "skipped") process.stdout.write(color.dim("(no output captured)\n"));
    return;
  }
  const input = fs.createReadStream(file, { flags: openFlags(READ_NO_FOLLOW) });
  const stream = file.endsWith(".gz") ? input.pipe(createGunzip()) : input;
  for await (const line of readline.createInterface({ input: stream, crlfDelay: Infinity })) {
    process.stdout.write(`${line}\n`);
  }
}

/** Prints a growing plain log until isDone(), then whatever is left (possibly from the .gz). */
async function followLog(
  stateDir: string,
  step: StepRecord,
  header: boolean,
  isDone: () => Promise<boolean>,
): Promise<void> {
  if (header) process.stdout.write(`${color.bold(`==> ${step.name} (running)`)}\n`);
  const plain = step.log_path?.endsWith(".gz") ? step.log_path.slice(0, -3) : step.log_path;
  if (!plain || stepLogRefusal(stateDir, plain) !== null) return;
  let offset = 0;
  for (;;) {
    const finished = await isDone();
    try {
      const size = fs.statSync(plain).size;
      if (size > offset) {
        const fd = fs.openSync(plain, READ_NO_FOLLOW);
        const buffer = Buffer.alloc(size - offset);
        fs.readSync(fd, buffer, 0, buffer.length, offset);
        fs.closeSync(fd);
        offset = size;
        process.stdout.write(buffer);
      }
    } catch {
      // The plain file was compressed away: print the part we have not seen from the .gz.
      if (finished && step.log_path) {
        const gz = findStepLog(stateDir, `${plain}.gz`);
        if (gz) {
          const all = await new Promise<Buffer>((resolve, reject) => {
            const chunks: Buffer[] = [];
            fs.createReadStream(gz, { flags: openFlags(READ_NO_FOLLOW) })
              .pipe(createGunzip())
              .on("data", (c: Buffer) => chunks.push(c))
              .on("end", () => resolve(Buffer.concat(chunks)))
              .on("error", reject);
          });
          process.stdout.write(all.subarray(offset));
        }
      }
    }
    if (finished || stdoutClosed()) return;
    await new Promise((r) => setTimeout(r, 300));
  }
}
