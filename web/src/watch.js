// Honest watch reports: how long this person really watched a video
// (loops included, seeks and stalls not), whether they saw it to the end,
// and where the watch came from — sent when they move on or leave.
import { post, request } from './api.js';

const SKIP_BELOW_MS = 1500; // moved on this fast without finishing: a skip
const MAX_STEP_S = 1.0; // a larger jump of currentTime is a seek, not watching

export class WatchReport {
  constructor(videoId, source) {
    this.videoId = videoId;
    this.source = source;
    this.watchedMs = 0;
    this.completed = false;
    this.last = null;
    this.sent = false;
  }

  /** Call on every timeupdate of the video element. */
  tick(video) {
    const now = video.currentTime;
    if (this.last !== null && !video.paused) {
      const step = now - this.last;
      if (step > 0 && step <= MAX_STEP_S) this.watchedMs += step * 1000;
      // looped: back to the start after being near the end
      if (step < 0 && this.last >= video.duration - MAX_STEP_S) {
        this.completed = true;
        this.watchedMs += Math.max(0, video.duration - this.last) * 1000 + now * 1000;
      }
    }
    if (video.duration && now >= video.duration - 0.05) this.completed = true;
    this.last = now;
  }

  /** The events to send, once; none when nothing was watched. */
  events() {
    if (this.sent) return [];
    this.sent = true;
    const watched = Math.round(this.watchedMs);
    if (watched <= 0 && !this.completed) return [];
    const events = [{ type: 'watch', video_id: this.videoId, watched_ms: watched, completed: this.completed, source: this.source }];
    if (!this.completed && watched < SKIP_BELOW_MS) events.push({ type: 'skip', video_id: this.videoId });
    return events;
  }

  /** Send it (on moving on). `leaving`: the page is going away, keep the request alive. */
  send({ leaving = false } = {}) {
    const events = this.events();
    if (!events.length) return;
    if (leaving) request('POST', '/v1/events', { json: { events }, keepalive: true }).catch(() => {});
    else post('/v1/events', { events }).catch(() => {});
  }
}
