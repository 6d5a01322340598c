export function JobView({ job }: { job: string }) {
  return <h1 tabIndex={-1}>Job {job}</h1>;
}
