// One URL per view, with the history API: links are real <a href> (open in a new tab works), clicks
// are turned into pushState, and back/forward re-render from the URL.
import { createStore } from "./store.js";

export type Route =
  | { name: "home" }
  | { name: "job"; job: string }
  | { name: "run"; id: string; step: string | null }
  | { name: "repo"; repo: string }
  | { name: "snapshot"; repo: string; id: string; path: string }
  | { name: "restore"; repo: string; id: string }
  | { name: "fleet" }
  | { name: "fleetHost"; id: string }
  | { name: "fleetJob"; host: string; job: string }
  | { name: "fleetRun"; host: string; id: string; step: string | null }
  | { name: "notfound"; path: string };

const seg = (s: string) => encodeURIComponent(s);

export const href = {
  home: () => "/",
  job: (job: string) => `/jobs/${seg(job)}`,
  run: (id: string, step?: string | null) => `/runs/${seg(id)}${step ? `?step=${seg(step)}` : ""}`,
  repo: (repo: string) => `/repos/${seg(repo)}`,
  snapshot: (repo: string, id: string, path = "/") =>
    `/repos/${seg(repo)}/snapshots/${seg(id)}${path !== "/" ? `?path=${seg(path)}` : ""}`,
  restore: (repo: string, id: string) => `/repos/${seg(repo)}/snapshots/${seg(id)}/restore`,
  fleet: () => "/fleet",
  fleetHost: (id: string) => `/fleet/hosts/${seg(id)}`,
  fleetJob: (host: string, job: string) => `/fleet/hosts/${seg(host)}/jobs/${seg(job)}`,
  fleetRun: (host: string, id: string, step?: string | null) =>
    `/fleet/hosts/${seg(host)}/runs/${seg(id)}${step ? `?step=${seg(step)}` : ""}`,
};

/**
 * The links of the history views (home, job, run) for one host: the hub's own (host null), or a
 * fleet host's at the hub (/fleet/hosts/ID/…, read with ?host=ID).
 */
export interface HostLinks {
  host: string | null;
  job: (job: string) => string;
  run: (id: string, step?: string | null) => string;
  /** What to add to an API path of the history (?host=ID), "" for the hub's own. */
  query: (sep: "?" | "&") => string;
}

export function hostLinks(host: string | null): HostLinks {
  if (host === null) return { host, job: href.job, run: href.run, query: () => "" };
  return {
    host,
    job: (job) => href.fleetJob(host, job),
    run: (id, step) => href.fleetRun(host, id, step),
    query: (sep) => `${sep}host=${seg(host)}`,
  };
}

export function parseRoute(url: URL): Route {
  const parts = url.pathname
    .split("/")
    .filter(Boolean)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  const q = url.searchParams;
  const [a, b, c, d, e] = parts;
  if (parts.length === 0 || (parts.length === 1 && a === "index.html")) return { name: "home" };
  if (a === "jobs" && b !== undefined && parts.length === 2) return { name: "job", job: b };
  if (a === "runs" && b !== undefined && parts.length === 2)
    return { name: "run", id: b, step: q.get("step") };
  if (a === "fleet" && parts.length === 1) return { name: "fleet" };
  if (a === "fleet" && b === "hosts" && c !== undefined && parts.length === 3)
    return { name: "fleetHost", id: c };
  if (
    a === "fleet" &&
    b === "hosts" &&
    c !== undefined &&
    d === "jobs" &&
    e !== undefined &&
    parts.length === 5
  )
    return { name: "fleetJob", host: c, job: e };
  if (
    a === "fleet" &&
    b === "hosts" &&
    c !== undefined &&
    d === "runs" &&
    e !== undefined &&
    parts.length === 5
  )
    return { name: "fleetRun", host: c, id: e, step: q.get("step") };
  if (a === "repos" && b !== undefined) {
    if (parts.length === 2) return { name: "repo", repo: b };
    if (c === "snapshots" && d !== undefined && parts.length === 4)
      return { name: "snapshot", repo: b, id: d, path: q.get("path") ?? "/" };
    if (c === "snapshots" && d !== undefined && e === "restore" && parts.length === 5)
      return { name: "restore", repo: b, id: d };
  }
  return { name: "notfound", path: url.pathname };
}

export const location = createStore<URL>(new URL(window.location.href));

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const url = new URL(to, window.location.href);
  if (url.href === window.location.href) return;
  if (options.replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  location.set(url);
}

window.addEventListener("popstate", () => location.set(new URL(window.location.href)));

/** For <a onClick>: plain left clicks stay in the page; modified clicks open tabs as usual. */
export function linkClick(e: MouseEvent): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.currentTarget as HTMLAnchorElement | null) ?? null;
  if (!a || a.target || a.origin !== window.location.origin) return;
  e.preventDefault();
  navigate(a.href);
}
