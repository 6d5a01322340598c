// Restore the picked paths of a snapshot: into a new directory under the restore root (the default),
// or to the original location behind an explicit confirmation; a dry-run preview first where restic
// can (0.17+). The result is followed until it ends and says what was restored — or that nothing was.
import { useEffect, useState } from "preact/hooks";
import { getJson, postJson } from "../api.js";
import { Badge, Crumbs, ErrorBox, Link, Time } from "../components.js";
import { formatBytes } from "../format.js";
import { info } from "../live.js";
import { href } from "../router.js";
import { clear, selectionKey, selections, toggle } from "../selection.js";
import { useStore } from "../store.js";
import type { OperationResponse, RestoreRequestBody } from "../types.js";

/** The first restore API answered {state: started|finished|failed, output}; the current one an OperationResponse. */
type Answer =
  OperationResponse | { state: string; target?: string; output?: string | null; exit_code?: number | null };

const isOperation = (a: Answer): a is OperationResponse => "summary" in a && "id" in a;

export function RestoreView({ repo, id }: { repo: string; id: string }) {
  const i = useStore(info);
  const key = selectionKey(repo, id);
  const picked = useStore(selections)[key] ?? [];
  const [where, setWhere] = useState<"new" | "original">("new");
  const [target, setTarget] = useState("");
  const [confirmed, setConfirmed] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [answer, setAnswer] = useState<Answer | null>(null);
  // What the last restore was asked for: once it succeeds the picks are cleared (a second restore
  // starts from nothing picked, not silently with these), and the result still names them.
  const [asked, setAsked] = useState<string[]>([]);
  const canRestore = i?.capabilities.restore === true && i.role !== "viewer";

  const submit = async (dryRun: boolean) => {
    setBusy(true);
    setError(null);
    setAnswer(null);
    setAsked(picked);
    // `include` (the first name of `paths`, which every version of the API takes) and a target named
    // here: the first restore API needs one, and the current one takes it as given.
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
    const body: RestoreRequestBody = {
      repo,
      snapshot: id,
      ...(picked.length ? { include: picked } : {}),
      ...(where === "original"
        ? { to_original: true, confirm_original: confirmed }
        : { target: target.trim() || `${repo}-${id.slice(0, 8)}-${stamp}` }),
      ...(dryRun ? { dry_run: true } : {}),
    };
    try {
      setAnswer(await postJson<Answer>("/api/restore", body));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const done =
    answer !== null &&
    (isOperation(answer)
      ? answer.state === "succeeded" && !answer.summary.dry_run
      : answer.state === "finished");
  useEffect(() => {
    if (done) clear(key);
  }, [done, key]);

  // A restore still running when the server answered: follow it to its end.
  const runningId = answer && isOperation(answer) && answer.state === "running" ? answer.id : null;
  useEffect(() => {
    if (!runningId) return;
    let stop = false;
    const timer = setInterval(() => {
      getJson<OperationResponse>(`/api/restores/${encodeURIComponent(runningId)}`).then(
        (op) => {
          if (!stop) setAnswer(op);
        },
        (err: unknown) => {
          if (!stop) setError(err);
        },
      );
    }, 1500);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [runningId]);

  return (
    <>
      <Crumbs
        items={[
          { label: "home", href: href.home() },
          { label: `repository ${repo}`, href: href.repo(repo) },
          { label: `snapshot ${id.slice(0, 8)}`, href: href.snapshot(repo, id) },
          { label: "restore" },
        ]}
      />
      <h1 tabIndex={-1}>Restore from snapshot {id.slice(0, 8)}</h1>
      {!canRestore && i && (
        <p class="error">
          {i.role === "viewer"
            ? "A viewer token cannot restore; log in with an operator token."
            : "This server cannot restore."}
        </p>
      )}
      <h2>What</h2>
      {picked.length === 0 ? (
        <p>
          The whole snapshot. <Link href={href.snapshot(repo, id)}>Pick files and folders</Link> to restore
          only those.
        </p>
      ) : (
        <ul class="plain picked">
          {picked.map((p) => (
            <li key={p} class="row">
              <code class="path">{p}</code>
              <button
                type="button"
                class="link"
                onClick={() => toggle(key, p, false)}
                aria-label={`remove ${p}`}
              >
                remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit(false);
        }}
      >
        <fieldset>
          <legend>Where to</legend>
          <label class="inline">
            <input type="radio" name="where" checked={where === "new"} onChange={() => setWhere("new")} />
            <span>
              A new directory under the restore root
              {i && <code class="path block">{i.restore_root}</code>}
            </span>
          </label>
          {where === "new" && (
            <div class="indent">
              <label for="target">
                Directory name (empty: one is made up from the snapshot and the time)
              </label>
              <input
                id="target"
                type="text"
                value={target}
                onInput={(e) => setTarget(e.currentTarget.value)}
                placeholder={`${repo}-${id.slice(0, 8)}`}
              />
            </div>
          )}
          <label class="inline">
            <input
              type="radio"
              name="where"
              checked={where === "original"}
              onChange={() => setWhere("original")}
            />
            The original location (overwrites files there)
          </label>
          {where === "original" && (
            <div class="indent warn-box">
              <label class="inline">
                <input
                  type="checkbox"
                  checked={confirmed}
                  onChange={(e) => setConfirmed(e.currentTarget.checked)}
                />
                I understand: files at their original paths are replaced by the snapshot's.
              </label>
            </div>
          )}
        </fieldset>
        <div class="actions">
          <button
            type="button"
            class="secondary"
            disabled={!canRestore || busy}
            onClick={() => void submit(true)}
          >
            Preview (dry run)
          </button>
          <button type="submit" disabled={!canRestore || busy || (where === "original" && !confirmed)}>
            {where === "original" ? "Restore over the originals" : "Restore"}
          </button>
        </div>
      </form>
      {busy && (
        <p role="status" class="muted">
          Asking the server…
        </p>
      )}
      {error !== null && <ErrorBox error={error} title="The restore failed" />}
      {answer && <Outcome a={answer} asked={asked} cleared={done} />}
    </>
  );
}

/** `asked`: the paths picked for it (none: the whole snapshot). */
function Outcome({ a, asked, cleared }: { a: Answer; asked: string[]; cleared: boolean }) {
  const what = (
    <p class="small">
      {asked.length === 0 ? "The whole snapshot" : `Picked (${asked.length}): `}
      {asked.map((p, n) => (
        <span key={p}>
          {n > 0 && ", "}
          <code class="path">{p}</code>
        </span>
      ))}
      {cleared && asked.length > 0 ? " — now cleared from the selection." : ""}
    </p>
  );
  if (!isOperation(a)) {
    const tone = a.state === "failed" ? "error" : "notice";
    return (
      <div class={tone} role="status" data-testid="restore-result">
        Restore {a.state}
        {a.target && (
          <>
            {" "}
            into <code class="path">{a.target}</code>
          </>
        )}
        {what}
        {a.output && <pre class="log small">{a.output}</pre>}
      </div>
    );
  }
  const s = a.summary;
  const nothing = a.state === "succeeded" && s.files_restored === 0 && !s.dry_run;
  const tone = a.state === "failed" || a.state === "cancelled" || nothing ? "error" : "notice";
  return (
    <div class={tone} role="status" aria-live="polite" data-testid="restore-result">
      <p>
        <Badge
          status={a.state === "succeeded" && nothing ? "warning" : a.state}
          label={s.dry_run ? `preview ${a.state}` : a.state}
        />{" "}
        {s.message}
      </p>
      {what}
      <p class="small">
        {s.files_restored !== null && `${s.files_restored} files`}
        {s.bytes_restored !== null && ` · ${formatBytes(s.bytes_restored)}`}
        {s.files_skipped ? ` · ${s.files_skipped} already there` : ""} · into{" "}
        <code class="path">{s.target}</code> · started <Time iso={a.started_at} /> ·{" "}
        <Link href={href.run(a.id)}>in the history</Link>
      </p>
      {a.error && (
        <p>
          {a.error.message}
          {a.error.hint && <span class="hint">{a.error.hint}</span>}
        </p>
      )}
      {s.would_restore && s.would_restore.length > 0 && (
        <details open>
          <summary>Would restore {s.would_restore.length} paths</summary>
          <ul class="small path">
            {s.would_restore.slice(0, 200).map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}
