// The embedded defaults: what `holdfast run` uses when there is no config file at all, so the
// README's quickstart works on a fresh machine with nothing written by hand.
import { finishConfig } from "./load.js";
import { configSchema, type Config } from "./schema.js";

export const EMBEDDED_JOB = "main";

export function embeddedDefaultConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw = configSchema.parse({
    version: 1,
    jobs: {
      [EMBEDDED_JOB]: {
        description: "the quickstart job: the seed's hello step and a look at the machine",
        max_age: "26h",
        steps: [
          { name: "hello", type: "exec", command: ["echo", "hello from holdfast"] },
          { name: "whoami", type: "exec", command: ["id"] },
          { name: "disk", type: "exec", command: ["df", "-h", "/"] },
        ],
      },
    },
  });
  return finishConfig(raw, null, env);
}
