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
};

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
