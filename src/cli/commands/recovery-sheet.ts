// holdfast recovery-sheet: one page to print and keep away from the machine (issue 17 item 7) —
// each repository (its URL, or the file that holds it when it carries credentials), where its
// password lives, the secret files to put back, and the commands that bring everything back:
// `holdfast bootstrap` from a holdfast-meta snapshot, and plain restic for each source. HTML, ready to
// print to PDF from a browser. It names files and never reads them: no secret is on the sheet.
import { loadCliConfig, type GlobalOptions } from "../context.js";
import { secretReferences } from "../../meta/meta-snapshot.js";
import { sourceFilter } from "../../sources/adopt.js";
import { quoteArg as shellQuote } from "../../util/shell-quote.js";

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export default function recoverySheet(global: GlobalOptions): Promise<number> {
  const { config } = loadCliConfig(global);
  const repos = Object.values(config.repositories);
  const where = (r: (typeof repos)[number]) =>
    r.url !== undefined ? r.url : `the URL in ${r.url_file ?? "?"}`;
  const password = (r: (typeof repos)[number]) =>
    r.password_file !== undefined
      ? `file ${r.password_file}`
      : r.password_command !== undefined
        ? `printed by ${r.password_command.join(" ")}`
        : "(none configured)";
  const repoArgs = (r: (typeof repos)[number]) =>
    r.url !== undefined ? `--repo ${shellQuote(r.url)}` : `--repo-file ${shellQuote(r.url_file ?? "FILE")}`;
  const rows = repos
    .map(
      (r) =>
        `<tr><td>${esc(r.name)}${r.offsite ? " (offsite)" : ""}</td><td><code>${esc(where(r))}</code></td><td>${esc(password(r))}</td></tr>`,
    )
    .join("\n");
  const secrets = secretReferences(config)
    .map(
      (s) =>
        `<li><code>${esc(s.path)}</code> — ${esc(s.where)}${s.kind === "command" ? " (a program)" : ""}</li>`,
    )
    .join("\n");
  const bootstrap = repos
    .filter((r) => r.password_file !== undefined)
    .map(
      (r) =>
        `<pre>holdfast bootstrap ${esc(repoArgs(r))} --password-file ${esc(shellQuote(r.password_file!))}</pre>`,
    )
    .join("\n");
  const restores = repos
    .flatMap((r) =>
      Object.values(config.sources).map((s) => {
        const tags = sourceFilter(s, [])
          .tags.map((t) => `--tag ${shellQuote(t.join(","))}`)
          .join(" ");
        const repoEnv =
          r.url !== undefined
            ? `-r ${shellQuote(r.url)}`
            : `--repository-file ${shellQuote(r.url_file ?? "FILE")}`;
        const pw = r.password_file !== undefined ? ` --password-file ${shellQuote(r.password_file)}` : "";
        return `<pre>restic ${esc(repoEnv)}${esc(pw)} restore latest ${esc(tags)} --host ${esc(shellQuote(config.host))} --target /restore/${esc(s.name)}</pre>`;
      }),
    )
    .join("\n");
  process.stdout.write(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>holdfast recovery sheet — ${esc(config.host)}</title>
<style>
body { font: 11pt/1.35 system-ui, sans-serif; max-width: 48em; margin: 1.5em auto; }
h1 { font-size: 16pt; margin-bottom: 0 } h2 { font-size: 12pt; margin-top: 1.2em }
table { border-collapse: collapse; width: 100% } td, th { border: 1px solid #999; padding: 2px 6px; text-align: left; vertical-align: top }
pre { background: #f3f3f3; padding: 4px 6px; white-space: pre-wrap; word-break: break-all; margin: 4px 0 }
@media print { body { margin: 0 } }
</style></head><body>
<h1>Recovery sheet: ${esc(config.host)}</h1>
<p>Config ${esc(config.file ?? "(embedded)")}, printed ${esc(new Date().toISOString().slice(0, 16).replace("T", " "))} UTC. Keep it away from this machine, with the passwords (this sheet has none).</p>
<h2>Repositories</h2>
<table><tr><th>name</th><th>where</th><th>password</th></tr>
${rows}
</table>
<h2>Secret files to put back</h2>
<ul>
${secrets || "<li>(none)</li>"}
</ul>
<h2>1. Get the config and history back</h2>
<p>Install restic and holdfast, put the repository's password in its file (mode 0600), then one of:</p>
${bootstrap || "<p>(no repository has a password file)</p>"}
<p>${config.recovery.meta ? "Each run stores the config and history as a <code>holdfast-meta</code> snapshot." : "<strong>recovery.meta is off</strong>: no holdfast-meta snapshot is stored; set <code>recovery: { meta: true }</code>, or keep a copy of the config elsewhere."}</p>
<h2>2. Restore the data (restic alone works too)</h2>
${restores}
</body></html>
`);
  return Promise.resolve(0);
}
