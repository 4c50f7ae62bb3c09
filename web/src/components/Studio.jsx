// The creator studio: what /v1/studio offers for your videos, over the last
// 28 days: totals, views by day, traffic sources, earnings and the SLA, each
// video's retention.
import { useState } from 'preact/hooks';
import { get, inWords, mediaUrl, request, session } from '../api.js';
import { count, useLoad } from '../hooks.js';
import { Bars, Line } from './Chart.jsx';
import { Earnings } from './Earnings.jsx';

const seconds = (ms) => `${Math.round((ms || 0) / 1000)} s`;
const percent = (x) => (x === null || x === undefined ? '—' : `${Math.round(x * 100)} %`);

function Totals({ totals }) {
  const rows = [
    ['Views', count(totals.views)],
    ['Qualified views', count(totals.qualified_views)],
    ['Unique viewers', count(totals.unique_viewers)],
    ['Watch time', seconds(totals.watched_ms)],
    ['Average watch', seconds(totals.average_watched_ms)],
    ['Watched in full', percent(totals.watched_in_full_rate)],
    ['Likes', count(totals.likes)],
    ['Comments', count(totals.comments)],
    ['Shares', count(totals.shares)],
    ['New followers', totals.new_followers === null ? '—' : count(totals.new_followers)],
  ];
  return (
    <dl class="totals">
      {rows.map(([name, value]) => (
        <div>
          <dt>{name}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function Sources({ sources }) {
  const names = { for_you: 'For You', following: 'Following', profile: 'Profile', shared_link: 'Shared links', unknown: 'Elsewhere' };
  const total = Object.values(sources).reduce((a, b) => a + b, 0) || 1;
  return (
    <table class="sources">
      <caption>Where views came from</caption>
      <tbody>
        {Object.entries(sources).map(([k, v]) => (
          <tr>
            <th scope="row">{names[k] || k}</th>
            <td>{count(v)}</td>
            <td class="bar-cell" aria-hidden="true">
              <span style={{ width: `${(v / total) * 100}%` }} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function VideoReport({ id }) {
  const [report, error] = useLoad(() => get(`/v1/studio/videos/${encodeURIComponent(id)}`), [id]);
  if (error) return <p role="alert">{inWords(error)}</p>;
  if (!report) return <p>Loading…</p>;
  return (
    <section class="stack">
      <Totals totals={report.totals} />
      {report.retention ? <Line title="Retention: the share of viewers still watching" points={report.retention} /> : <p class="muted">No retention yet: nobody watched it.</p>}
    </section>
  );
}

export function Studio() {
  const me = session();
  const [overview, error] = useLoad(() => get('/v1/studio/overview'), []);
  const [videos] = useLoad(() => get(`/v1/accounts/${encodeURIComponent(me.username)}/videos`, { limit: 50 }), [me.username]);
  const [chosen, setChosen] = useState(null);
  if (error) {
    return (
      <main class="page">
        <p role="alert">{inWords(error)}</p>
      </main>
    );
  }
  if (!overview) return <main class="page">Loading…</main>;
  return (
    <main class="page studio">
      <h1>Studio</h1>
      <p class="muted">The last 28 days, by day ({overview.time_zone}). <a href="/v1/studio/export.csv" onClick={(e) => e.preventDefault() || download()}>Download as CSV</a></p>
      <Totals totals={overview.totals} />
      <div class="charts">
        <Bars title="Views by day" days={overview.days} value={(d) => d.views} />
        <Bars title="Watch time by day" days={overview.days} value={(d) => d.watched_ms} format={seconds} />
      </div>
      <Sources sources={overview.totals.sources} />
      <Earnings />
      <h2>Your videos</h2>
      <ul class="studio-videos">
        {(videos || []).map((v) => (
          <li>
            <button type="button" class="video-row" aria-expanded={chosen === v.id ? 'true' : 'false'} onClick={() => setChosen(chosen === v.id ? null : v.id)}>
              <img src={mediaUrl(v.thumbnail_url)} alt="" />
              <span>{v.caption || 'No caption'}</span>
              <span class="muted">{count(v.counts.views)} views</span>
            </button>
            {chosen === v.id ? <VideoReport id={v.id} /> : null}
          </li>
        ))}
      </ul>
    </main>
  );
}

// The CSV needs the Authorization header: fetched, then saved.
async function download() {
  const answer = await request('GET', '/v1/studio/export.csv');
  const url = URL.createObjectURL(await answer.blob());
  const a = Object.assign(document.createElement('a'), { href: url, download: 'studio.csv' });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
