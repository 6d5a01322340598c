// One error for a name the config does not define (a job, repository, source or step given on the
// command line): what was asked for, the close one when there is one ("did you mean"), and the names
// there are.
import { UsageError } from "../errors.js";
import { closestMatch } from "../util/suggest.js";

export function unknownNameError(
  what: string,
  name: string,
  known: readonly string[],
  where: { listed: string; none: string },
): UsageError {
  const guess = closestMatch(name, known);
  return new UsageError(
    `no ${what} named "${name}"${guess !== null ? `; did you mean "${guess}"?` : ""}`,
    known.length > 0 ? `${where.listed}: ${known.join(", ")}` : where.none,
  );
}
