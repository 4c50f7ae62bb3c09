// One video, full screen: plays while it is the one shown (muted until the
// person's first tap, then with sound, remembered), tap to pause, double-tap
// to like, and the creator, caption and actions over it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { mediaUrl, nextMediaUrl, post } from '../api.js';
import { attach, isPlaylist } from '../playback.js';
import { WatchReport } from '../watch.js';
import { Actions } from './Actions.jsx';
import { Caption } from './Caption.jsx';
import { Icon } from './Icon.jsx';
import { WhySheet } from './WhySheet.jsx';

const DOUBLE_TAP_MS = 280;
const soundOn = () => localStorage.getItem('stormproof.sound') === 'on';

export function Player({ item, active, preload = false, source, onNotInterested }) {
  const video = item.video;
  const element = useRef(null);
  const report = useRef(null);
  const tapTimer = useRef(null);
  // HLS once the ladder is ready, else (and after HLS failed) the original MP4
  const [src, setSrc] = useState(() => mediaUrl(video.hls_url || video.file_url));
  const [paused, setPaused] = useState(false);
  const [muted, setMuted] = useState(!soundOn());
  const [liked, setLiked] = useState(false);
  const [likes, setLikes] = useState(video.counts.likes);
  const [burst, setBurst] = useState(0);
  const [why, setWhy] = useState(false);

  // MP4 as it is; HLS through hls.js, loaded then
  const shown = useRef(active);
  shown.current = active;
  useEffect(() => {
    const el = element.current;
    if (!el) return undefined;
    return attach(el, src, onError, () => {
      if (shown.current) el.play().catch(() => setPaused(true));
    });
  }, [src]);

  // Shown: play from where it is and start a report; hidden: pause and send it.
  useEffect(() => {
    const el = element.current;
    if (!el) return undefined;
    if (!active) {
      el.pause();
      return undefined;
    }
    report.current = new WatchReport(video.id, source);
    setPaused(false);
    el.muted = !soundOn();
    el.play().catch(() => setPaused(true));
    const leave = () => {
      if (document.visibilityState === 'hidden') {
        report.current?.send({ leaving: true });
        report.current = new WatchReport(video.id, source);
      }
    };
    document.addEventListener('visibilitychange', leave);
    return () => {
      document.removeEventListener('visibilitychange', leave);
      report.current?.send();
      report.current = null;
    };
  }, [active, video.id]);

  useEffect(() => {
    const onHide = () => report.current?.send({ leaving: true });
    addEventListener('pagehide', onHide);
    return () => removeEventListener('pagehide', onHide);
  }, []);

  const toggle = () => {
    const el = element.current;
    if (!el) return;
    if (!soundOn()) {
      // the first tap turns the sound on, and is remembered
      localStorage.setItem('stormproof.sound', 'on');
      el.muted = false;
      setMuted(false);
      if (el.paused) el.play().catch(() => {});
      return;
    }
    if (el.paused) {
      el.play().catch(() => {});
      setPaused(false);
    } else {
      el.pause();
      setPaused(true);
    }
  };

  const setLike = (on) => {
    if (on === liked) return;
    setLiked(on);
    setLikes((n) => Math.max(0, n + (on ? 1 : -1)));
    post('/v1/events', { events: [{ type: on ? 'like' : 'unlike', video_id: video.id }] }).catch(() => {
      setLiked(!on); // not recorded: show it as it is
      setLikes((n) => Math.max(0, n + (on ? -1 : 1)));
    });
  };

  // A single tap waits a moment: a second one makes it a double tap (like).
  const onTap = (event) => {
    event.preventDefault();
    if (tapTimer.current) {
      clearTimeout(tapTimer.current);
      tapTimer.current = null;
      setBurst((b) => b + 1);
      setLike(true);
      return;
    }
    tapTimer.current = setTimeout(() => {
      tapTimer.current = null;
      toggle();
    }, DOUBLE_TAP_MS);
  };

  const onError = () => {
    // HLS that cannot play (hls.js retried every region): the original MP4;
    // an MP4 this region failed to serve: another region's
    const next = isPlaylist(src) ? mediaUrl(video.file_url) : nextMediaUrl(src);
    if (next && next !== src) {
      const at = element.current?.currentTime || 0;
      setSrc(next);
      requestAnimationFrame(() => {
        const el = element.current;
        if (!el) return;
        el.currentTime = at;
        if (active) el.play().catch(() => {});
      });
    }
  };

  return (
    <div class="player">
      <video
        ref={element}
        class="video"
        poster={mediaUrl(video.poster_url || video.thumbnail_url)}
        preload={active || preload ? 'auto' : 'none'}
        loop
        playsInline
        muted={muted}
        aria-label={`Video by ${video.owner.username}: ${video.caption || 'no caption'}`}
        onTimeUpdate={(e) => report.current?.tick(e.currentTarget)}
        onPlay={() => setPaused(false)}
        onPause={() => setPaused(true)}
        onError={onError}
        onLoadedData={() => {
          // time to first frame, for benchmarks/web.py: once per page load
          if (active && !performance.getEntriesByName('first-frame').length) performance.mark('first-frame');
        }}
      />
      <button
        type="button"
        class="tap"
        aria-label={muted ? 'Turn sound on' : paused ? 'Play' : 'Pause'}
        tabIndex={active ? 0 : -1}
        onClick={onTap}
      >
        {paused && !muted ? <span class="big-icon"><Icon name="play" size={72} /></span> : null}
        {muted ? <span class="sound-hint" aria-hidden="true"><Icon name="muted" size={18} /> Tap for sound</span> : null}
        {burst ? <span key={burst} class="heart-burst" onAnimationEnd={() => setBurst(0)}><Icon name="heart" size={110} /></span> : null}
      </button>
      <Caption video={video} />
      <Actions
        video={video}
        liked={liked}
        likes={likes}
        onLike={() => setLike(!liked)}
        onNotInterested={onNotInterested}
        onWhy={item.explain ? () => setWhy(true) : null}
        tabbable={active}
      />
      {why ? <WhySheet explain={item.explain} onClose={() => setWhy(false)} /> : null}
    </div>
  );
}
