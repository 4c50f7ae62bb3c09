// "Why this video": the reasons For You gave for it (?explain=1).
import { Sheet } from './Sheet.jsx';

const SOURCES = {
  collaborative: 'People who liked what you watch liked this',
  followed: 'From someone you follow',
  trending: 'Trending now',
  popular: 'Popular',
  fresh: 'New, and getting a first audience',
};

export function WhySheet({ explain, onClose }) {
  return (
    <Sheet title="Why this video" onClose={onClose}>
      <ul>
        {explain.sources.map((s) => (
          <li>{SOURCES[s] || s}</li>
        ))}
      </ul>
      {explain.because_of.length ? <p>Because you watched {explain.because_of.length} video{explain.because_of.length > 1 ? 's' : ''} like it.</p> : null}
      <p class="muted">Score {explain.score.toFixed(3)}</p>
    </Sheet>
  );
}
