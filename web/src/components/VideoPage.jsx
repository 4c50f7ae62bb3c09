// One video at its own shareable address (/v/ID), playable by anyone.
import { get, inWords } from '../api.js';
import { useLoad } from '../hooks.js';
import { previousPath } from '../router.jsx';
import { Player } from './Player.jsx';

export function VideoPage({ id }) {
  const [video, error] = useLoad(() => get(`/v1/videos/${encodeURIComponent(id)}`), [id]);
  if (error) {
    return (
      <main class="page">
        <p role="alert">{inWords(error)}</p>
      </main>
    );
  }
  if (!video) return <main class="page">Loading…</main>;
  const source = previousPath()?.startsWith('/@') ? 'profile' : 'shared_link';
  return (
    <main class="feed single" aria-label="Video">
      <div class="slide">
        <Player item={{ video }} active source={source} />
      </div>
    </main>
  );
}
