// A tiny history router: the app's screens are plain paths, so every link
// can be shared and opened on any region (each serves the app at them).
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set();
let previous = null;

/** The path shown before this one in this tab (null when opened directly). */
export const previousPath = () => previous;

export function navigate(path, { replace = false } = {}) {
  if (path === location.pathname + location.search) return;
  previous = location.pathname;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  listeners.forEach((l) => l());
}

addEventListener('popstate', () => listeners.forEach((l) => l()));

/** The current path, re-rendering on every navigation. */
export function usePath() {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    listeners.add(update);
    return () => listeners.delete(update);
  }, []);
  return path;
}

/** A link that navigates without reloading the page. */
export function Link({ href, children, ...rest }) {
  const onClick = (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    navigate(href);
  };
  return (
    <a href={href} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}
