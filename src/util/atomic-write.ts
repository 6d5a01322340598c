// Writes that never leave a half file in place of a good one (targets.md R7): the data goes to a
// temp file in the same directory (so the rename cannot cross filesystems), is fsynced, renamed over
// the target, and the directory is fsynced so the rename itself survives a power loss. On any error
// the temp file is removed and the error is rethrown with its errno code intact.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Readable, Writable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";

export interface AtomicWriteOptions {
  /** File mode of the new file (default 0o644, cut by the umask); a mode given is set exactly. */
  mode?: number;
}

const TEMP_MARK = ".tmp-";

/** The temp name used for target: hidden, in the same directory, unique per call. */
export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  return path.join(
    dir,
    `.${path.basename(target)}${TEMP_MARK}${process.pid}-${randomBytes(4).toString("hex")}`,
  );
}

/** True for names tempPathFor makes, so a later run can clean up after a crash. */
export function isAtomicTempName(name: string): boolean {
  return name.startsWith(".") && name.includes(TEMP_MARK);
}

export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  await writeStreamAtomic(target, [typeof data === "string" ? Buffer.from(data) : data], options);
}

/**
 * Streams chunks (through an optional transform such as gzip) into target atomically. The source is
 * consumed lazily, so a large file never has to exist whole in memory.
 */
export async function writeStreamAtomic(
  target: string,
  source: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>,
  options: AtomicWriteOptions & { transform?: Transform } = {},
): Promise<void> {
  const temp = tempPathFor(target);
  const handle = await fs.promises.open(temp, "wx", options.mode ?? 0o644);
  let closed = false;
  try {
    // The umask may have cut the mode at creation; a mode asked for is part of the contract (S2).
    if (options.mode !== undefined) await handle.chmod(options.mode);
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        handle.write(chunk).then(
          () => callback(),
          (err: unknown) => callback(err as Error),
        );
      },
    });
    const input = Readable.from(source, { objectMode: false });
    if (options.transform) await pipeline(input, options.transform, sink);
    else await pipeline(input, sink);
    await handle.sync();
    closed = true;
    await handle.close();
    await fs.promises.rename(temp, target);
  } catch (err) {
    if (!closed) await handle.close().catch(() => undefined);
    await fs.promises.rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
  await syncDirectory(path.dirname(target));
}

/**
 * writeFileAtomic for the few places that cannot wait (a lock holder, a unit file, a cache): the same
 * steps, synchronously, and the temp file is opened with O_EXCL | O_NOFOLLOW so that a planted link
 * is never written through. `durable: false` skips the fsyncs, for files that are only a speed-up.
 */
export function writeFileAtomicSync(
  target: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions & { durable?: boolean } = {},
): void {
  const temp = tempPathFor(target);
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
  const fd = fs.openSync(temp, flags, options.mode ?? 0o644);
  try {
    try {
      fs.writeFileSync(fd, data);
      if (options.mode !== undefined) fs.fchmodSync(fd, options.mode);
      if (options.durable !== false) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, target);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
  if (options.durable !== false) syncDirectorySync(path.dirname(target));
}

function syncDirectorySync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // As in syncDirectory.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** fsyncs a directory so renames and unlinks in it are durable; best effort where unsupported. */
export async function syncDirectory(dir: string): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(dir, "r");
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on a directory (EINVAL); the data itself is already synced.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Removes temp files that a crashed writer left in dir; returns how many were removed. */
export async function removeStaleTempFiles(dir: string, prefix = ""): Promise<number> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!isAtomicTempName(name) || !name.startsWith(`.${prefix}`)) continue;
    if (isWriterAlive(name)) continue;
    await fs.promises.rm(path.join(dir, name), { force: true });
    removed++;
  }
  return removed;
}

/** Errno codes that mean "the disk is full" (EDQUOT: quota; EFBIG: RLIMIT_FSIZE or file size limit). */
export function isDiskFullError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT" || code === "EFBIG";
}

function isWriterAlive(tempName: string): boolean {
  const pid = Number(/\.tmp-(\d+)-/.exec(tempName)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
