// `holdfast serve token add NAME --role viewer|operator`, `token list`, `token remove NAME`: the named
// tokens of the dashboard (server/tokens.ts). A new token is printed once, on stdout alone (so it can
// be piped into a file); only its hash is kept. A running server picks up changes without a restart.
import { UsageError } from "../../errors.js";
import type { ApiRole } from "../../server/api-types.js";
import { addToken, readTokens, removeToken, tokensFileOf } from "../../server/tokens.js";
import { formatTable, printJson } from "../output.js";
import { loadCliConfig, type GlobalOptions } from "../context.js";

function parseRole(role: string | undefined): ApiRole {
  if (role === "viewer" || role === "operator") return role;
  throw new UsageError(
    `--role ${role ?? "(missing)"}: a token is a viewer or an operator`,
    "viewer: sees everything but cannot run, cancel, restore or download; operator: may do those too",
  );
}

export function tokenAdd(global: GlobalOptions, name: string, flags: { role?: string }): Promise<number> {
  const role = parseRole(flags.role);
  const { config } = loadCliConfig(global, { allowEmbedded: true });
  const file = tokensFileOf(config.state_dir);
  const value = addToken(file, name, role);
  process.stdout.write(`${value}\n`);
  process.stderr.write(
    `holdfast: made the ${role} token "${name}" (above; it is shown only now — only its hash is kept in ${file}).\n` +
      `holdfast: paste it into the dashboard's token screen, or send it as \`Authorization: Bearer TOKEN\`.\n`,
  );
  return Promise.resolve(0);
}

export function tokenList(global: GlobalOptions, flags: { json?: boolean }): Promise<number> {
  const { config } = loadCliConfig(global, { allowEmbedded: true });
  const tokens = readTokens(tokensFileOf(config.state_dir)).map(({ name, role, created_at }) => ({
    name,
    role,
    created_at,
  }));
  if (flags.json) printJson({ tokens });
  else if (tokens.length === 0)
    process.stdout.write("no named tokens (make one with `holdfast serve token add NAME --role viewer`)\n");
  else
    process.stdout.write(
      `${formatTable([["NAME", "ROLE", "CREATED"], ...tokens.map((t) => [t.name, t.role, t.created_at])])}\n`,
    );
  return Promise.resolve(0);
}

export function tokenRemove(global: GlobalOptions, name: string): Promise<number> {
  const { config } = loadCliConfig(global, { allowEmbedded: true });
  if (!removeToken(tokensFileOf(config.state_dir), name)) {
    throw new UsageError(`there is no token named "${name}"`, "see `holdfast serve token list`");
  }
  process.stderr.write(`holdfast: removed the token "${name}"; it is refused from now on\n`);
  return Promise.resolve(0);
}
