import { describe, expect, test } from "vitest";
import { secretPartsOfUrl } from "./secrets.js";
import { createRedactor } from "../util/redact.js";

describe("secretPartsOfUrl", () => {
  test("a healthchecks ping URL: the UUID alone is a secret", () => {
    const url = "https://hc-ping.com/5f1c9a3e-1b7d-4f3a-9c2e-8d7b6a5f4e3d";
    const redactor = createRedactor(secretPartsOfUrl(url));
    expect(redactor.redact("pinging 5f1c9a3e-1b7d-4f3a-9c2e-8d7b6a5f4e3d now")).toBe("pinging *** now");
    expect(redactor.redact(`GET ${url}`)).toBe("GET ***");
  });

  test("REST credentials and query tokens", () => {
    const parts = secretPartsOfUrl("rest:https://alice:pw-Secret-42@nas:8000/repo?token=abc123def456ghi");
    expect(parts).toContain("pw-Secret-42");
    expect(parts).toContain("abc123def456ghi");
  });

  test("ordinary path words are not treated as secrets", () => {
    const parts = secretPartsOfUrl("https://ntfy.sh/sig-backups");
    expect(parts).toEqual(["https://ntfy.sh/sig-backups"]);
  });
});
