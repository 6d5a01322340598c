// The paths picked for a restore, per snapshot: kept in this tab's sessionStorage so that the restore
// view, a reload or back/forward still has them. Paths are whole strings — a comma is part of a name.
import { createStore } from "./store.js";

const KEY = "holdfast.selection";

function load(): Record<string, string[]> {
  try {
    const raw = sessionStorage.getItem(KEY);
    const value: unknown = raw ? JSON.parse(raw) : {};
    return value && typeof value === "object" ? (value as Record<string, string[]>) : {};
  } catch {
    return {};
  }
}

export const selections = createStore<Record<string, string[]>>(load());
selections.subscribe((v) => {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(v));
  } catch {
    /* storage full or disabled: the selection lives as long as the page */
  }
});

export const selectionKey = (repo: string, snapshot: string) => `${repo}\u0000${snapshot}`;

export function toggle(key: string, path: string, on: boolean): void {
  selections.update((all) => {
    const current = new Set(all[key] ?? []);
    if (on) current.add(path);
    else current.delete(path);
    return { ...all, [key]: [...current].sort() };
  });
}

export function clear(key: string): void {
  selections.update((all) => {
    const { [key]: _gone, ...rest } = all;
    return rest;
  });
}
