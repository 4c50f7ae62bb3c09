// The API layer: every request of the app goes through here, and it does
// what the SDK (src/stormproof/client.py) does.
//
// - Failover: a request goes to the region that answered last; on a network
//   error or a 5xx it goes to the next; when no answer came within HEDGE_MS
//   every other region is asked too and the first answer wins; a region that
//   failed is asked last for COOLDOWN_MS.
// - Exactly-once writes: every write carries an Idempotency-Key and a
//   Stormproof-Write-At, the same on every retry and hedged copy.
// - Read your writes: each write's seq is remembered per log partition and
//   sent as min_seq on every request (a region behind answers 503: next).
// - Live messages: a server-sent event stream read with fetch (it needs the
//   Authorization header) that reconnects, to any region, with Last-Event-ID.

const HEDGE_MS = 150;
const ATTEMPT_MS = 4000;
const DEADLINE_MS = 15000;
const COOLDOWN_MS = 3000;
const PASSWORD_WORK_MS = 2000;
const SILENCE_MS = 20000; // the message stream's keepalive is every 15 s // Argon2id: give a region this long before asking another

const saved = (key, fallback) => {
  try {
    const raw = localStorage.getItem(key);
    return raw === null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
};
const save = (key, value) => {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* private mode: kept in memory only */
  }
};

const state = {
  regions: [{ name: 'this region', url: location.origin }],
  preferred: 0,
  failedAt: new Map(),
  seen: saved('stormproof.seen', {}), // partition -> highest seq token written or read
  lastAt: saved('stormproof.lastAt', 0),
  session: saved('stormproof.session', null), // {token, username, user_id}
};

const listeners = new Set();
/** Be told of changes: {type: 'session'} or {type: 'failover', from, to}. */
export function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
const emit = (event) => listeners.forEach((l) => l(event));

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = () => state.session;
export const regions = () => state.regions;
export const region = () => state.regions[state.preferred];

/** Learn every region's address (GET /v1/regions), this one first. */
export async function loadRegions() {
  try {
    const answer = await request('GET', '/v1/regions', { deadline: 3000 });
    const [first, ...rest] = (await answer.json()).regions || [];
    // the region that served the page lists itself first, by the address it
    // knows; the page's own origin is the one this browser reaches it at
    const here = { name: first?.name || 'this region', url: location.origin };
    const others = rest.filter((r) => r.url && r.url !== here.url);
    state.regions = [here, ...others];
    state.preferred = 0;
  } catch {
    /* an older region without the list: this origin alone */
  }
  return state.regions;
}

function order() {
  const now = performance.now();
  const count = state.regions.length;
  const ring = Array.from({ length: count }, (_, i) => (state.preferred + i) % count);
  const healthy = ring.filter((i) => now - (state.failedAt.get(i) ?? -1e9) > COOLDOWN_MS);
  return [...healthy, ...ring.filter((i) => !healthy.includes(i))];
}

function remember(response) {
  const seq = response.headers.get('Stormproof-Seq');
  const partitions = Number(response.headers.get('Stormproof-Partitions') || '1');
  if (seq !== null) {
    const token = Number(seq);
    const partition = String(token % partitions);
    state.seen[partition] = Math.max(state.seen[partition] || 0, token);
    save('stormproof.seen', state.seen);
  }
  const at = response.headers.get('Stormproof-At');
  if (at !== null) {
    state.lastAt = Math.max(state.lastAt, Number(at));
    save('stormproof.lastAt', state.lastAt);
  }
}

const newKey = () =>
  (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`).replaceAll('-', '');

/** The min_seq query of every request: read at least what this person wrote. */
export function minSeqQuery() {
  const tokens = Object.values(state.seen).sort((a, b) => a - b);
  return tokens.map((t) => `min_seq=${t}`).join('&');
}

function withQuery(path, params) {
  const parts = [];
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== '') parts.push(`${name}=${encodeURIComponent(value)}`);
  }
  const seq = minSeqQuery();
  if (seq) parts.push(seq);
  if (!parts.length) return path;
  return path + (path.includes('?') ? '&' : '?') + parts.join('&');
}

async function errorOf(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    /* not JSON */
  }
  return new ApiError(response.status, body.code || `http_${response.status}`, body.message || response.statusText);
}

// a 401 with one of these: the session is over, the person is asked to log in again
const SIGNED_OUT = new Set(['invalid_token', 'token_expired', 'session_ended', 'account_deleted']);

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Send a request to the first region that answers it. Resolves with the
 * Response (2xx), rejects with ApiError (4xx: the request is wrong) or
 * ApiError 'regions_unavailable' (no region answered before the deadline).
 */
export async function request(method, path, options = {}) {
  const { json, body, params, key, keepalive = false, headers: extra = {}, hedgeMs = HEDGE_MS, timeoutMs = ATTEMPT_MS, deadline = DEADLINE_MS } = options;
  const write = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method);
  const headers = {};
  if (state.session) headers.Authorization = `Bearer ${state.session.token}`;
  if (write) {
    headers['Idempotency-Key'] = key || newKey();
    headers['Stormproof-Write-At'] = String(Math.max(Date.now(), state.lastAt + 1));
    if (state.lastAt) headers['Stormproof-After'] = String(state.lastAt);
  }
  let payload = body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(json);
  }
  Object.assign(headers, extra);
  const target = withQuery(path, params);
  const started = performance.now();
  const before = state.preferred;
  const answers = [];

  const attempt = (index, controller) =>
    new Promise((resolve) => {
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      fetch(state.regions[index].url + target, { method, headers, body: payload, signal: controller.signal, mode: 'cors', keepalive })
        .then((response) => {
          if (response.status >= 500) {
            answers.push(response.status);
            state.failedAt.set(index, performance.now());
            response.body?.cancel();
            resolve(null);
          } else resolve(response);
        })
        .catch(() => {
          state.failedAt.set(index, performance.now());
          resolve(null);
        })
        .finally(() => clearTimeout(timer));
    });

  while (performance.now() - started < deadline) {
    const answered = await firstAnswer(attempt, hedgeMs);
    if (answered) {
      const [index, response] = answered;
      state.preferred = index;
      // moved because the region before failed this very request: say so
      if (index !== before && (state.failedAt.get(before) ?? -1) >= started) {
        emit({ type: 'failover', from: state.regions[before].name, to: state.regions[index].name });
      }
      if (response.status >= 400) {
        const error = await errorOf(response);
        if (response.status === 401 && state.session && SIGNED_OUT.has(error.code)) setSession(null);
        throw error;
      }
      remember(response);
      return response;
    }
    await pause(50); // every region failed this round: breathe, then retry
  }
  throw new ApiError(503, 'regions_unavailable', 'No region answered in time. Check your connection; nothing you did was lost.');
}

// Ask the first region; if it fails fast, the next; once hedgeMs passes with
// no answer, all the others at once. The first answer wins; the rest are
// aborted and asked last for a while.
async function firstAnswer(attempt, hedgeMs) {
  const waiting = order();
  const pending = new Map(); // index -> {promise, controller}
  const start = (index) => {
    const controller = new AbortController();
    const promise = attempt(index, controller).then((response) => ({ index, response }));
    pending.set(index, { promise, controller });
  };
  try {
    while (waiting.length || pending.size) {
      if (!pending.size) start(waiting.shift());
      const racers = [...pending.values()].map((p) => p.promise);
      let timer;
      const hedge = waiting.length ? new Promise((resolve) => (timer = setTimeout(() => resolve('hedge'), hedgeMs))) : null;
      const done = await Promise.race(hedge ? [...racers, hedge] : racers);
      clearTimeout(timer);
      if (done === 'hedge') {
        while (waiting.length) start(waiting.shift());
        continue;
      }
      pending.delete(done.index);
      if (done.response) return [done.index, done.response];
    }
    return null;
  } finally {
    for (const [index, { controller }] of pending) {
      state.failedAt.set(index, performance.now());
      controller.abort();
    }
  }
}

export const get = async (path, params) => (await request('GET', path, { params })).json();
export const post = async (path, json, options = {}) => (await request('POST', path, { json, ...options })).json();
export const del = async (path, options = {}) => (await request('DELETE', path, options)).json();

function setSession(value) {
  state.session = value;
  save('stormproof.session', value);
  emit({ type: 'session' });
}

const slow = { hedgeMs: PASSWORD_WORK_MS, timeoutMs: PASSWORD_WORK_MS * 2 };

export async function signUp(username, password) {
  await post('/v1/accounts', { username, password }, slow);
  await logIn(username, password);
}

export async function logIn(username, password) {
  const answer = await post('/v1/sessions', { username, password }, slow);
  setSession({ token: answer.token, username, user_id: answer.user_id });
}

export async function logOut() {
  try {
    await del('/v1/sessions');
  } finally {
    setSession(null);
  }
}

/** An absolute URL of a path on the region serving us now (video bytes, thumbnails). */
export const mediaUrl = (path) => region().url + path;
const regionOf = (url) => state.regions.findIndex((r) => url === r.url || url.startsWith(r.url + '/'));
/**
 * `url` (a path on any region) on the region to ask now: the one that
 * answered last, unless it failed since. Video bytes, playlists and
 * segments are the same on every region (HLS files are named by their hash).
 */
export function mediaHere(url) {
  const at = regionOf(url);
  if (at < 0) return url;
  return state.regions[order()[0]].url + url.slice(state.regions[at].url.length);
}
/** A media request to `url` failed: its region is asked last for a while. */
export function mediaFailed(url) {
  const at = regionOf(url);
  if (at >= 0) state.failedAt.set(at, performance.now());
}
/** The same path on the next region, after `url` failed to load. */
export function nextMediaUrl(url) {
  const at = regionOf(url);
  if (at >= 0) state.failedAt.set(at, performance.now());
  const next = order().find((i) => i !== at);
  if (next === undefined || at < 0) return null;
  return state.regions[next].url + url.slice(state.regions[at].url.length);
}

/** Where tus-js-client creates an upload: the region serving us now. */
export const uploadEndpoint = () => region().url + '/v1/uploads';
export const authHeaders = () => (state.session ? { Authorization: `Bearer ${state.session.token}` } : {});

/**
 * tus-js-client's HTTP stack, failing over: each request (a creation, a
 * HEAD, a PATCH) goes to the region to ask now — the one that answered
 * last, unless it failed since — with min_seq, whatever region the upload's
 * URL names (an upload's offset is in the log: any region resumes it,
 * ADR 027). A region that fails a request is cooled down, so tus's retry
 * asks the next.
 */
export function failoverHttpStack(inner) {
  return {
    getName: () => 'stormproof-failover',
    createRequest(method, url) {
      const from = state.regions.findIndex((r) => url.startsWith(r.url));
      const to = from >= 0 ? order()[0] : -1;
      let target = to >= 0 ? state.regions[to].url + url.slice(state.regions[from].url.length) : url;
      target = target.replace(/[?&]min_seq=[^&]*/g, '');
      const seq = minSeqQuery();
      if (seq) target += (target.includes('?') ? '&' : '?') + seq;
      const request = inner.createRequest(method, target);
      const failed = () => to >= 0 && state.failedAt.set(to, performance.now());
      return {
        getMethod: () => request.getMethod(),
        getURL: () => request.getURL(),
        setHeader: (name, value) => request.setHeader(name, value),
        getHeader: (name) => request.getHeader(name),
        setProgressHandler: (handler) => request.setProgressHandler(handler),
        abort: () => request.abort(),
        getUnderlyingObject: () => request.getUnderlyingObject(),
        send: (body) =>
          request.send(body).then(
            (response) => {
              if (response.getStatus() >= 500) failed();
              return response;
            },
            (error) => {
              failed();
              throw error;
            },
          ),
      };
    },
  };
}

/** After a tus upload finished: its video's write is to be read back. */
export const rememberResponse = remember;

/**
 * Follow an SSE stream (GET path) to the end of time: onEvent({id, event,
 * data}) for each event. It reconnects by itself, to the next region when
 * one fails, with Last-Event-ID. Returns a function that stops it.
 */
export function stream(path, onEvent, onState = () => {}) {
  let stopped = false;
  let lastEventId = null;
  let controller = null;
  let failures = 0;
  const run = async () => {
    while (!stopped) {
      const index = order()[0];
      const mine = new AbortController();
      controller = mine;
      const headers = { Accept: 'text/event-stream' };
      if (state.session) headers.Authorization = `Bearer ${state.session.token}`;
      if (lastEventId) headers['Last-Event-ID'] = lastEventId;
      try {
        const response = await fetch(state.regions[index].url + path, { headers, signal: mine.signal, mode: 'cors' });
        if (response.status >= 400 && response.status < 500) {
          onState('refused');
          return;
        }
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        onState('live');
        failures = 0;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        // a region that froze keeps the connection and sends nothing: the
        // stream's keepalive comes every 15 s, so silence past that is a failure
        let watchdog = setTimeout(() => mine.abort(), SILENCE_MS);
        for (;;) {
          const { value, done } = await reader.read();
          clearTimeout(watchdog);
          watchdog = setTimeout(() => mine.abort(), SILENCE_MS);
          if (done) {
            clearTimeout(watchdog);
            break;
          }
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = { id: null, event: 'message', data: '' };
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) continue;
              const colon = line.indexOf(':');
              const field = colon < 0 ? line : line.slice(0, colon);
              const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
              if (field === 'id') event.id = text;
              else if (field === 'event') event.event = text;
              else if (field === 'data') event.data += (event.data ? '\n' : '') + text;
            }
            if (event.id) lastEventId = event.id;
            if (event.data) onEvent(event);
          }
        }
      } catch {
        if (stopped) return;
        state.failedAt.set(index, performance.now());
      }
      if (stopped) return;
      onState('reconnecting');
      failures += 1;
      await pause(Math.min(200 * failures, 3000));
    }
  };
  run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}

/** Said in words: the API's error codes, for people. */
const WORDS = {
  invalid_video: 'That file is not a video we can play. Pick an MP4, MOV, WebM or MKV video.',
  payload_too_large: 'That file is too large.',
  file_too_large: 'That file is too large.',
  invalid_username: 'A username is 3 to 30 letters, digits, "_" or ".".',
  weak_password: 'Pick a longer password.',
  wrong_password: 'Wrong password.',
  empty_text: 'Write something first.',
  text_too_long: 'That is too long.',
  caption_too_long: 'That caption is too long.',
  cannot_message_self: 'You cannot write to yourself.',
  cannot_follow_self: 'You cannot follow yourself.',
  media_busy: 'The region is busy checking other videos. Try again in a moment.',
  video_too_long: 'That video is too long.',
  invalid_credentials: 'Wrong username or password.',
  username_taken: 'That username is taken. Try another one.',
  rate_limited: 'Too many tries. Wait a little and try again.',
  user_not_found: 'There is nobody with that username.',
  blocked: 'You cannot write to or follow this person.',
  unauthorized: 'Log in first.',
  regions_unavailable: 'No region answered in time. Check your connection; nothing you did was lost.',
  no_quorum: 'Too many regions are down to save anything right now; reading still works.',
};
export function inWords(error) {
  if (error instanceof ApiError) return WORDS[error.code] || error.message || error.code;
  return String(error?.message || error);
}
