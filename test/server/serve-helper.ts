// Starts the built CLI's `serve` for a test and stops it afterwards. Only ever connects to 127.0.0.1.
import type { ChildProcess } from "node:child_process";
import { afterEach } from "vitest";
import { collect, startCli } from "../helpers/cli.js";

export interface Served {
  child: ChildProcess;
  port: number;
  base: string;
  done: ReturnType<typeof collect>;
}

const servers: Served[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) {
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
    await s.done;
  }
});

/** Starts `serve`, waits for its URL line, and returns the port it bound. */
export async function serve(configFile: string, listen: string): Promise<Served> {
  const child = startCli(["--config", configFile, "serve", "--listen", listen]);
  let seen = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed no URL within 20 s: ${seen}`)), 20_000);
    child.stdout?.on("data", (d: Buffer) => {
      seen += d.toString();
      const match = /http:\/\/\S+?:(\d+)\//.exec(seen);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code}: ${seen}`));
    });
  });
  const done = collect(child);
  const served = { child, port, base: `http://127.0.0.1:${port}`, done };
  servers.push(served);
  return served;
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null> | T | null,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Response.json() is Promise<unknown> in Node's types; the tests look into the bodies freely.
export const json = (res: Response): Promise<any> => res.json() as Promise<any>;
