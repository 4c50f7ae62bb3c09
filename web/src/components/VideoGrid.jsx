// Videos as a grid of thumbnails, each a link to its page.
import { mediaUrl } from '../api.js';
import { count } from '../hooks.js';
import { Link } from '../router.jsx';

export function VideoGrid({ videos }) {
  return (
    <ul class="grid">
      {videos.map((v) => (
        <li key={v.id}>
          <Link href={`/v/${encodeURIComponent(v.id)}`} aria-label={v.caption || `Video by ${v.owner.username}`}>
            <img src={mediaUrl(v.thumbnail_url)} alt="" loading="lazy" />
            <span class="views" aria-hidden="true">▶ {count(v.counts.views)}</span>
          </Link>
        </li>
      ))}
    </ul>
  );
}
