// The sub-result of one repository of a backup (and of a dump, which is a backup from stdin): restic's
// summary figures, and its exit code judged (3 with a snapshot: a warning naming the unreadable files).
import { stepError, type StepError } from "../errors.js";
import type { StepStatus, TargetRecord } from "../store/types.js";
import type { BackupResult } from "../restic/commands.js";
import type { summarizeBackupErrors as summarizeErrors } from "../restic/outputs.js";

export function skippedTarget(repo: string, error: StepError | null): TargetRecord {
  return { repo, status: "skipped", duration_ms: null, error, snapshot_id: null };
}

export function targetFor(
  repo: string,
  result: BackupResult,
  durationMs: number,
  summarizeBackupErrors: typeof summarizeErrors,
): TargetRecord {
  const { outcome, summary } = result;
  const figures = summary
    ? {
        snapshot_id: summary.snapshotId,
        short_id: summary.snapshotId === null ? null : summary.snapshotId.slice(0, 8),
        files_new: summary.filesNew,
        files_changed: summary.filesChanged,
        files_unmodified: summary.filesUnmodified,
        dirs_new: summary.dirsNew,
        dirs_changed: summary.dirsChanged,
        dirs_unmodified: summary.dirsUnmodified,
        data_added: summary.dataAdded,
        ...(summary.dataAddedPacked !== null ? { data_added_packed: summary.dataAddedPacked } : {}),
        total_files_processed: summary.totalFilesProcessed,
        total_bytes_processed: summary.totalBytesProcessed,
        // restic 0.18.0 reports total_duration -9223372036.85 for a skipped (unchanged) backup: the
        // parser makes an impossible figure null (BackupSummary.impossible), and it is not recorded.
        ...(summary.totalDuration !== null
          ? { restic_duration_ms: Math.round(summary.totalDuration * 1000) }
          : {}),
        // 0.18+; restic's own clock for the backup (a year-1 backup_end is dropped by the parser).
        ...(summary.backupStart !== null ? { backup_start: summary.backupStart } : {}),
        ...(summary.backupEnd !== null ? { backup_end: summary.backupEnd } : {}),
      }
    : { snapshot_id: null };
  const base = { repo, duration_ms: durationMs, exit_code: outcome.exitCode, ...figures };
  if (outcome.ok) return { ...base, status: "succeeded", error: null };
  // Exit 3: some files could not be read; the snapshot exists (restic-notes.md §2).
  // A damaged repository also answers 3 (its parent tree unreadable), but that is no unreadable file.
  if (outcome.exitCode === 3 && summary?.snapshotId && outcome.error?.kind !== "repository_damaged") {
    const listed = summarizeBackupErrors(result.errors);
    const error = outcome.error ?? stepError("partial", `snapshot saved, but restic ${listed.message}`, null);
    return {
      ...base,
      status: "warning",
      error,
      unreadable_count: listed.paths.length,
      unreadable_paths: listed.paths.slice(0, 20),
    };
  }
  const error =
    outcome.error ??
    stepError("exit_code", `restic backup exited with ${outcome.exitCode ?? outcome.signal ?? "?"}`, null);
  const status: StepStatus =
    error.kind === "cancelled" ? "cancelled" : error.kind === "timeout" ? "timed_out" : "failed";
  return { ...base, status, error };
}
