// Sign up, log in, log out, and start For You over.
import { useState } from 'preact/hooks';
import { inWords, logIn, logOut, post, signUp } from '../api.js';
import { useSession } from '../hooks.js';
import { navigate } from '../router.jsx';

function SignIn() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const act = (what) => async (event) => {
    event?.preventDefault();
    if (!username || !password) {
      setError('Fill in your username and password.');
      return;
    }
    setBusy(true);
    setError('');
    try {
      await (what === 'up' ? signUp : logIn)(username.trim(), password);
      navigate('/');
    } catch (e) {
      setError(inWords(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="page narrow">
      <h1>Welcome to stormproof</h1>
      <p class="muted">Short videos that keep playing when a data center loses power.</p>
      <form onSubmit={act('in')} class="stack">
        <label class="field">
          Username
          <input name="username" autoComplete="username" autoCapitalize="none" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label class="field">
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        {error ? <p role="alert" class="error">{error}</p> : null}
        <div class="row">
          <button type="submit" disabled={busy}>
            Log in
          </button>
          <button type="button" class="secondary" disabled={busy} onClick={act('up')}>
            Sign up
          </button>
        </div>
        <p class="muted small">A username is 3 to 30 letters, digits, "_" or ".".</p>
      </form>
    </main>
  );
}

export function Account() {
  const me = useSession();
  const [confirming, setConfirming] = useState(false);
  const [said, setSaid] = useState('');
  if (!me) return <SignIn />;
  const reset = async () => {
    try {
      await post('/v1/feed/for-you/reset');
      setSaid('For You starts over: what you watched stays hidden, whom you follow stays.');
    } catch (e) {
      setSaid(inWords(e));
    }
    setConfirming(false);
  };
  return (
    <main class="page narrow">
      <h1>@{me.username}</h1>
      <section class="stack">
        <h2>For You</h2>
        {confirming ? (
          <div role="group" aria-label="Confirm the reset" class="stack">
            <p>Start For You over? It forgets what it learned of your taste.</p>
            <div class="row">
              <button type="button" class="danger" onClick={reset}>
                Yes, reset For You
              </button>
              <button type="button" class="secondary" onClick={() => setConfirming(false)}>
                Cancel
              </button>
            </div>
          </div>
        ) : (
          <button type="button" class="secondary" onClick={() => setConfirming(true)}>
            Reset For You
          </button>
        )}
        <p role="status">{said}</p>
      </section>
      <section class="stack">
        <h2>Session</h2>
        <button type="button" class="secondary" onClick={() => logOut().finally(() => navigate('/account'))}>
          Log out
        </button>
      </section>
    </main>
  );
}
