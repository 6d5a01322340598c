// Every call to the API goes through here: the token (kept in this tab's sessionStorage only) as a
// Bearer header, the header state-changing calls need, ETags for polling, and one error shape.
import { createStore } from "./store.js";
import type { ApiErrorBody } from "./types.js";

const TOKEN_KEY = "holdfast.token";

export type AuthState = { state: "ok" } | { state: "needed"; wrong: boolean };

/** "needed" shows the token screen; `wrong` when the token that was sent was refused. */
export const auth = createStore<AuthState>({ state: "ok" });

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  try {
    if (token === null) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    /* storage disabled: the token lives as long as the page */
  }
  memoryToken = token;
}

let memoryToken: string | null = null;
const currentToken = () => getToken() ?? memoryToken;

export function logOut(): void {
  setToken(null);
  auth.set({ state: "needed", wrong: false });
}

export class ApiFailure extends Error {
  readonly status: number;
  readonly kind: string;
  readonly hint: string | null;
  constructor(status: number, kind: string, message: string, hint: string | null) {
    super(message);
    this.name = "ApiFailure";
    this.status = status;
    this.kind = kind;
    this.hint = hint;
  }
}

export function headers(extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { ...extra };
  const token = currentToken();
  if (token) h.Authorization = `Bearer ${token}`;
  return h;
}

async function failure(res: Response): Promise<ApiFailure> {
  let body: Partial<ApiErrorBody> = {};
  try {
    body = (await res.json()) as Partial<ApiErrorBody>;
  } catch {
    /* not JSON: a proxy's error page */
  }
  const e = body.error;
  if (res.status === 401)
    auth.set({ state: "needed", wrong: body.reason ? body.reason === "wrong" : currentToken() !== null });
  return new ApiFailure(
    res.status,
    e?.kind ?? "http",
    e?.message ?? `the server answered ${res.status} ${res.statusText}`,
    e?.hint ?? null,
  );
}

/** A hung backend must not spin forever: every call gives up after this long, and says so. */
const TIMEOUT_MS = 30_000;

async function request(path: string, init: RequestInit = {}, timeoutMs = TIMEOUT_MS): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const outer = init.signal;
  if (outer) outer.addEventListener("abort", () => controller.abort(), { once: true });
  try {
    return await fetch(path, { ...init, signal: controller.signal });
  } catch (err) {
    if (outer?.aborted) throw err;
    if (controller.signal.aborted)
      throw new ApiFailure(
        0,
        "timeout",
        `the server did not answer ${path} within ${timeoutMs / 1000}s`,
        "the server may be busy with a slow repository; try again",
      );
    throw new ApiFailure(
      0,
      "network",
      `cannot reach the holdfast server (${(err as Error).message})`,
      "is `holdfast serve` still running?",
    );
  } finally {
    clearTimeout(timer);
  }
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await request(path, { headers: headers(), ...(signal ? { signal } : {}) });
  if (!res.ok) throw await failure(res);
  if (auth.get().state !== "ok") auth.set({ state: "ok" });
  return (await res.json()) as T;
}

/** A GET whose body is read as it comes (an event stream): the response once its headers are in. */
export async function openStream(
  path: string,
  signal: AbortSignal,
  extra: Record<string, string> = {},
): Promise<Response & { body: NonNullable<Response["body"]> }> {
  const res = await request(path, { headers: headers({ Accept: "text/event-stream", ...extra }), signal });
  if (!res.ok || !res.body) throw await failure(res);
  if (auth.get().state !== "ok") auth.set({ state: "ok" });
  return res as Response & { body: NonNullable<Response["body"]> };
}

const etags = new Map<string, { etag: string; value: unknown }>();

/** GET with If-None-Match: an unchanged answer costs a 304 with no body. */
export async function getJsonCached<T>(path: string): Promise<T> {
  const known = etags.get(path);
  const res = await request(path, { headers: headers(known ? { "If-None-Match": known.etag } : {}) });
  if (res.status === 304 && known) return known.value as T;
  if (!res.ok) throw await failure(res);
  if (auth.get().state !== "ok") auth.set({ state: "ok" });
  const value = (await res.json()) as T;
  const etag = res.headers.get("ETag");
  if (etag) etags.set(path, { etag, value });
  return value;
}

export async function postJson<T>(path: string, body: unknown = {}): Promise<T> {
  const res = await request(path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", "X-Holdfast-Request": "1" }),
    body: JSON.stringify(body),
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

export function errorText(err: unknown): { message: string; hint: string | null } {
  if (err instanceof ApiFailure) return { message: err.message, hint: err.hint };
  return { message: err instanceof Error ? err.message : String(err), hint: null };
}
