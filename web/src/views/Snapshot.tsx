export function SnapshotView({ id }: { repo: string; id: string; path: string }) {
  return <h1 tabIndex={-1}>Snapshot {id}</h1>;
}
