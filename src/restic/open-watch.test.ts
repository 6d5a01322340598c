// The open watch reads restic's lines (real ones, restic 0.18.0 and 0.14.0, restic-notes.md §5/§9)
// with the times they arrived; no timers here: the times are given.
import { describe, expect, it } from "vitest";
import { createOpenWatch, lastRetryCause, parseRetryLine } from "./open-watch.js";

const STAT_RETRY = (wait: string) =>
  `Stat(<config/>) returned error, retrying after ${wait}: Head "http://:***@127.0.0.1:1/x/config": dial tcp 127.0.0.1:1: connect: connection refused`;
const SAVE_RETRY =
  'Save(<data/aec147c496>) returned error, retrying after 1.989705391s: client.Post: Post "http://127.0.0.1:18090/repoF/data/aec1": dial tcp 127.0.0.1:18090: connect: connection refused';

describe("parseRetryLine", () => {
  it("reads the operation, the announced wait and restic's cause", () => {
    expect(parseRetryLine(STAT_RETRY("1.157898275s"))).toEqual({
      operation: "Stat(<config/>)",
      waitMs: 1157.898275,
      cause: 'Head "http://:***@127.0.0.1:1/x/config": dial tcp 127.0.0.1:1: connect: connection refused',
    });
    expect(parseRetryLine("\x1b[2K" + STAT_RETRY("738.927537ms"))?.waitMs).toBeCloseTo(738.93, 1);
    expect(parseRetryLine("Fatal: unable to open config file")).toBeNull();
  });
});

describe("createOpenWatch", () => {
  it("is still opening while restic retries the config file, and names the cause", () => {
    const w = createOpenWatch();
    expect(w.stillOpening(0)).toBe(false);
    w.line("using temporary cache in /tmp/cache/restic-check-cache-1", "stdout", 10);
    w.line("create exclusive lock for repository", "stdout", 11);
    w.line(STAT_RETRY("1.4s"), "stderr", 1_000);
    w.line(STAT_RETRY("11.2s"), "stderr", 9_000);
    expect(w.opened()).toBe(false);
    expect(w.retries()).toBe(2);
    expect(w.stillOpening(20_000)).toBe(true);
    expect(w.cause()).toMatch(/connect: connection refused$/);
  });

  it("a retry that is long overdue means the attempt went through (0.14 says nothing then)", () => {
    const w = createOpenWatch();
    w.line(STAT_RETRY("1s"), "stderr", 1_000);
    expect(w.stillOpening(30_000)).toBe(true);
    expect(w.stillOpening(40_000)).toBe(false);
  });

  it("past opening: a retry of another file, a success after retries, or output", () => {
    const mid = createOpenWatch();
    mid.line(SAVE_RETRY, "stderr", 1_000);
    expect(mid.opened()).toBe(true);
    expect(mid.stillOpening(2_000)).toBe(false);

    const recovered = createOpenWatch();
    recovered.line(STAT_RETRY("1s"), "stderr", 1_000);
    recovered.line("Stat(<config/>) operation successful after 1 retries", "stderr", 2_100);
    expect(recovered.stillOpening(3_000)).toBe(false);

    const printing = createOpenWatch();
    printing.line(STAT_RETRY("1s"), "stderr", 1_000);
    printing.line('{"message_type":"status","percent_done":0}', "stdout", 2_000);
    expect(printing.opened()).toBe(true);
    expect(printing.stillOpening(3_000)).toBe(false);
  });

  it("the keys are part of opening too", () => {
    const w = createOpenWatch();
    w.line("List(key) returned error, retrying after 2s: List failed: connection reset by peer", "stderr", 5);
    w.line("Load(<key/0900e08f12>, 0, 0) returned error, retrying after 3s: unexpected EOF", "stderr", 6);
    expect(w.stillOpening(100)).toBe(true);
    expect(w.cause()).toBe("unexpected EOF");
  });
});

describe("lastRetryCause", () => {
  it("takes the last retry line, also when lines were glued together", () => {
    expect(lastRetryCause(["x", STAT_RETRY("1s"), "Fatal: unable to save snapshot"])).toMatch(
      /connection refused$/,
    );
    expect(lastRetryCause([`${STAT_RETRY("1s")}${SAVE_RETRY}`])).toMatch(/^client\.Post: /);
    expect(lastRetryCause(["no retries here"])).toBeNull();
  });
});
