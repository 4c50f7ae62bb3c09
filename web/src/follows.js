// Whom this person follows, as far as the app has seen (a profile says
// followed_by_you); following or unfollowing updates it everywhere.
import { del, get, post } from './api.js';

const known = new Map(); // username -> boolean
const listeners = new Set();

export const followsKnown = (username) => known.get(username);

export async function lookUp(username) {
  if (known.has(username)) return known.get(username);
  const profile = await get(`/v1/accounts/${encodeURIComponent(username)}`);
  set(username, Boolean(profile.followed_by_you));
  return known.get(username);
}

export async function setFollow(username, on) {
  if (on) await post(`/v1/follows/${encodeURIComponent(username)}`);
  else await del(`/v1/follows/${encodeURIComponent(username)}`);
  set(username, on);
}

function set(username, on) {
  known.set(username, on);
  listeners.forEach((l) => l(username, on));
}

export function onFollowChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
