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

  const go = useCallback(
    (to) => {
      const next = Math.max(0, Math.min(to, items.length - 1));
      setIndex(next);
      const slide = track.current?.children[next];
      slide?.scrollIntoView({ behavior: 'smooth', block: 'start' });
    },
    [items.length],
  );

  useEffect(() => {
    const onKey = (event) => {
      if (event.target.closest?.('input, textarea, [role="dialog"]')) return;
      if (event.key === 'ArrowDown' || event.key === 'PageDown') {
        event.preventDefault();
        go(index + 1);
      } else if (event.key === 'ArrowUp' || event.key === 'PageUp') {
        event.preventDefault();
        go(index - 1);
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [index, go]);

  const onWheel = (event) => {
    if (event.target.closest?.('[role="dialog"]')) return;
    event.preventDefault();
    const now = performance.now();
    if (now - wheelAt.current < WHEEL_PAUSE_MS || Math.abs(event.deltaY) < 10) return;
    wheelAt.current = now;
    go(index + (event.deltaY > 0 ? 1 : -1));
  };

  // A swipe scrolls the track natively (scroll snap): read where it rests.
  const onScroll = () => {
    const el = track.current;
    if (!el || !el.clientHeight) return;
    const at = Math.round(el.scrollTop / el.clientHeight);
    if (at !== index && Math.abs(el.scrollTop - at * el.clientHeight) < 4) setIndex(at);
  };

  const notInterested = async (item) => {
    await post('/v1/events', { events: [{ type: 'not_interested', video_id: item.video.id }] });
    setItems((old) => old.filter((i) => i.video.id !== item.video.id));
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
      <div class="track" ref={track} onWheel={onWheel} onScroll={onScroll}>
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
