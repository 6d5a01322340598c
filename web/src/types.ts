// The API's JSON: src/server/api-types.ts is the one description the server and this front end both
// compile against (types only, no Node). Re-exported here so views import from one place.
export type * from "../../src/server/api-types.js";
export type { InfoResponse as Info } from "../../src/server/api-types.js";
