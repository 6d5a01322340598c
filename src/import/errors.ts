import { UsageError } from "../errors.js";

/** The file cannot be imported at all (not the tool's format, unreadable): a user mistake, exit 2. */
export class ImportError extends UsageError {
  constructor(message: string, hint?: string) {
    super(message, hint ?? "pass the other tool's config file; `holdfast import --help` lists the formats");
  }
}
