// Just enough of a browser to run web/app.js without one (no jsdom, no Chromium here): elements with
// attributes, children, text, listeners and form values; the page's elements come from index.html's ids.
// fetch goes to the Hono app in-process, so the dashboard talks to the real API.
import fs from "node:fs";
import vm from "node:vm";
import type { Hono } from "hono";

type Listener = (event: FakeEvent) => unknown;

export interface FakeEvent {
  type: string;
  target: FakeElement;
  preventDefault(): void;
}

export class FakeElement {
  readonly tag: string;
  readonly ns: string | null;
  readonly attrs = new Map<string, string>();
  children: Array<FakeElement | FakeText> = [];
  readonly listeners = new Map<string, Listener[]>();
  hidden = false;
  disabled = false;
  private ownValue: string | null = null;

  constructor(tag: string, ns: string | null = null) {
    this.tag = tag.toLowerCase();
    this.ns = ns;
  }

  setAttribute(name: string, value: string): void {
    this.attrs.set(name, String(value));
    if (name === "hidden") this.hidden = true;
    if (name === "disabled") this.disabled = true;
  }

  getAttribute(name: string): string | null {
    return this.attrs.get(name) ?? null;
  }

  get className(): string {
    return this.attrs.get("class") ?? "";
  }

  set className(value: string) {
    this.attrs.set("class", value);
  }

  get id(): string {
    return this.attrs.get("id") ?? "";
  }

  /** As in a browser, anything that is not a node becomes text — a stray null shows as "null". */
  append(...nodes: unknown[]): void {
    for (const n of nodes) {
      this.children.push(n instanceof FakeElement || n instanceof FakeText ? n : new FakeText(String(n)));
    }
  }

  replaceChildren(...nodes: unknown[]): void {
    this.children = [];
    this.append(...nodes);
  }

  get textContent(): string {
    return this.children.map((c) => c.textContent).join("");
  }

  set textContent(value: string) {
    this.children = [new FakeText(String(value))];
  }

  get options(): FakeElement[] {
    return this.findAll((e) => e.tag === "option");
  }

  get value(): string {
    if (this.ownValue !== null) return this.ownValue;
    if (this.tag === "select") {
      const first = this.options[0];
      return first ? (first.getAttribute("value") ?? first.textContent) : "";
    }
    return this.getAttribute("value") ?? "";
  }

  set value(v: string) {
    this.ownValue = v;
  }

  addEventListener(type: string, fn: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }

  /** Fires an event; returns what the listeners returned (promises, for awaiting). */
  dispatch(type: string): unknown[] {
    const event: FakeEvent = { type, target: this, preventDefault: () => undefined };
    return (this.listeners.get(type) ?? []).map((fn) => fn(event));
  }

  focus(): void {}

  findAll(pred: (e: FakeElement) => boolean): FakeElement[] {
    const out: FakeElement[] = [];
    for (const c of this.children) {
      if (c instanceof FakeElement) {
        if (pred(c)) out.push(c);
        out.push(...c.findAll(pred));
      }
    }
    return out;
  }
}

export class FakeText {
  constructor(public textContent: string) {}
}

export interface FakePage {
  byId(id: string): FakeElement;
  requests: Array<{ method: string; path: string; headers: Record<string, string> }>;
  storage: Map<string, string>;
  errors: unknown[];
}

/** Builds the page from index.html, runs app.js in it, and returns handles to look into it. */
export function loadDashboard(app: Hono, webDir: string): FakePage {
  const html = fs.readFileSync(`${webDir}/index.html`, "utf8");
  const elements = new Map<string, FakeElement>();
  for (const match of html.matchAll(/<(\w+)\b([^>]*)\bid="([^"]+)"([^>]*)>/g)) {
    const [, tag, before, id, after] = match as unknown as [string, string, string, string, string];
    const el = new FakeElement(tag);
    el.setAttribute("id", id);
    if (/\shidden[\s>/]|\shidden$/.test(`${before} ${after}`)) el.hidden = true;
    if (tag === "select") {
      const inner = html.slice((match.index ?? 0) + match[0].length, html.indexOf("</select>", match.index));
      for (const opt of inner.matchAll(/<option(?: value="([^"]*)")?>([^<]*)<\/option>/g)) {
        const o = new FakeElement("option");
        if (opt[1] !== undefined) o.setAttribute("value", opt[1]);
        o.textContent = opt[2] ?? "";
        el.append(o);
      }
    }
    elements.set(id, el);
  }
  const requests: FakePage["requests"] = [];
  const storage = new Map<string, string>();
  const errors: unknown[] = [];
  const documentListeners = new Map<string, Listener[]>();
  const document = {
    hidden: false,
    getElementById: (id: string) => elements.get(id) ?? null,
    createElement: (tag: string) => new FakeElement(tag),
    createElementNS: (ns: string, tag: string) => new FakeElement(tag, ns),
    createTextNode: (text: string) => new FakeText(text),
    addEventListener: (type: string, fn: Listener) =>
      documentListeners.set(type, [...(documentListeners.get(type) ?? []), fn]),
  };
  const fetch = async (
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ) => {
    requests.push({ method: init.method ?? "GET", path, headers: init.headers ?? {} });
    return app.request(path, {
      method: init.method ?? "GET",
      headers: init.headers ?? {},
      ...(init.body !== undefined ? { body: init.body } : {}),
    });
  };
  const context = vm.createContext({
    document,
    fetch,
    sessionStorage: {
      getItem: (k: string) => storage.get(k) ?? null,
      setItem: (k: string, v: string) => storage.set(k, v),
      removeItem: (k: string) => storage.delete(k),
    },
    URLSearchParams,
    setInterval: () => 0,
    clearInterval: () => undefined,
    console: { ...console, error: (...a: unknown[]) => errors.push(a) },
    Date,
    Intl,
    JSON,
    Math,
    Promise,
    Error,
  });
  const code = fs.readFileSync(`${webDir}/app.js`, "utf8");
  vm.runInContext(`"use strict";\n${code}`, context, { filename: "app.js" });
  return {
    byId: (id) => {
      const el = elements.get(id);
      if (!el) throw new Error(`no element #${id} in index.html`);
      return el;
    },
    requests,
    storage,
    errors,
  };
}

export async function settle(page: FakePage, until: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!until()) {
    if (Date.now() > deadline)
      throw new Error(`the dashboard did not get to: ${what} (message: ${page.byId("message").textContent})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
