// Waiting that an AbortSignal can cut short, in one place. Both helpers answer what happened rather
// than a bare boolean: two `sleep()`s whose `true` meant opposite things (slept / was aborted) lived
// in restic/exec.ts and engine/run-job.ts before (issue 14 item 2).
import { timerDelay } from "./units.js";

/** Waits `ms`, or less when the signal fires: "elapsed" when the time ran out, "aborted" when cut short. */
export function waitUnlessAborted(
  ms: number,
  signal: AbortSignal | null | undefined,
): Promise<"elapsed" | "aborted"> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve("aborted");
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve("elapsed");
    }, timerDelay(ms));
    const onAbort = () => {
      clearTimeout(timer);
      resolve("aborted");
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Resolves true when the promise settles first, false when the signal fires first (or has fired). */
export function settlesBeforeAbort(promise: Promise<unknown>, signal: AbortSignal | null): Promise<boolean> {
  if (!signal) return promise.then(() => true);
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => resolve(false);
    signal.addEventListener("abort", onAbort, { once: true });
    void promise.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    });
  });
}
