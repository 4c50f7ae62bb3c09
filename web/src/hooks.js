// Shared state of the app as hooks: the session, and what the API layer says.
import { useEffect, useState } from 'preact/hooks';
import { session, subscribe } from './api.js';

export function useSession() {
  const [current, setCurrent] = useState(session());
  useEffect(() => subscribe((event) => event.type === 'session' && setCurrent(session())), []);
  return current;
}

/** Load something once (and again when `deps` change): [value, error, reload]. */
export function useLoad(load, deps) {
  const [value, setValue] = useState(undefined);
  const [error, setError] = useState(null);
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    setError(null);
    load().then(
      (v) => live && setValue(v),
      (e) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [...deps, round]);
  return [value, error, () => setRound((r) => r + 1)];
}

/** Numbers as people read them: 1234 -> 1.2K. */
export function count(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1).replace(/\.0$/, '')}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}K`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1).replace(/\.0$/, '')}K`;
  return String(n ?? 0);
}
