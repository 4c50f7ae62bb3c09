// The app's start: learn the regions, draw the app, install the service worker.
import { render } from 'preact';
import { loadRegions } from './api.js';
import { App } from './components/App.jsx';
import './style.css';

render(<App />, document.getElementById('app'));
loadRegions();
if ('serviceWorker' in navigator && location.protocol !== 'file:') {
  navigator.serviceWorker.register('/sw.js').catch(() => {
    /* the app works without it: only offline start-up is lost */
  });
}
