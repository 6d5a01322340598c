// Placeholder send for a notifier kind whose options validate but whose sender is not built yet:
// it fails (and the failure is recorded on the run), it never pretends to have notified.
export function notBuiltSender(type: string): () => Promise<void> {
  return () => Promise.reject(new Error(`notifier type "${type}" is not available in this build of holdfast`));
}
