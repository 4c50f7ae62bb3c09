// Follow or unfollow a creator: a real toggle button, named for what it does.
import { useEffect, useState } from 'preact/hooks';
import { followsKnown, lookUp, onFollowChange, setFollow } from '../follows.js';
import { session } from '../api.js';

export function FollowButton({ username, tabbable = true, onChange }) {
  const [on, setOn] = useState(followsKnown(username));
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (on === undefined) lookUp(username).then(setOn, () => setOn(false));
    return onFollowChange((who, value) => who === username && setOn(value));
  }, [username]);
  if (session()?.username === username) return null;
  const click = async () => {
    setBusy(true);
    try {
      await setFollow(username, !on);
      onChange?.(!on);
    } catch {
      /* not recorded: the button still says what is true */
    } finally {
      setBusy(false);
    }
  };
  return (
    <button type="button" class={`follow${on ? ' on' : ''}`} aria-pressed={on ? 'true' : 'false'} disabled={busy || on === undefined} tabIndex={tabbable ? 0 : -1} onClick={click}>
      {on ? 'Following' : 'Follow'}
    </button>
  );
}
