// A step's log, following it while the step runs: GET /api/runs/:id/logs/follow sends the log from a
// byte offset and then each new line as it is written, and ends when the step has its result. Lines
// are appended to the <pre> as they come (never re-rendered as a whole); the view keeps to the bottom
// until the reader scrolls up, and again once they are back at the bottom (or press "Follow"). A
// dropped stream is resumed from the last offset received, so nothing is lost or shown twice. The
// component is keyed by run and step: a refresh of the run around it keeps it, and what it shows.
import { Component, type RefObject } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiFailure, openStream } from "../api.js";
import { Badge, ErrorBox, Loading } from "../components.js";
import { readEvents } from "../sse.js";
import type { LogEndEvent, LogEvent, StepRecord } from "../types.js";

/** Within this many pixels of the bottom counts as "at the bottom". */
const BOTTOM_SLACK_PX = 24;
const RETRY_MS = 2_000;

/** The <pre> itself: rendered once, then only appended to (Preact must not diff its text). */
class LogText extends Component<{
  pre: RefObject<HTMLPreElement | null>;
  label: string;
  onScroll: () => void;
}> {
  override shouldComponentUpdate(): boolean {
    return false;
  }
  render() {
    return (
      <pre
        class="log"
        ref={this.props.pre}
        tabIndex={0}
        role="log"
        aria-label={this.props.label}
        data-testid="log"
        onScroll={this.props.onScroll}
      />
    );
  }
}

type State =
  | { phase: "connecting" }
  | { phase: "following" }
  | { phase: "reconnecting"; error: unknown }
  | { phase: "ended"; end: LogEndEvent }
  | { phase: "failed"; error: unknown };

export function LogView({ runId, step }: { runId: string; step: StepRecord }) {
  const pre = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  const [state, setState] = useState<State>({ phase: "connecting" });
  const [bytes, setBytes] = useState(0);
  const [detached, setDetached] = useState(false);
  const name = step.name;

  const toBottom = () => {
    const el = pre.current;
    if (el) el.scrollTop = el.scrollHeight;
  };
  const onScroll = () => {
    const el = pre.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < BOTTOM_SLACK_PX;
    stick.current = atBottom;
    setDetached(!atBottom);
  };

  // A box that changes size (a turned phone, a wider window) reflows the text: still at the bottom.
  useEffect(() => {
    const el = pre.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const watch = new ResizeObserver(() => {
      if (stick.current) toBottom();
    });
    watch.observe(el);
    return () => watch.disconnect();
  }, []);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    let offset = 0;
    const url = `/api/runs/${encodeURIComponent(runId)}/logs/follow?step=${encodeURIComponent(name)}`;
    const append = (text: string) => {
      const el = pre.current;
      if (!el || text === "") return;
      el.append(text);
      if (stick.current) toBottom();
    };
    void (async () => {
      while (!signal.aborted) {
        let ended = false;
        try {
          const res = await openStream(`${url}&from=${offset}`, signal);
          setState({ phase: "following" });
          await readEvents(res.body, (ev) => {
            if (ev.data === null) return;
            if (ev.event === "log") {
              const log = JSON.parse(ev.data) as LogEvent;
              // A note (from === to: "no output captured", a read error) is shown and moves nothing.
              if (log.to === log.from) {
                append(log.text);
                return;
              }
              if (log.from !== offset) return;
              append(log.text);
              offset = log.to;
              setBytes(offset);
            } else if (ev.event === "end") {
              ended = true;
              setState({ phase: "ended", end: JSON.parse(ev.data) as LogEndEvent });
            }
          });
          if (ended) return;
          // The stream closed without its end (a proxy's timeout, a restarted server): resume.
          if (!signal.aborted) setState({ phase: "reconnecting", error: null });
        } catch (err) {
          if (signal.aborted) return;
          // What retrying cannot fix (no such run or step, no access) is said and left there.
          if (err instanceof ApiFailure && err.status >= 400 && err.status < 500) {
            setState({ phase: "failed", error: err });
            return;
          }
          setState({ phase: "reconnecting", error: err });
        }
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    })();
    return () => controller.abort();
  }, [runId, name]);

  const following = state.phase === "following" || state.phase === "reconnecting";
  return (
    <section aria-label={`log of ${name}`}>
      <h3 class="row">
        Log{" "}
        {state.phase === "following" && (
          <span class="badge run" data-testid="log-following">
            following
          </span>
        )}
        {state.phase === "reconnecting" && <span class="badge warn">reconnecting…</span>}
        {state.phase === "ended" && state.end.status === "running" && (
          <Badge status={state.end.run_status} label={`ended: run ${state.end.run_status}`} />
        )}
        {following && detached && (
          <button
            type="button"
            class="secondary small"
            onClick={() => {
              stick.current = true;
              setDetached(false);
              toBottom();
            }}
          >
            ↓ Follow
          </button>
        )}
      </h3>
      {state.phase === "failed" && <ErrorBox error={state.error} title="The log could not be read" />}
      {state.phase === "reconnecting" && state.error !== null && (
        <ErrorBox error={state.error} title="The log stream broke; retrying" />
      )}
      {state.phase === "connecting" && <Loading what="the log" />}
      <LogText pre={pre} label={`log of step ${name}`} onScroll={onScroll} />
      {state.phase === "ended" && bytes === 0 && <p class="muted">(empty)</p>}
    </section>
  );
}
