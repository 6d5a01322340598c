export function RestoreView({ id }: { repo: string; id: string }) {
  return <h1 tabIndex={-1}>Restore from {id}</h1>;
}
