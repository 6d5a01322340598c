// A repository's snapshots: paged and filterable (source, host, tag, free text), newest first, each
// row a link to its file browser.
import { useState } from "preact/hooks";
import { ApiFailure, getJson } from "../api.js";
import { Crumbs, ErrorBox, Link, Loading, Time } from "../components.js";
import { formatBytes } from "../format.js";
import { useLoad } from "../hooks.js";
import { href } from "../router.js";
import type { ApiSnapshot, SnapshotsByRepository, SnapshotsPage } from "../types.js";

const PAGE = 25;

/** The paged endpoint; a server without it answers 404, and then the whole listing is paged here. */
async function loadPage(
  repo: string,
  q: { source: string; host: string; tag: string; text: string; offset: number },
  signal: AbortSignal,
): Promise<SnapshotsPage> {
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(q.offset) });
  if (q.source) params.set("source", q.source);
  if (q.host) params.set("host", q.host);
  if (q.tag) params.set("tag", q.tag);
  if (q.text) params.set("q", q.text);
  try {
    return await getJson<SnapshotsPage>(
      `/api/repositories/${encodeURIComponent(repo)}/snapshots?${params}`,
      signal,
    );
  } catch (err) {
    if (
      !(err instanceof ApiFailure) ||
      err.status !== 404 ||
      err.kind !== "not_found" ||
      !/endpoint/.test(err.message)
    )
      throw err;
  }
  const all = await getJson<SnapshotsByRepository>(`/api/snapshots?repo=${encodeURIComponent(repo)}`, signal);
  const entry = all.repositories[0];
  if (!entry) throw new Error(`no repository ${repo}`);
  if (entry.error) throw new ApiFailure(502, entry.error.kind, entry.error.message, entry.error.hint);
  // The older listing has no size, files or program_version: absent is null, as in the paged one.
  const snaps = entry.snapshots
    .map((s) => ({
      ...s,
      size: s.size ?? null,
      files: s.files ?? null,
      program_version: s.program_version ?? null,
    }))
    .sort((a, b) => b.time.localeCompare(a.time));
  const text = q.text.toLowerCase();
  const hit = (s: ApiSnapshot) =>
    (!q.source || s.source === q.source) &&
    (!q.host || s.hostname === q.host) &&
    (!q.tag || s.tags.includes(q.tag)) &&
    (!text || [s.id, s.hostname, ...s.paths, ...s.tags].some((v) => v.toLowerCase().includes(text)));
  const filtered = snaps.filter(hit);
  const uniq = (xs: Array<string | null>) => [...new Set(xs.filter((x): x is string => !!x))].sort();
  return {
    repo,
    total: filtered.length,
    offset: q.offset,
    limit: PAGE,
    snapshots: filtered.slice(q.offset, q.offset + PAGE),
    facets: {
      sources: uniq(snaps.map((s) => s.source)),
      hosts: uniq(snaps.map((s) => s.hostname)),
      tags: uniq(snaps.flatMap((s) => s.tags)),
    },
    listed_at: new Date().toISOString(),
  };
}

export function RepoView({ repo }: { repo: string }) {
  const [source, setSource] = useState("");
  const [host, setHost] = useState("");
  const [tag, setTag] = useState("");
  const [text, setText] = useState("");
  const [offset, setOffset] = useState(0);
  const q = { source, host, tag, text, offset };
  const page = useLoad(`snaps:${repo}:${JSON.stringify(q)}`, (signal) => loadPage(repo, q, signal));
  const p = page.value;
  const filter = (set: (v: string) => void) => (e: Event) => {
    set((e.currentTarget as HTMLInputElement | HTMLSelectElement).value);
    setOffset(0);
  };
  return (
    <>
      <Crumbs items={[{ label: "home", href: href.home() }, { label: `repository ${repo}` }]} />
      <h1 tabIndex={-1}>Repository {repo}</h1>
      <form class="row filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label class="inline">
          Search{" "}
          <input type="search" value={text} onInput={filter(setText)} placeholder="id, host, path, tag" />
        </label>
        {p && p.facets.sources.length > 0 && (
          <label class="inline">
            Source
            <select value={source} onChange={filter(setSource)}>
              <option value="">all</option>
              {p.facets.sources.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
        )}
        {p && p.facets.hosts.length > 1 && (
          <label class="inline">
            Host
            <select value={host} onChange={filter(setHost)}>
              <option value="">all</option>
              {p.facets.hosts.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
        )}
        {p && p.facets.tags.length > 0 && (
          <label class="inline">
            Tag
            <select value={tag} onChange={filter(setTag)}>
              <option value="">all</option>
              {p.facets.tags.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
        )}
      </form>
      {page.error !== null && <ErrorBox error={page.error} title="The snapshots could not be listed" />}
      {!p && page.error === null && <Loading what="snapshots (restic snapshots)" />}
      {p && (
        <>
          <p class="muted small" role="status">
            {p.total} snapshot{p.total === 1 ? "" : "s"}
            {p.total > 0 && `, ${p.offset + 1}–${Math.min(p.total, p.offset + p.snapshots.length)} shown`} ·
            listed <Time iso={p.listed_at} />
          </p>
          {p.snapshots.length > 0 && (
            <table class="stack snapshots">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Source</th>
                  <th scope="col">Host</th>
                  <th scope="col">Paths</th>
                  <th scope="col">Tags</th>
                  <th scope="col">Size</th>
                  <th scope="col">Made by</th>
                </tr>
              </thead>
              <tbody>
                {p.snapshots.map((s) => (
                  <tr key={s.id}>
                    <th scope="row">
                      <Link
                        href={href.snapshot(repo, s.id)}
                        aria-label={`snapshot ${s.short_id} of ${s.time}`}
                      >
                        <Time iso={s.time} />
                      </Link>
                      <div class="mono small muted">{s.short_id}</div>
                    </th>
                    <td data-label="Source">{s.source ?? <span class="muted">—</span>}</td>
                    <td data-label="Host">{s.hostname}</td>
                    <td data-label="Paths" class="path small">
                      {s.paths.join(", ")}
                    </td>
                    <td data-label="Tags" class="small">
                      {s.tags.filter((t) => !t.startsWith("holdfast")).join(", ") || (
                        <span class="muted">—</span>
                      )}
                    </td>
                    <td data-label="Size" class="num">
                      {s.size !== null ? formatBytes(s.size) : <span class="muted">—</span>}
                      {s.files !== null && <div class="small muted">{s.files} files</div>}
                    </td>
                    <td data-label="Made by" class="small">
                      {s.program_version ?? <span class="muted">—</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <div class="pager">
            <button
              type="button"
              class="secondary"
              disabled={p.offset === 0}
              onClick={() => setOffset(Math.max(0, p.offset - PAGE))}
            >
              Newer
            </button>
            <button
              type="button"
              class="secondary"
              disabled={p.offset + p.snapshots.length >= p.total}
              onClick={() => setOffset(p.offset + PAGE)}
            >
              Older
            </button>
          </div>
        </>
      )}
    </>
  );
}
