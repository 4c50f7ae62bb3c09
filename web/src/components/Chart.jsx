// Small SVG charts: bars by day, a line for retention. Each has a text
// alternative (its figures) for screen readers.
export function Bars({ title, days, value, format = String }) {
  const values = days.map(value);
  const most = Math.max(0, ...values);
  const top = Math.max(1, most);
  const width = 100 / Math.max(1, values.length);
  const summary = `${title}: ${days.map((d, i) => `${d.date} ${format(values[i])}`).join(', ')}`;
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox="0 0 100 40" preserveAspectRatio="none" role="img" aria-label={summary}>
        {values.map((v, i) => (
          <rect x={i * width + width * 0.1} width={width * 0.8} y={40 - (v / top) * 38} height={(v / top) * 38} />
        ))}
      </svg>
      <div class="axis muted small" aria-hidden="true">
        <span>{days[0]?.date}</span>
        <span>max {format(most)}</span>
        <span>{days[days.length - 1]?.date}</span>
      </div>
    </figure>
  );
}

export function Line({ title, points }) {
  const n = Math.max(1, points.length - 1);
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${(i / n) * 100},${40 - p * 38}`).join(' ');
  const summary = `${title}: ${points.map((p, i) => `${Math.round((i / n) * 100)} % in, ${Math.round(p * 100)} % still watching`).join('; ')}`;
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox="0 0 100 40" preserveAspectRatio="none" role="img" aria-label={summary}>
        <path d={path} fill="none" stroke-width="1.2" vector-effect="non-scaling-stroke" />
      </svg>
      <div class="axis muted small" aria-hidden="true">
        <span>start</span>
        <span>end</span>
      </div>
    </figure>
  );
}
