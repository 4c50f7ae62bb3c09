// The comments drawer: read, post, delete your own.
import { useEffect, useState } from 'preact/hooks';
import { del, get, inWords, post, session } from '../api.js';
import { Link } from '../router.jsx';
import { Sheet } from './Sheet.jsx';

export function Comments({ video, onCount, onClose }) {
  const [comments, setComments] = useState(null);
  const [text, setText] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const me = session();
  useEffect(() => {
    get(`/v1/videos/${encodeURIComponent(video.id)}/comments`).then(setComments, (e) => setError(inWords(e)));
  }, [video.id]);
  const send = async (event) => {
    event.preventDefault();
    if (!text.trim()) {
      setError('Write a comment first.');
      return;
    }
    setBusy(true);
    try {
      const posted = await post(`/v1/videos/${encodeURIComponent(video.id)}/comments`, { text });
      const next = [...(comments || []), posted];
      setComments(next);
      onCount(next.length);
      setText('');
      setError('');
    } catch (e) {
      setError(inWords(e));
    } finally {
      setBusy(false);
    }
  };
  const remove = async (comment) => {
    try {
      await del(`/v1/comments/${encodeURIComponent(comment.id)}`);
      const next = comments.filter((c) => c.id !== comment.id);
      setComments(next);
      onCount(next.length);
    } catch (e) {
      setError(inWords(e));
    }
  };
  return (
    <Sheet title="Comments" onClose={onClose}>
      {comments === null ? <p>Loading…</p> : null}
      {comments && !comments.length ? <p class="muted">No comments yet. Say something nice.</p> : null}
      <ul class="comments" aria-label="Comments">
        {(comments || []).map((c) => (
          <li key={c.id}>
            <Link href={`/@${c.author.username}`}>@{c.author.username}</Link> {c.text}
            {me && c.author.username === me.username ? (
              <button type="button" class="plain" onClick={() => remove(c)}>
                Delete comment
              </button>
            ) : null}
          </li>
        ))}
      </ul>
      <form class="row" onSubmit={send}>
        <label class="field grow">
          Add a comment
          <input value={text} maxLength={2000} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={busy}>
          Post
        </button>
      </form>
      {error ? <p role="alert">{error}</p> : null}
    </Sheet>
  );
}
