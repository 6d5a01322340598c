// Loading a value for a view: re-read when its key changes (or on `tick`, for live data), with the
// previous value kept while the next one loads, so nothing blinks or vanishes at a refresh.
import { useEffect, useRef, useState } from "preact/hooks";

export interface Loaded<T> {
  value: T | null;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

export function useLoad<T>(key: string, load: (signal: AbortSignal) => Promise<T>, tick = 0): Loaded<T> {
  const [state, setState] = useState<{ key: string; value: T | null; error: unknown; loading: boolean }>({
    key,
    value: null,
    error: null,
    loading: true,
  });
  const [nonce, setNonce] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const controller = new AbortController();
    setState((s) =>
      s.key === key ? { ...s, loading: true } : { key, value: null, error: null, loading: true },
    );
    loadRef.current(controller.signal).then(
      (value) => {
        if (!controller.signal.aborted) setState({ key, value, error: null, loading: false });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setState((s) => ({ ...s, key, error, loading: false }));
      },
    );
    return () => controller.abort();
  }, [key, tick, nonce]);
  const same = state.key === key;
  return {
    value: same ? state.value : null,
    error: same ? state.error : null,
    loading: !same || state.loading,
    reload: () => setNonce((n) => n + 1),
  };
}
