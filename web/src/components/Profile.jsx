// A person's profile: counts, follow or unfollow, write to them, their videos.
import { useState } from 'preact/hooks';
import { get, inWords, session } from '../api.js';
import { count, useLoad } from '../hooks.js';
import { Link, navigate } from '../router.jsx';
import { FollowButton } from './FollowButton.jsx';
import { VideoGrid } from './VideoGrid.jsx';

export function Profile({ username }) {
  const name = encodeURIComponent(username);
  const [profile, error] = useLoad(() => get(`/v1/accounts/${name}`), [username]);
  const [videos] = useLoad(() => get(`/v1/accounts/${name}/videos`, { limit: 60 }), [username]);
  const [followers, setFollowers] = useState(null);
  if (error) {
    return (
      <main class="page">
        <p role="alert">{inWords(error)}</p>
      </main>
    );
  }
  if (!profile) return <main class="page">Loading…</main>;
  const me = session();
  const shown = followers ?? profile.followers;
  return (
    <main class="page">
      <header class="profile-head">
        <div class="avatar" aria-hidden="true">
          {profile.username.slice(0, 1).toUpperCase()}
        </div>
        <div>
          <h1>@{profile.username}</h1>
          <p class="counts">
            <span><strong>{count(profile.following)}</strong> following</span>
            <span><strong>{count(shown)}</strong> followers</span>
            <span><strong>{count(profile.videos)}</strong> videos</span>
          </p>
          {me && me.username !== profile.username ? (
            <div class="row">
              <FollowButton username={profile.username} onChange={(on) => setFollowers(shown + (on ? 1 : -1))} />
              <button type="button" class="secondary" onClick={() => navigate(`/inbox?to=${name}`)}>
                Message
              </button>
            </div>
          ) : null}
          {me && me.username === profile.username ? (
            <p class="row phone-only">
              <Link href="/studio">Studio</Link>
              <Link href="/account">Account</Link>
            </p>
          ) : null}
        </div>
      </header>
      {videos === undefined ? <p>Loading…</p> : videos.length ? <VideoGrid videos={videos} /> : <p class="muted">No videos yet.</p>}
    </main>
  );
}
