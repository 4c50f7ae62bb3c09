// The creator and the caption, hashtags marked, over the video (and read by
// screen readers: the video's text is there as text).
import { Link } from '../router.jsx';

export function Caption({ video }) {
  const words = (video.caption || '').split(/(#[\p{L}\p{N}_]+)/u);
  return (
    <div class="caption">
      <Link class="creator" href={`/@${video.owner.username}`}>
        @{video.owner.username}
      </Link>
      <p>{words.map((w) => (w.startsWith('#') ? <span class="tag">{w}</span> : w))}</p>
    </div>
  );
}
