import { configJsonSchema } from "../../registry.js";
import { printJson } from "../output.js";

export default function schema(): Promise<number> {
  printJson(configJsonSchema());
  return Promise.resolve(0);
}
