// Earnings and the creator SLA (/v1/studio/earnings, /v1/studio/sla): the
// balance, this month so far, the credit an outage earns, and opting in.
import { useState } from 'preact/hooks';
import { get, inWords, request } from '../api.js';
import { useLoad } from '../hooks.js';

const money = (micros, currency) => `${(micros / 1e6).toFixed(2)} ${currency}`;
const SLIS = { upload: 'Uploads', distribution: 'Playback and feeds' };

export function Earnings() {
  const [earnings, error, reload] = useLoad(() => get('/v1/studio/earnings'), []);
  const [sla] = useLoad(() => get('/v1/studio/sla'), []);
  const [said, setSaid] = useState('');
  if (error) return <p role="alert">{inWords(error)}</p>;
  if (!earnings) return <p>Loading…</p>;
  const c = earnings.currency;
  const enroll = async () => {
    try {
      await request('PUT', '/v1/studio/earnings/enrollment', { json: { enrolled: !earnings.enrolled } });
      setSaid(earnings.enrolled ? 'You no longer earn from views.' : 'Your qualified views earn from now on.');
      reload();
    } catch (e) {
      setSaid(inWords(e));
    }
  };
  return (
    <section class="stack" aria-label="Earnings">
      <h2>Earnings</h2>
      <dl class="totals">
        <div>
          <dt>Balance</dt>
          <dd>{money(earnings.balance_micros, c)}</dd>
        </div>
        <div>
          <dt>Earned in {earnings.period}</dt>
          <dd>{money(earnings.period_earned_micros, c)}</dd>
        </div>
        <div>
          <dt>SLA credit so far</dt>
          <dd>{money(earnings.provisional_credit_micros, c)}</dd>
        </div>
        <div>
          <dt>Per 1,000 qualified views</dt>
          <dd>{money(earnings.rate_micros_per_1000, c)}</dd>
        </div>
      </dl>
      <p class="row">
        <button type="button" class="secondary" onClick={enroll}>
          {earnings.enrolled ? 'Stop earning' : 'Start earning'}
        </button>
        <span class="muted small">Days and months in {earnings.time_zone}.</span>
      </p>
      <p role="status">{said}</p>
      {sla ? (
        <table class="sources">
          <caption>Service level in {sla.period}</caption>
          <tbody>
            {sla.lines.map((line) => (
              <tr>
                <th scope="row">{SLIS[line.sli] || line.sli}</th>
                <td>{(100 * (1 - line.minutes_down / line.minutes)).toFixed(3)} % up</td>
                <td>{line.credit_percent ? `${line.credit_percent} % credit` : 'no credit'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {sla?.incidents?.length ? (
        <ul class="list">
          {sla.incidents.map((i) => (
            <li>
              {i.title}
              {i.lost_qualified_views !== null ? ` — about ${i.lost_qualified_views} qualified views lost` : ''}
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}
