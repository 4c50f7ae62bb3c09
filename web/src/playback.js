// Attaching a source to a <video>. An MP4 (a video's original) plays as it
// is, at once. An HLS master playlist (once the video's ladder is ready,
// ADR 028) plays through hls.js — loaded only then: it is not part of the
// app's shell — wherever the browser has Media Source Extensions, or
// natively where it has none but plays HLS itself (iOS Safari).
//
// hls.js asks for every playlist and segment on the region to ask now
// (api.js: the one that answered last, unless it failed since), whatever
// origin the master playlist came from: HLS files are named by their hash,
// so every region serves the same bytes. A region that fails a request is
// cooled down and the retry goes to the next. Returns a function that
// detaches the source.

import { mediaFailed, mediaHere } from './api.js';

export const isPlaylist = (url) => url.split('?')[0].endsWith('.m3u8');

// Retries: a network error (status 0: the region is gone) or a 404 (a
// region behind the log has not got the rung yet) is retried too — on
// another region; a short delay, so the failure is recorded first.
const RETRY = {
  maxNumRetry: 4,
  retryDelayMs: 100,
  maxRetryDelayMs: 1000,
  shouldRetry: (config, count, timeout, response, retry) =>
    retry || (count < config.maxNumRetry && [0, 404].includes(response?.code)),
};
const policy = (firstByteMs, loadMs) => ({
  default: { maxTimeToFirstByteMs: firstByteMs, maxLoadTimeMs: loadMs, timeoutRetry: RETRY, errorRetry: RETRY },
});

function hlsConfig() {
  return {
    enableWorker: false, // fMP4 needs no transmuxing, and the page's CSP allows no blob: workers
    // 20 s ahead, not more: hls.js would buffer up to 60 MB of a low rung
    // (minutes), for each of the videos around the one shown
    maxBufferLength: 20,
    maxMaxBufferLength: 20,
    manifestLoadPolicy: policy(4000, 8000),
    playlistLoadPolicy: policy(4000, 8000),
    fragLoadPolicy: policy(4000, 30000),
    // every request to the region to ask now, remembered for the error handler
    xhrSetup(xhr, url) {
      const target = mediaHere(url);
      xhr.stormproofUrl = target;
      let aborted = false;
      xhr.addEventListener('abort', () => (aborted = true));
      xhr.addEventListener('loadend', () => {
        if ((xhr.status === 0 && !aborted) || xhr.status >= 500) mediaFailed(target);
      });
      xhr.open('GET', target, true);
    },
  };
}

/**
 * Play `url` in `video`. `onFatal()` when it cannot be played (the caller
 * falls back: the MP4, another region); `onReady()` once it can be asked
 * to play.
 */
export function attach(video, url, onFatal, onReady) {
  if (!isPlaylist(url)) {
    video.src = url;
    onReady();
    return () => {};
  }
  let hls = null;
  let detached = false;
  import('hls.js').then(({ default: Hls }) => {
    if (detached) return;
    if (!Hls.isSupported()) {
      if (!video.canPlayType('application/vnd.apple.mpegurl')) return onFatal();
      video.src = url; // the browser's own HLS (no MSE): the <video>'s error event falls back
      return onReady();
    }
    hls = new Hls(hlsConfig());
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        // a timeout aborts the request itself: its region failed all the same
        const failed = data.networkDetails?.stormproofUrl;
        if (failed) mediaFailed(failed);
      }
      if (data.fatal && !detached) onFatal();
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => !detached && onReady());
    hls.loadSource(mediaHere(url));
    hls.attachMedia(video);
  }, onFatal);
  return () => {
    detached = true;
    hls?.destroy();
  };
}
