// Runs before every test file of both restic passes (vitest setupFiles): the restic on PATH must be
// the version the pass is for, or every version-dependent expectation would be checked against the
// wrong restic.
import { checkResticOnPath } from "./restic-version.js";

checkResticOnPath();
