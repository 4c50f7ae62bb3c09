// The inbox: conversations with unread counts, one conversation at a time,
// new messages arriving live (the SSE stream, reconnecting by itself), send.
import { useEffect, useRef, useState } from 'preact/hooks';
import { get, inWords, post, session, stream } from '../api.js';
import { navigate } from '../router.jsx';

const readKey = (other) => `stormproof.read.${session()?.username}.${other}`;
const readCount = (other) => Number(localStorage.getItem(readKey(other)) || 0);
const markRead = (other, n) => localStorage.setItem(readKey(other), String(n));

/** Conversations keyed by the other person, from the list and live messages. */
function merge(conversations, message, me) {
  const other = message.sender === me ? message.recipient : message.sender;
  const found = conversations.find((c) => c.with_user === other);
  const rest = conversations.filter((c) => c.with_user !== other);
  const known = found?.ids?.has(message.id);
  const ids = new Set(found?.ids || []);
  ids.add(message.id);
  const updated = { ...(found || { with_user: other, messages: 0 }), ids, last: message, messages: (found?.messages || 0) + (known ? 0 : 1) };
  return [updated, ...rest];
}

export function Inbox() {
  const me = session().username;
  const params = new URLSearchParams(location.search);
  const [conversations, setConversations] = useState(null);
  const [open, setOpen] = useState(params.get('to'));
  const [messages, setMessages] = useState([]);
  const [live, setLive] = useState('connecting');
  const [error, setError] = useState('');
  const [composing, setComposing] = useState(false);
  const openRef = useRef(open);
  openRef.current = open;

  useEffect(() => {
    get('/v1/conversations').then(setConversations, (e) => setError(inWords(e)));
  }, []);

  // Live: every message sent or received arrives here, once (a failover may
  // repeat one: its id tells).
  useEffect(
    () =>
      stream(
        '/v1/messages/stream',
        ({ event, data }) => {
          if (event !== 'message') return;
          const message = JSON.parse(data);
          setConversations((list) => merge(list || [], message, me));
          const other = message.sender === me ? message.recipient : message.sender;
          if (other === openRef.current) {
            setMessages((list) => (list.some((m) => m.id === message.id) ? list : [...list, message]));
          }
        },
        setLive,
      ),
    [],
  );

  useEffect(() => {
    if (!open) return;
    setMessages([]);
    get(`/v1/conversations/${encodeURIComponent(open)}/messages`, { limit: 200 }).then(
      (found) => setMessages((live) => [...found, ...live.filter((m) => !found.some((f) => f.id === m.id))]),
      (e) => (e.code === 'conversation_not_found' || e.code === 'user_not_found' ? setError(inWords(e)) : null),
    );
  }, [open]);

  // What is shown is read.
  useEffect(() => {
    if (open) markRead(open, Math.max(readCount(open), messages.length));
  }, [open, messages.length]);

  const choose = (other) => {
    setOpen(other);
    setComposing(false);
    setError('');
    navigate(`/inbox?to=${encodeURIComponent(other)}`, { replace: true });
  };

  return (
    <main class="page inbox">
      <section class="conversations" aria-label="Conversations">
        <header class="row spread">
          <h1>Inbox</h1>
          <span class={`live ${live}`} role="status">
            {live === 'live' ? 'Live' : live === 'refused' ? 'Not live' : 'Connecting…'}
          </span>
        </header>
        <button type="button" onClick={() => setComposing(true)}>
          New message
        </button>
        {composing ? <NewMessage onChosen={choose} /> : null}
        {conversations === null ? <p>Loading…</p> : null}
        {conversations && !conversations.length ? <p class="muted">No conversations yet.</p> : null}
        <ul class="list">
          {(conversations || []).map((c) => {
            const unread = c.with_user === open ? 0 : Math.max(0, c.messages - readCount(c.with_user));
            return (
              <li key={c.with_user}>
                <button type="button" class="conversation" aria-current={c.with_user === open ? 'true' : undefined} onClick={() => choose(c.with_user)}>
                  <strong>@{c.with_user}</strong>
                  {unread ? <span class="badge" aria-label={`${unread} unread`}>{unread}</span> : null}
                  <span class="muted">{c.last?.text}</span>
                </button>
              </li>
            );
          })}
        </ul>
      </section>
      {open ? (
        <Conversation other={open} messages={messages} me={me} onError={setError} />
      ) : (
        <p class="muted">Pick a conversation, or start one with New message.</p>
      )}
      {error ? (
        <p role="alert" class="error">
          {error}
        </p>
      ) : null}
    </main>
  );
}

function NewMessage({ onChosen }) {
  const [to, setTo] = useState('');
  const [error, setError] = useState('');
  const go = async (event) => {
    event.preventDefault();
    const name = to.trim().replace(/^@/, '');
    if (!name) {
      setError('Write whom to.');
      return;
    }
    try {
      await get(`/v1/accounts/${encodeURIComponent(name)}`);
      onChosen(name.toLowerCase());
    } catch (e) {
      setError(inWords(e));
    }
  };
  return (
    <form class="row" onSubmit={go}>
      <label class="field grow">
        To
        <input value={to} autoCapitalize="none" onInput={(e) => setTo(e.currentTarget.value)} />
      </label>
      <button type="submit">Start</button>
      {error ? <p role="alert">{error}</p> : null}
    </form>
  );
}

function Conversation({ other, messages, me, onError }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [said, setSaid] = useState('');
  const list = useRef(null);
  useEffect(() => {
    list.current?.lastElementChild?.scrollIntoView({ block: 'end' });
  }, [messages.length]);
  const send = async (event) => {
    event.preventDefault();
    if (!text.trim()) {
      setSaid('Write a message first.');
      return;
    }
    setBusy(true);
    setSaid('');
    try {
      await post('/v1/messages', { to: other, text }); // one key, reused on every retry
      setText('');
      onError('');
    } catch (e) {
      setSaid(inWords(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="conversation-view" aria-label={`Conversation with ${other}`}>
      <h2>@{other}</h2>
      <ol class="messages" ref={list} aria-live="polite">
        {messages.map((m) => (
          <li key={m.id} class={m.sender === me ? 'mine' : 'theirs'}>
            <span class="visually-hidden">{m.sender === me ? 'You' : m.sender}: </span>
            {m.text}
          </li>
        ))}
      </ol>
      <form class="row" onSubmit={send}>
        <label class="field grow">
          Message
          <input value={text} maxLength={4000} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={busy}>
          Send
        </button>
      </form>
      {said ? (
        <p role="alert" class="error">
          {said}
        </p>
      ) : null}
    </section>
  );
}
