// What a person should know about the platform right now: an open incident,
// or that the app itself moved to another region (and lost nothing).
import { useEffect, useState } from 'preact/hooks';
import { get, subscribe } from '../api.js';

const INCIDENTS_EVERY_MS = 60000;

export function Banners() {
  const [failover, setFailover] = useState(null);
  const [incidents, setIncidents] = useState([]);
  useEffect(() => subscribe((event) => event.type === 'failover' && setFailover(event)), []);
  useEffect(() => {
    let live = true;
    const look = () =>
      get('/v1/incidents', { open: 'true', limit: 5 }).then(
        (page) => live && setIncidents(page.items || []),
        () => {},
      );
    look();
    const timer = setInterval(look, INCIDENTS_EVERY_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);
  return (
    <div class="banners" aria-live="polite">
      {failover ? (
        <div class="banner banner-failover" role="status">
          {failover.from} is down; you are now served from {failover.to} — nothing was lost.
          <button type="button" class="plain" onClick={() => setFailover(null)}>
            Dismiss
          </button>
        </div>
      ) : null}
      {incidents.map((incident) => (
        <div class="banner banner-incident" role="status">
          {incident.title} — <a href="/status">see the status page</a>
        </div>
      ))}
    </div>
  );
}
