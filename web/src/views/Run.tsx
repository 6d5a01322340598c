export function RunView({ id }: { id: string; step: string | null }) {
  return <h1 tabIndex={-1}>Run {id}</h1>;
}
