// Attaching a source to a <video>: MP4 (what regions serve today) plays as
// it is, at once; an HLS playlist plays through hls.js, loaded only then (it
// is not part of the app's shell), or natively where the browser has no
// Media Source Extensions (iOS Safari) but plays HLS itself. Returns a
// function that detaches it.
export function attach(video, url, onFatal, onReady) {
  if (!url.split('?')[0].endsWith('.m3u8')) {
    video.src = url;
    onReady();
    return () => {};
  }
  let hls = null;
  let detached = false;
  import('hls.js').then(({ default: Hls }) => {
    if (detached) return;
    if (!Hls.isSupported()) {
      video.src = url; // Safari's own HLS
    } else {
      hls = new Hls({ maxBufferLength: 20 });
      hls.on(Hls.Events.ERROR, (_, data) => data.fatal && onFatal());
      hls.loadSource(url);
      hls.attachMedia(video);
    }
    onReady();
  }, onFatal);
  return () => {
    detached = true;
    hls?.destroy();
  };
}
