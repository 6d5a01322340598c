import { stringify } from "yaml";
import { loadCliConfig, type GlobalOptions } from "../context.js";
import { printJson } from "../output.js";
import { maskConfig } from "../../config/mask.js";

export default function show(global: GlobalOptions, flags: { json?: boolean }): Promise<number> {
  const { config, embedded } = loadCliConfig(global, { allowEmbedded: true });
  const masked = maskConfig(config);
  if (flags.json) printJson(masked);
  else
    process.stdout.write(
      `${embedded ? "# embedded quickstart config (no config file found)\n" : `# ${config.file ?? ""}\n`}${stringify(masked)}`,
    );
  return Promise.resolve(0);
}
