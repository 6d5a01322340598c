// P5 (targets.md): the `manifest` step with sha256 of every file, 100k files ≤ 1× `find … | xargs sha256sum`.
// Run after `npm run build`: `node bench/p5-manifest-hash.mjs`. Prints one JSON object on stdout.
// Same method as P4 (bench/p4-manifest.mjs): the built step in a fresh node process per run, previous
// manifest present, alternating with the baseline in the same loop; data set shared with P4.
import console from "node:console";
import { compare } from "./p4-manifest.mjs";

const result = await compare({
  id: "P5",
  what: "manifest step with sha256, 100k files",
  target: "≤ 1×",
  targetRatio: 1,
  hash: true,
  baselineCommand: (data, out) => `find ${data} -type f -print0 | xargs -0 sha256sum > ${out}`,
});
console.log(JSON.stringify(result, null, 2));
