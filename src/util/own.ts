// A config map looked up by a name someone typed (a CLI argument, an API path or body): only the
// map's own entries. `config.jobs["constructor"]` is Object's constructor, not a job — it was taken
// for one (holdfast run constructor crashed; holdfast restic toString ran restic with no repository).
export function own<T>(map: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(map, name) ? map[name] : undefined;
}
