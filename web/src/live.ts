// What the views show changes on its own: one poller for the job states (an ETag makes an unchanged
// answer a body-less 304) and, when the server has it, the Server-Sent Events stream instead. Polling
// pauses while the tab is hidden; an idle visible tab costs one small request per interval.
import { auth, getJsonCached, headers } from "./api.js";
import { readEvents } from "./sse.js";
import { createStore } from "./store.js";
import type { Info, JobStatus, ProgressEvent, StatusResponse } from "./types.js";

export type Progress = ProgressEvent;

export const info = createStore<Info | null>(null);
export const statuses = createStore<JobStatus[] | null>(null);
export const statusError = createStore<unknown>(null);
export const updatedAt = createStore<Date | null>(null);
/** Bumped on every change the server reports (or every poll): views with their own data re-read it. */
export const tick = createStore(0);
/** Live progress of running backups, by run id (from the event stream). */
export const progress = createStore<Record<string, Progress>>({});
export const liveMode = createStore<"events" | "polling" | "off">("off");

const POLL_MS = 15_000;
let timer: ReturnType<typeof setTimeout> | null = null;
let started = false;

export async function refreshStatus(): Promise<void> {
  try {
    const s = await getJsonCached<StatusResponse>("/api/status");
    statuses.set(s.jobs);
    statusError.set(null);
    updatedAt.set(new Date());
  } catch (err) {
    statusError.set(err);
  }
}

async function refreshInfo(): Promise<void> {
  try {
    info.set(await getJsonCached<Info>("/api/info"));
  } catch {
    /* the status poll reports the failure */
  }
}

/** The next poll, unless one is due already (a failing event stream must not keep pushing it back). */
function schedule(): void {
  if (document.hidden || liveMode.get() === "events") {
    if (timer) clearTimeout(timer);
    timer = null;
    return;
  }
  if (timer) return;
  timer = setTimeout(() => {
    timer = null;
    void refreshStatus().then(() => {
      tick.update((n) => n + 1);
      schedule();
    });
  }, POLL_MS);
}

export function hasEvents(i: Info | null): boolean {
  return !!i && (i.capabilities.events === true || i.endpoints.some((e) => e.startsWith("GET /api/events")));
}

let eventsAbort: AbortController | null = null;
let lastEventId: string | null = null;

// One stream per browser, not per tab: the tab that holds the Web Lock reads GET /api/events and
// passes every event on through a BroadcastChannel; the other tabs only listen. When that tab closes,
// the lock (and the stream, resumed with the last id any tab saw) passes to another. Tabs share only
// with tabs of the same token: the channel is named after a hash of it. Without Web Locks,
// BroadcastChannel or crypto.subtle (plain http on another host), each tab reads its own stream.
type Shared = { kind: "event"; id: string | null; event: string; data: string } | { kind: "leader" };
let channel: BroadcastChannel | null = null;
let leaderSeenAt = 0;
let followerWatch: ReturnType<typeof setInterval> | null = null;

async function channelName(): Promise<string | null> {
  if (typeof BroadcastChannel === "undefined" || !("locks" in navigator)) return null;
  const token = headers().Authorization ?? "";
  if (!token) return "holdfast-events:open";
  if (!globalThis.crypto?.subtle) return null;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  const hex = [...new Uint8Array(digest).slice(0, 12)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `holdfast-events:${hex}`;
}

function stopEvents(): void {
  eventsAbort?.abort();
  eventsAbort = null;
  channel?.close();
  channel = null;
  if (followerWatch) clearInterval(followerWatch);
  followerWatch = null;
}

async function startEvents(): Promise<void> {
  stopEvents();
  const controller = new AbortController();
  eventsAbort = controller;
  const name = await channelName();
  if (controller.signal.aborted) return;
  if (name === null) {
    void followEvents(controller.signal, null);
    return;
  }
  const ch = new BroadcastChannel(name);
  channel = ch;
  let leading = false;
  ch.onmessage = (m: MessageEvent<Shared>) => {
    if (leading) return;
    leaderSeenAt = Date.now();
    if (liveMode.get() !== "events") {
      liveMode.set("events");
      if (timer) clearTimeout(timer);
      timer = null;
      void refreshStatus();
    }
    if (m.data.kind === "event") {
      if (m.data.id) lastEventId = m.data.id;
      handleEvent(m.data.event, m.data.data);
    }
  };
  // A follower that hears nothing from a leader for a while polls again (the leader's tab may be
  // stuck); the leader announces itself every 10 s.
  followerWatch = setInterval(() => {
    if (!leading && liveMode.get() === "events" && Date.now() - leaderSeenAt > 25_000) {
      liveMode.set("polling");
      schedule();
    }
  }, 5_000);
  void navigator.locks
    .request(name, { signal: controller.signal }, async () => {
      leading = true;
      const announce = setInterval(() => ch.postMessage({ kind: "leader" } satisfies Shared), 10_000);
      ch.postMessage({ kind: "leader" } satisfies Shared);
      try {
        await followEvents(controller.signal, (msg) => ch.postMessage(msg));
      } finally {
        clearInterval(announce);
        leading = false;
      }
    })
    .catch(() => {
      /* aborted: the token changed or the tab logged out */
    });
}

/** The SSE stream, read with fetch so the Bearer header can go with it; resumes with Last-Event-ID. */
async function followEvents(signal: AbortSignal, share: ((msg: Shared) => void) | null): Promise<void> {
  let retryMs = 3000;
  let failures = 0;
  while (!signal.aborted) {
    try {
      const res = await fetch("/api/events", {
        headers: headers({
          Accept: "text/event-stream",
          ...(lastEventId ? { "Last-Event-ID": lastEventId } : {}),
        }),
        signal,
      });
      if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
      liveMode.set("events");
      failures = 0;
      if (timer) clearTimeout(timer);
      timer = null;
      await refreshStatus();
      await readEvents(res.body, (ev) => {
        if (ev.retry) retryMs = ev.retry;
        if (ev.id) lastEventId = ev.id;
        if (ev.data !== null) {
          handleEvent(ev.event, ev.data);
          share?.({ kind: "event", id: ev.id, event: ev.event, data: ev.data });
        }
      });
    } catch {
      if (signal.aborted) return;
    }
    liveMode.set("polling");
    schedule();
    // A stream that keeps failing (a proxy that refuses it) is retried less and less often: 3 s, 6 s,
    // … up to 2 min, while the tab polls.
    await new Promise((r) => setTimeout(r, Math.min(120_000, retryMs * 2 ** Math.min(failures, 6))));
    failures++;
  }
}

let refreshQueued = false;
function queueRefresh(): void {
  if (refreshQueued) return;
  refreshQueued = true;
  setTimeout(() => {
    refreshQueued = false;
    void refreshStatus().then(() => tick.update((n) => n + 1));
  }, 250);
}

function handleEvent(event: string, data: string): void {
  let payload: unknown;
  try {
    payload = JSON.parse(data);
  } catch {
    return;
  }
  if (event === "progress" && payload && typeof payload === "object") {
    const p = payload as Progress;
    if (typeof p.run_id === "string") progress.update((all) => ({ ...all, [p.run_id]: p }));
    return;
  }
  if (event === "run" && payload && typeof payload === "object") {
    const r = payload as { run_id?: string; status?: string };
    // A run that ended leaves no progress behind.
    if (r.run_id && r.status !== "running")
      progress.update((all) => {
        const { [r.run_id as string]: _gone, ...rest } = all;
        return rest;
      });
  }
  if (event === "heartbeat" || event === "ping") return;
  // run / step state changes (and anything new): re-read what is shown.
  queueRefresh();
}

/** Even with the event stream, status is re-read now and then: "late" and "overdue" come with time,
 * not with an event (an unchanged answer is a body-less 304). */
const SLOW_POLL_MS = 120_000;

export function startLive(): void {
  if (started) return;
  started = true;
  setInterval(() => {
    if (!document.hidden && liveMode.get() === "events") void refreshStatus();
  }, SLOW_POLL_MS);
  // Logged out or refused: this tab stops reading (and sharing) the stream until a token is given.
  auth.subscribe((a) => {
    if (a.state === "needed") stopEvents();
  });
  void refreshInfo().then(() => {
    if (hasEvents(info.get())) void startEvents();
  });
  void refreshStatus().then(schedule);
  liveMode.set("polling");
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && liveMode.get() !== "events") {
      void refreshStatus().then(() => {
        tick.update((n) => n + 1);
        schedule();
      });
    } else schedule();
  });
}

/** After the token changed: read everything again. */
export function restartLive(): void {
  lastEventId = null;
  void refreshInfo().then(() => {
    if (hasEvents(info.get())) void startEvents();
    else stopEvents();
  });
  void refreshStatus().then(() => tick.update((n) => n + 1));
}
