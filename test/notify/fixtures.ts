// Shared pieces of the notify unit tests: a parsed config, runs in a memory store, fake notifier kinds.
import { parseConfigText } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";
import type { NotifierContext, NotifierKind, NotifyMessage } from "../../src/notify/notifier-kind.js";
import type { RunRecord, RunStatus, RunStore, StepRecord } from "../../src/store/types.js";

export function loadTestConfig(yaml: string, dir = "/tmp"): Config {
  return parseConfigText(yaml, `${dir}/holdfast.yaml`);
}

export interface FakeSend {
  notifier: string;
  message: NotifyMessage;
  signal: AbortSignal;
}

/** A fake kind per notifier type: `behave` decides what each send does. */
export function createFakeKinds(
  behave: (
    ctx: NotifierContext<Record<string, unknown>>,
    message: NotifyMessage,
    attempt: number,
  ) => Promise<void>,
) {
  const sends: FakeSend[] = [];
  const attempts = new Map<string, number>();
  const findKind = (type: string): NotifierKind | undefined => ({
    type,
    defaultEvents: [],
    options: {},
    send: (ctx: NotifierContext<Record<string, unknown>>, message: NotifyMessage) => {
      const key = `${ctx.name}:${message.event}`;
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      sends.push({ notifier: ctx.name, message, signal: ctx.signal });
      return behave(ctx, message, attempt);
    },
  });
  return { sends, findKind };
}

let counter = 0;

/** Records a finished run of `job` with the given step records. */
export async function recordRun(
  store: RunStore,
  job: string,
  status: RunStatus,
  options: { startedAt?: string; steps?: Array<Partial<StepRecord> & { name: string }> } = {},
): Promise<RunRecord> {
  const id = `01TESTRUN${String(++counter).padStart(17, "0")}`;
  const started = options.startedAt ?? new Date(Date.UTC(2026, 10, 1) + counter * 3_600_000).toISOString();
  const steps = options.steps ?? [
    {
      name: "hello",
      type: "exec",
      status:
        status === "running"
          ? "running"
          : status === "failed"
            ? "failed"
            : status === "warning"
              ? "warning"
              : "succeeded",
    },
  ];
  await store.createRun({
    id,
    job,
    host: "testhost",
    trigger: "manual",
    pid: process.pid,
    started_at: started,
    steps: steps.map((s) => ({ name: s.name, type: s.type ?? "exec" })),
  });
  const finished = new Date(Date.parse(started) + 60_000).toISOString();
  for (const [i, s] of steps.entries()) {
    const { name: _n, type: _t, index: _i, ...patch } = s;
    await store.updateStep(id, i, {
      started_at: started,
      finished_at: finished,
      duration_ms: 60_000,
      ...patch,
    });
  }
  if (status !== "running") {
    await store.finishRun(id, {
      status,
      exit_code: status === "succeeded" ? 0 : status === "warning" ? 3 : 1,
      finished_at: finished,
      duration_ms: 60_000,
    });
  }
  return (await store.getRun(id)) as RunRecord;
}
