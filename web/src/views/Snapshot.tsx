// A snapshot's files, one directory at a time (restic ls per directory on the server; a snapshot never
// changes, so every listing read is kept here too). Entries can be picked for a restore, and a file or
// folder downloaded (a folder as tar.gz or zip, streamed by the server from restic dump).
import { useEffect, useRef, useState } from "preact/hooks";
import { getJson, postJson } from "../api.js";
import { Crumbs, ErrorBox, Link, Loading, Time } from "../components.js";
import { formatBytes } from "../format.js";
import { useLoad } from "../hooks.js";
import { info } from "../live.js";
import { href } from "../router.js";
import { clear, selectionKey, selections, toggle } from "../selection.js";
import { useStore } from "../store.js";
import type { ApiNode, DirListing, DownloadFormat, DownloadTicket } from "../types.js";

const listings = new Map<string, DirListing>();

/** Rows rendered at first (a few screens), and added each time the reader nears the end of them: a
 * folder of 10,000 entries opens about as fast as one of 100 (bench/dashboard-browser.mjs: 5 s at
 * load 14 with every row rendered); the filter searches them all. */
const ROWS_FIRST = 100;
const ROWS_STEP = 400;

async function listDir(repo: string, id: string, path: string, signal: AbortSignal): Promise<DirListing> {
  const key = `${repo}\u0000${id}\u0000${path}`;
  const known = listings.get(key);
  if (known) return known;
  const listing = await getJson<DirListing>(
    `/api/repositories/${encodeURIComponent(repo)}/snapshots/${encodeURIComponent(id)}/ls?path=${encodeURIComponent(path)}`,
    signal,
  );
  listings.set(key, listing);
  return listing;
}

function parentOf(path: string): string {
  const i = path.replace(/\/+$/, "").lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

export async function startDownload(
  repo: string,
  snapshot: string,
  path: string,
  format: DownloadFormat,
): Promise<void> {
  const ticket = await postJson<DownloadTicket>("/api/downloads", { repo, snapshot, path, format });
  // A one-time link that needs no Authorization header, so the browser's own download takes it.
  const a = document.createElement("a");
  a.href = ticket.url;
  a.download = ticket.file_name;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

export function SnapshotView({ repo, id, path }: { repo: string; id: string; path: string }) {
  const i = useStore(info);
  const listing = useLoad(`ls:${repo}:${id}:${path}`, (signal) => listDir(repo, id, path, signal));
  const key = selectionKey(repo, id);
  const picked = useStore(selections)[key] ?? [];
  const [filter, setFilter] = useState("");
  // The last download asked for: being prepared (the server checks the path and makes a one-time
  // link), handed to the browser, or refused — said at the foot of the view, wherever it is scrolled.
  const [dl, setDl] = useState<
    | { state: "preparing" | "started"; name: string }
    | { state: "failed"; name: string; error: unknown }
    | null
  >(null);
  const canRestore = i?.capabilities.restore === true && i.role !== "viewer";
  const canDownload = i?.capabilities.download === true && i.role !== "viewer";

  const segments = path.split("/").filter(Boolean);
  const crumbs = [
    { label: "home", href: href.home() },
    { label: `repository ${repo}`, href: href.repo(repo) },
    { label: `snapshot ${id.slice(0, 8)}`, href: href.snapshot(repo, id, "/") },
    ...segments.map((seg, n) => ({
      label: seg,
      href: href.snapshot(repo, id, `/${segments.slice(0, n + 1).join("/")}`),
    })),
  ];
  const l = listing.value;
  const entries = (l?.entries ?? []).filter(
    (e) => !filter || e.name.toLowerCase().includes(filter.toLowerCase()),
  );
  // How many rows are rendered, for this folder and filter (another folder or filter starts over).
  const viewKey = `${repo}\u0000${id}\u0000${path}\u0000${filter}`;
  const [rows, setRows] = useState({ key: viewKey, n: ROWS_FIRST });
  const shown = rows.key === viewKey ? rows.n : ROWS_FIRST;
  const more = () => setRows({ key: viewKey, n: shown + ROWS_STEP });
  const sentinel = useRef<HTMLDivElement>(null);
  const hasMore = entries.length > shown;
  useEffect(() => {
    const el = sentinel.current;
    if (!el || !hasMore || typeof IntersectionObserver === "undefined") return;
    const watch = new IntersectionObserver(
      (seen) => {
        if (seen.some((s) => s.isIntersecting)) setRows({ key: viewKey, n: shown + ROWS_STEP });
      },
      { rootMargin: "800px 0px" },
    );
    watch.observe(el);
    return () => watch.disconnect();
  }, [viewKey, shown, hasMore]);

  const download = (node: ApiNode, format: DownloadFormat) => {
    const name = format === "raw" ? node.name : `${node.name} (${format})`;
    setDl({ state: "preparing", name });
    startDownload(repo, l?.snapshot_id ?? id, node.path, format).then(
      () => setDl({ state: "started", name }),
      (error: unknown) => setDl({ state: "failed", name, error }),
    );
  };
  const preparing = dl?.state === "preparing";

  return (
    <>
      <Crumbs items={crumbs} />
      <h1 tabIndex={-1}>
        <span class="mono">{path}</span> <span class="muted small">in snapshot {id.slice(0, 8)}</span>
      </h1>
      <div class="row">
        {path !== "/" && (
          <Link href={href.snapshot(repo, id, parentOf(path))} class="button secondary">
            ↑ Up
          </Link>
        )}
        <label class="inline">
          Filter
          <input
            type="search"
            value={filter}
            onInput={(e) => setFilter(e.currentTarget.value)}
            placeholder="name"
          />
        </label>
      </div>
      {listing.error !== null && <ErrorBox error={listing.error} title="The directory could not be listed" />}
      {!l && listing.error === null && <Loading what="the directory (restic ls)" />}
      {l && (
        <table class="entries" data-total={l.count}>
          <caption class="sr-only">
            Entries of {path}, directories first ({l.entries.length})
          </caption>
          <thead>
            <tr>
              {canRestore && <th scope="col">Pick</th>}
              <th scope="col">Name</th>
              <th scope="col">Size</th>
              <th scope="col" class="hide-phone">
                Modified
              </th>
              {canDownload && <th scope="col">Download</th>}
            </tr>
          </thead>
          <tbody>
            {entries.slice(0, shown).map((e) => {
              const on = picked.includes(e.path);
              return (
                <tr key={e.path} class={on ? "selected" : ""}>
                  {canRestore && (
                    <td data-label="Pick">
                      <input
                        type="checkbox"
                        checked={on}
                        aria-label={`pick ${e.name} for restore`}
                        onChange={(ev) => toggle(key, e.path, ev.currentTarget.checked)}
                      />
                    </td>
                  )}
                  <th scope="row" class="name">
                    {e.type === "dir" ? (
                      <Link href={href.snapshot(repo, id, e.path)} aria-label={`folder ${e.name}`}>
                        {e.name}/
                      </Link>
                    ) : (
                      <span>
                        {e.type === "symlink" ? "(symlink) " : ""}
                        {e.name}
                      </span>
                    )}
                  </th>
                  <td data-label="Size" class="num">
                    {e.type === "dir" ? <span class="muted">—</span> : formatBytes(e.size)}
                  </td>
                  <td data-label="Modified" class="hide-phone">
                    <Time iso={e.mtime} />
                  </td>
                  {canDownload && (
                    <td data-label="Download">
                      {e.type === "file" && (
                        <button
                          type="button"
                          class="link"
                          disabled={preparing}
                          onClick={() => download(e, "raw")}
                          aria-label={`download ${e.name}`}
                        >
                          file
                        </button>
                      )}
                      {e.type === "dir" && (
                        <>
                          <button
                            type="button"
                            class="link"
                            disabled={preparing}
                            onClick={() => download(e, "tar.gz")}
                            aria-label={`download ${e.name} as tar.gz`}
                          >
                            tar.gz
                          </button>
                          <button
                            type="button"
                            class="link"
                            disabled={preparing}
                            onClick={() => download(e, "zip")}
                            aria-label={`download ${e.name} as zip`}
                          >
                            zip
                          </button>
                        </>
                      )}
                    </td>
                  )}
                </tr>
              );
            })}
            {entries.length === 0 && (
              <tr>
                <td colSpan={5} class="muted">
                  {filter ? "Nothing here matches the filter." : "This directory is empty."}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
      {l && hasMore && (
        <div class="row more" ref={sentinel}>
          <span class="muted">
            Showing {shown.toLocaleString()} of {entries.length.toLocaleString()} entries
            {filter ? " that match" : ""}; more come as you scroll.
          </span>
          <button type="button" class="secondary" onClick={more}>
            Show {Math.min(ROWS_STEP, entries.length - shown)} more
          </button>
          <button
            type="button"
            class="secondary"
            onClick={() => setRows({ key: viewKey, n: entries.length })}
          >
            Show all
          </button>
        </div>
      )}
      <div class="dock">
        <div role="status" aria-live="polite" data-testid="download-status">
          {dl?.state === "preparing" && <p class="notice">Preparing the download of {dl.name}…</p>}
          {dl?.state === "started" && (
            <p class="notice">
              The download of {dl.name} started: your browser saves it (a folder is packed as it streams).
            </p>
          )}
          {dl?.state === "failed" && (
            <ErrorBox error={dl.error} title={`The download of ${dl.name} could not start`} />
          )}
        </div>
        {canRestore && (
          <div class="selection-bar" role="region" aria-label="Restore selection">
            <span>
              {picked.length === 0
                ? "Nothing picked: a restore takes the whole snapshot."
                : `${picked.length} picked`}
            </span>
            <Link href={href.restore(repo, id)} class="button">
              Restore{picked.length ? ` ${picked.length} selected` : " all"}…
            </Link>
            {picked.length > 0 && (
              <button type="button" class="secondary" onClick={() => clear(key)}>
                Clear
              </button>
            )}
          </div>
        )}
      </div>
    </>
  );
}
