import { describe, expect, test } from "vitest";
import { HARMLESS_ENV_NAMES, isHarmlessEnvName, isSecretName } from "./secret-names.js";

describe("isSecretName: the one secret-name rule", () => {
  test.each([
    "RESTIC_PASSWORD",
    "PGPASSWORD",
    "BORG_PASSPHRASE",
    "RCLONE_CONFIG_PASS",
    "RCLONE_CONFIG_MYREMOTE_PASS",
    "MYSQL_PWD",
    "OS_PASSWORD",
    "B2_ACCOUNT_KEY",
    "AZURE_ACCOUNT_KEY",
    "AZURE_ACCOUNT_SAS",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GITHUB_TOKEN",
    "HTTP_AUTH",
    "API_KEY",
    "APIKEY",
    "SSH_PRIVATE_KEY",
    "ST_KEY",
    "DB_CREDENTIALS",
    "client_secret",
    "Authorization",
    "X-Api-Key",
    "X-Auth-Token",
  ])("%s is a secret", (name) => expect(isSecretName(name)).toBe(true));

  test.each([
    "AWS_ACCESS_KEY_ID",
    "RESTIC_PASSWORD_FILE",
    "RESTIC_PASSWORD_COMMAND",
    "SSH_AUTH_SOCK",
    "KEYBOARD_LAYOUT",
    "PASSIVE_MODE",
    "BYPASS",
    "AUTHOR_NAME",
    "MONKEY",
    "PWD",
    "OLDPWD",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "RESTIC_COMPRESSION",
    "B2_ACCOUNT_ID",
    "TZ",
    "Content-Type",
  ])("%s is not a secret by its name", (name) => expect(isSecretName(name)).toBe(false));
});

describe("isHarmlessEnvName", () => {
  test("the list is short and holds no secret name", () => {
    expect(HARMLESS_ENV_NAMES.length).toBeLessThanOrEqual(16);
    for (const name of HARMLESS_ENV_NAMES) expect(isSecretName(name), name).toBe(false);
  });

  test("exact names and the LC_ family; nothing else", () => {
    for (const name of ["TZ", "LANG", "LC_ALL", "LC_TIME", "PATH", "RESTIC_CACHE_DIR", "GOMAXPROCS"])
      expect(isHarmlessEnvName(name), name).toBe(true);
    for (const name of ["tz", "DB_HOST", "AWS_ACCESS_KEY_ID", "RESTIC_HOST", "PATHS", "LC", "HOMEDIR"])
      expect(isHarmlessEnvName(name), name).toBe(false);
  });
});
