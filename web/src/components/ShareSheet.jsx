// Share a video: its link, copied with one button (and counted as a share).
import { useState } from 'preact/hooks';
import { post } from '../api.js';
import { Sheet } from './Sheet.jsx';

export function ShareSheet({ video, onShared, onClose }) {
  const link = `${location.origin}/v/${encodeURIComponent(video.id)}`;
  const [said, setSaid] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(link);
      setSaid('Link copied.');
    } catch {
      setSaid('Copy the link above.');
    }
    try {
      await post('/v1/events', { events: [{ type: 'share', video_id: video.id }] });
      onShared();
    } catch {
      /* the link works all the same */
    }
  };
  return (
    <Sheet title="Share" onClose={onClose}>
      <label class="field">
        Link
        <input type="url" readOnly value={link} onFocus={(e) => e.currentTarget.select()} />
      </label>
      <button type="button" onClick={copy}>
        Copy link
      </button>
      <p role="status">{said}</p>
    </Sheet>
  );
}
