import { describe, expect, it } from "vitest";
import { createRedactor, maskUrlCredentials, secretPartsOfUrl } from "./redact.js";

describe("URL credentials", () => {
  it("mask the whole password, also one with an unencoded @ (Go's and WHATWG's parsers take the last @)", () => {
    expect(maskUrlCredentials("rest:https://u:secret@host:8000/repo")).toBe(
      "rest:https://u:***@host:8000/repo",
    );
    expect(maskUrlCredentials("rest:https://u:pre@Tail-secret-1a2b@host:8000/repo")).toBe(
      "rest:https://u:***@host:8000/repo",
    );
    expect(new URL("https://u:pre@Tail-secret-1a2b@host/").password).toBe("pre%40Tail-secret-1a2b");
    // Only up to the path: an @ further on is not part of the userinfo.
    expect(maskUrlCredentials("http://u:pw@host/a@b and ftp://x:y@z/")).toBe(
      "http://u:***@host/a@b and ftp://x:***@z/",
    );
    expect(maskUrlCredentials("no url: mail a@b, ratio 1:2@3")).toBe("no url: mail a@b, ratio 1:2@3");
  });

  it("are secret parts of the URL whole, so the redactor masks them anywhere", () => {
    const url = "rest:https://u:pre@Tail-secret-1a2b@host:8000/repo";
    expect(secretPartsOfUrl(url)).toContain("pre@Tail-secret-1a2b");
    const r = createRedactor(secretPartsOfUrl(url));
    expect(r.redact("password is pre@Tail-secret-1a2b")).toBe("password is ***");
  });
});
