// For You and Following: one full-screen video at a time, moved with a swipe,
// the wheel or the arrow keys, pages fetched with the API's cursor as the
// person nears the end.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, inWords, post } from '../api.js';
import { Link } from '../router.jsx';
import { Player } from './Player.jsx';

const PAGE = 8;
const WHEEL_PAUSE_MS = 450;

export function Feed({ kind }) {
  const [items, setItems] = useState([]);
  const [cursor, setCursor] = useState(undefined); // undefined: first page not asked yet; null: the end
  const [index, setIndex] = useState(0);
  const [error, setError] = useState(null);
  const loading = useRef(false);
  const track = useRef(null);
  const wheelAt = useRef(0);
  const source = kind === 'for-you' ? 'for_you' : 'following';

  const more = useCallback(async () => {
    if (loading.current || cursor === null) return;
    loading.current = true;
    try {
      const params = { limit: PAGE, cursor };
      if (kind === 'for-you') params.explain = 1;
      const page = await get(`/v1/feed/${kind}`, params);
      setItems((old) => {
        const known = new Set(old.map((i) => i.video.id));
        return [...old, ...page.items.filter((i) => !known.has(i.video.id))];
      });
      setCursor(page.next_cursor ?? null);
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      loading.current = false;
    }
  }, [kind, cursor]);

  useEffect(() => {
    if (cursor === undefined || items.length - index <= 3) more();
  }, [index, items.length, cursor]);

  // Read by listeners registered once: always the current values.
  const now = useRef({ index: 0, count: 0 });
  now.current = { index, count: items.length };

  const go = useCallback((to) => {
    const next = Math.max(0, Math.min(to, now.current.count - 1));
    now.current.index = next;
    setIndex(next);
    track.current?.children[next]?.scrollIntoView({ behavior: 'smooth', block: 'start' });
  }, []);

  useEffect(() => {
    const onKey = (event) => {
      if (event.target.closest?.('input, textarea, [role="dialog"]')) return;
      if (event.key === 'ArrowDown' || event.key === 'PageDown') {
        event.preventDefault();
        go(now.current.index + 1);
      } else if (event.key === 'ArrowUp' || event.key === 'PageUp') {
        event.preventDefault();
        go(now.current.index - 1);
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);

  const onWheel = (event) => {
    if (event.target.closest?.('[role="dialog"]')) return;
    event.preventDefault();
    const now = performance.now();
    if (now - wheelAt.current < WHEEL_PAUSE_MS || Math.abs(event.deltaY) < 10) return;
    wheelAt.current = now;
    go(now.current.index + (event.deltaY > 0 ? 1 : -1));
  };

  // A swipe scrolls the track natively (scroll snap): once it rests, the
  // video it rests on is the one shown.
  const onScrollEnd = () => {
    const el = track.current;
    if (!el || !el.clientHeight) return;
    const at = Math.round(el.scrollTop / el.clientHeight);
    if (at !== now.current.index) {
      now.current.index = at;
      setIndex(at);
    }
  };

  const notInterested = async (item) => {
    try {
      await post('/v1/events', { events: [{ type: 'not_interested', video_id: item.video.id }] });
      setItems((old) => old.filter((i) => i.video.id !== item.video.id));
    } catch (e) {
      setError(e);
    }
  };

  if (error && !items.length) {
    return (
      <main class="page">
        <p role="alert">{inWords(error)}</p>
        <button type="button" onClick={more}>
          Try again
        </button>
      </main>
    );
  }
  if (cursor === null && !items.length) {
    return (
      <main class="page">
        <h1>{kind === 'for-you' ? 'For You' : 'Following'}</h1>
        <p>
          {kind === 'for-you' ? (
            'Nothing to watch yet: be the first to upload.'
          ) : (
            <>
              Nobody you follow has posted yet. Find people on <Link href="/">For You</Link>.
            </>
          )}
        </p>
      </main>
    );
  }
  return (
    <main class="feed" aria-label={kind === 'for-you' ? 'For You' : 'Following'}>
      <div class="track" ref={track} onWheel={onWheel} onScrollEnd={onScrollEnd}>
        {items.map((item, i) => (
          <section class="slide" key={item.video.id} aria-label={`Video ${i + 1}`} aria-hidden={i !== index ? 'true' : undefined}>
            {Math.abs(i - index) <= 2 ? (
              <Player
                item={item}
                active={i === index}
                preload={i > index}
                source={source}
                onNotInterested={() => notInterested(item)}
              />
            ) : null}
          </section>
        ))}
      </div>
      {error instanceof ApiError ? <p class="toast" role="alert">{inWords(error)}</p> : null}
    </main>
  );
}
