// The buttons beside a video: like, comment, share, follow, not interested,
// and why For You chose it. Each a real button with a name and a count.
import { useState } from 'preact/hooks';
import { count } from '../hooks.js';
import { Comments } from './Comments.jsx';
import { FollowButton } from './FollowButton.jsx';
import { Icon } from './Icon.jsx';
import { ShareSheet } from './ShareSheet.jsx';

export function Actions({ video, liked, likes, onLike, onNotInterested, onWhy, tabbable = true }) {
  const [comments, setComments] = useState(null); // null: closed
  const [commentCount, setCommentCount] = useState(video.counts.comments);
  const [shares, setShares] = useState(video.counts.shares);
  const [sharing, setSharing] = useState(false);
  const tab = tabbable ? 0 : -1;
  return (
    <div class="actions">
      <FollowButton username={video.owner.username} tabbable={tabbable} />
      <button type="button" class={`action${liked ? ' on' : ''}`} aria-label="Like" aria-pressed={liked ? 'true' : 'false'} tabIndex={tab} onClick={onLike}>
        <Icon name="heart" />
        <span class="n">{count(likes)}</span>
      </button>
      <button type="button" class="action" aria-label="Comment" tabIndex={tab} onClick={() => setComments(true)}>
        <Icon name="comment" />
        <span class="n">{count(commentCount)}</span>
      </button>
      <button type="button" class="action" aria-label="Share" tabIndex={tab} onClick={() => setSharing(true)}>
        <Icon name="share" />
        <span class="n">{count(shares)}</span>
      </button>
      {onNotInterested ? (
        <button type="button" class="action small" aria-label="Not interested" tabIndex={tab} onClick={onNotInterested}>
          <Icon name="hide" size={22} />
        </button>
      ) : null}
      {onWhy ? (
        <button type="button" class="action small" aria-label="Why this video" tabIndex={tab} onClick={onWhy}>
          <Icon name="why" size={22} />
        </button>
      ) : null}
      {comments ? <Comments video={video} onCount={setCommentCount} onClose={() => setComments(null)} /> : null}
      {sharing ? <ShareSheet video={video} onShared={() => setShares((n) => n + 1)} onClose={() => setSharing(false)} /> : null}
    </div>
  );
}
