// The frame of every screen: navigation, banners, the footer, and the screen
// the path names.
import { useSession } from '../hooks.js';
import { Link, usePath } from '../router.jsx';
import { Account } from './Account.jsx';
import { Banners } from './Banners.jsx';
import { Feed } from './Feed.jsx';
import { Inbox } from './Inbox.jsx';
import { Profile } from './Profile.jsx';
import { Studio } from './Studio.jsx';
import { Upload } from './Upload.jsx';
import { VideoPage } from './VideoPage.jsx';

// [path, name, shown on phones too]
const NAV = [
  ['/', 'For You', true],
  ['/following', 'Following', true],
  ['/upload', 'Upload', true],
  ['/inbox', 'Inbox', true],
  ['/studio', 'Studio', false],
];

function screen(path, me) {
  if (path === '/') return me ? <Feed key="for-you" kind="for-you" /> : <Account />;
  if (path === '/following') return me ? <Feed key="following" kind="following" /> : <Account />;
  if (path === '/upload') return me ? <Upload /> : <Account />;
  if (path === '/inbox') return me ? <Inbox /> : <Account />;
  if (path === '/studio') return me ? <Studio /> : <Account />;
  if (path === '/account') return <Account />;
  if (path.startsWith('/v/')) return <VideoPage key={path} id={decodeURIComponent(path.slice(3))} />;
  if (path.startsWith('/@')) return <Profile key={path} username={decodeURIComponent(path.slice(2))} />;
  return (
    <main class="page">
      <h1>Not found</h1>
      <p>
        Nothing is at this address. <Link href="/">Go to For You</Link>.
      </p>
    </main>
  );
}

export function App() {
  const path = usePath();
  const me = useSession();
  const full = path === '/' || path === '/following';
  return (
    <div class={`shell${full && me ? ' shell-feed' : ''}`}>
      <a class="skip" href="#content">
        Skip to content
      </a>
      <nav class="nav" aria-label="Main">
        <Link class="brand" href="/">
          stormproof
        </Link>
        {NAV.map(([href, name, phone]) => (
          <Link href={href} class={phone ? undefined : 'wide-only'} aria-current={path === href ? 'page' : undefined}>
            {name}
          </Link>
        ))}
        {me ? (
          <Link href={`/@${me.username}`} aria-current={path === `/@${me.username}` ? 'page' : undefined}>
            Profile
          </Link>
        ) : null}
        <Link href="/account" class={me ? 'wide-only' : undefined} aria-current={path === '/account' ? 'page' : undefined}>
          {me ? 'Account' : 'Log in'}
        </Link>
      </nav>
      <Banners />
      <div id="content" class="content">
        {screen(path, me)}
      </div>
      <footer class="footer">
        <a href="/status">Status</a> · <a href="/docs">API</a>
      </footer>
    </div>
  );
}
