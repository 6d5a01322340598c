import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import { describeRunStoreContract } from "./run-store-contract.js";

describeRunStoreContract("memory", () => {
  const store = createMemoryStore();
  return Promise.resolve({ store, cleanup: () => store.close() });
});
