// passwordCommandFailure against restic's stderr as recorded here (2026-12, RESTIC_PASSWORD_COMMAND
// wrapped in /usr/bin/timeout like holdfast does, the command `sh -c "echo hanging >&2; sleep 100"`):
//   0.14.0: "hanging" / "Resolving password failed: exit status 124"                           (rc 1)
//   0.18.0: "hanging" / {"message_type":"exit_error","code":1,"message":"Fatal: Resolving password failed: exit status 124\n"}
// The end-to-end half (real restic, both versions, every caller) is R13 in test/reliability.
import { describe, expect, it } from "vitest";
import type { Config, RepositoryConfig } from "../config/types.js";
import { passwordCommandFailure } from "./password-command.js";
import { selectorEnv } from "./repository.js";

function repo(name: string, fields: Partial<RepositoryConfig>): RepositoryConfig {
  return { name, offsite: false, url: `/srv/${name}`, ...fields };
}

const a = repo("a", { password_command: ["pass", "show", "backup/a"], password_command_timeout: 7_000 });
const b = repo("b", { password_command: ["vault-pw", "b"] });
const plain = repo("p", { password_file: "/etc/p.pass" });
const config = { repositories: { a, b, p: plain } } as unknown as Config;

describe("passwordCommandFailure", () => {
  it("restic 0.14: a hang (timeout's 124) names the repository, the command and its limit", () => {
    const e = passwordCommandFailure(config, a, undefined, [
      "hanging",
      "Resolving password failed: exit status 124",
    ]);
    expect(e?.kind).toBe("password_command");
    expect(e?.message).toBe(
      'password_command of repository "a" (pass show backup/a) did not answer within 7.0s; restic got no password and stopped',
    );
    expect(e?.hint).toContain("repositories.a.password_command_timeout");
  });

  it("restic 0.18: the same from the exit_error JSON line; 137 (SIGKILL after -k) is a hang too", () => {
    for (const code of [124, 137]) {
      const e = passwordCommandFailure(config, a, undefined, [
        "hanging",
        `{"message_type":"exit_error","code":1,"message":"Fatal: Resolving password failed: exit status ${code}\\n"}`,
      ]);
      expect(e?.message).toContain("did not answer within 7.0s");
    }
  });

  it("a command that fails says how, with what it printed on stderr", () => {
    const e = passwordCommandFailure(config, b, undefined, [
      "gpg: decryption failed: No secret key",
      "Resolving password failed: exit status 2",
    ]);
    expect(e?.kind).toBe("password_command");
    expect(e?.message).toBe(
      'password_command of repository "b" (vault-pw b) failed: exit status 2 (it said: gpg: decryption failed: No secret key)',
    );
  });

  it("copy: the source repository's command is found through RESTIC_FROM_PASSWORD_COMMAND", () => {
    const e = passwordCommandFailure(config, plain, selectorEnv(a, "FROM_"), [
      "Resolving password failed: exit status 124",
    ]);
    expect(e?.message).toMatch(/^password_command of repository "a" \(pass show backup\/a\) did not answer/);
  });

  it("restic failing for another reason, or a repository without a command: not ours to name", () => {
    expect(
      passwordCommandFailure(config, a, undefined, ["Fatal: wrong password or no key found"]),
    ).toBeNull();
    expect(
      passwordCommandFailure(config, plain, undefined, ["Resolving password failed: exit status 124"]),
    ).toBeNull();
  });
});
