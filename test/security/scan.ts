// Shared by the security suite: the encodings a planted secret is searched in, and a walk of a
// directory's files (gzip logs unpacked, everything else as raw bytes).
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

/** The forms a secret could take in an output: raw, URL-encoded, base64 at any byte alignment. */
export function secretForms(secret: string): string[] {
  const forms = new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]);
  const bytes = Buffer.from(secret, "utf8");
  for (let k = 0; k < 3; k++) {
    const b64 = Buffer.concat([Buffer.alloc(k), bytes]).toString("base64");
    const start = k === 0 ? 0 : 4;
    const end = Math.floor((k + bytes.length) / 3) * 4;
    forms.add(b64.slice(start, end));
  }
  return [...forms].filter((f) => f.length >= 12);
}

export class SecretScanner {
  readonly hits: string[] = [];
  private readonly forms: Array<[string, string]>;
  surfaces = 0;
  constructor(readonly secrets: Record<string, string>) {
    this.forms = Object.entries(secrets).flatMap(([name, s]) =>
      secretForms(s).map((f): [string, string] => [name, f]),
    );
  }
  /** Records a hit for every secret (in any form) found in text, except the names in `allow`. */
  scan(surface: string, text: string | Buffer, allow: string[] = []): void {
    this.surfaces++;
    const t = typeof text === "string" ? text : text.toString("latin1");
    for (const [name, form] of this.forms) {
      if (allow.includes(name)) continue;
      if (t.includes(form))
        this.hits.push(`${name} (${form === this.secrets[name] ? "raw" : "encoded"}) in ${surface}`);
    }
  }
}

export function walkFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else out.push(full);
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

export function readMaybeGzip(file: string): Buffer {
  const data = fs.readFileSync(file);
  if (data[0] === 0x1f && data[1] === 0x8b) {
    try {
      return zlib.gunzipSync(data);
    } catch {
      return data;
    }
  }
  return data;
}
