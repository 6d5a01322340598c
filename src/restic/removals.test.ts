// restic 0.18.0's lines for deletes an append-only REST server refused (measured, restic-notes.md §9).
import { describe, expect, it } from "vitest";
import { refusedRemovals } from "./removals.js";

const FULL = "cc0f093164bf2d95a8f6d85438fae67b828a23250e513375b6e9b87f180a9614";

describe("refusedRemovals", () => {
  it("reads the refused files and restic's cause", () => {
    expect(
      refusedRemovals([
        "Remove(<snapshot/cc0f093164>) failed: unexpected HTTP response (403): 403 Forbidden",
        `unable to remove snapshot/${FULL} from the repository`,
        "Remove(<index/1d2424fb9b>) failed: unexpected HTTP response (403): 403 Forbidden",
      ]),
    ).toEqual({
      files: [`snapshot/${FULL}`, "index/1d2424fb9b"],
      cause: "unexpected HTTP response (403): 403 Forbidden",
    });
  });

  it("a lock restic could not remove, retries and plain text are not refused deletes", () => {
    expect(
      refusedRemovals([
        "Remove(<lock/8327a22011>) failed: unexpected HTTP response (403): 403 Forbidden",
        "Remove(<snapshot/cc0f093164>) returned error, retrying after 552ms: blob not removed, server response: 403 Forbidden (403)",
        "no errors were found",
      ]),
    ).toBeNull();
  });
});
