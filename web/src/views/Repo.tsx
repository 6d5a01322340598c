export function RepoView({ repo }: { repo: string }) {
  return <h1 tabIndex={-1}>Repository {repo}</h1>;
}
