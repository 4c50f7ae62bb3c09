// Upload a video: pick or drop a file, a caption, a real progress bar. It is
// resumable (tus): a closed tab or a lost connection resumes where it stopped.
import { useRef, useState } from 'preact/hooks';
import { DefaultHttpStack, Upload as TusUpload } from 'tus-js-client';
import { ApiError, authHeaders, failoverHttpStack, inWords, rememberResponse, session, uploadEndpoint } from '../api.js';
import { Link } from '../router.jsx';

const CHUNK_BYTES = 4 * 1024 * 1024;

/** What a failed tus request said, as the API's error. */
function apiErrorOf(error) {
  const response = error?.originalResponse;
  if (!response) return error;
  try {
    const body = JSON.parse(response.getBody() || '{}');
    return new ApiError(response.getStatus(), body.code || `http_${response.getStatus()}`, body.message || '');
  } catch {
    return new ApiError(response.getStatus(), `http_${response.getStatus()}`, '');
  }
}

export function Upload() {
  const [file, setFile] = useState(null);
  const [caption, setCaption] = useState('');
  const [progress, setProgress] = useState(null); // null: not started; 0..100
  const [error, setError] = useState('');
  const [done, setDone] = useState(null); // the new video's id
  const [over, setOver] = useState(false);
  const running = useRef(null);

  const pick = (picked) => {
    setFile(picked || null);
    setError('');
    setDone(null);
    setProgress(null);
  };

  const start = async (event) => {
    event.preventDefault();
    if (!file) {
      setError('Pick a video first.');
      return;
    }
    setError('');
    setProgress(0);
    const me = session();
    const upload = new TusUpload(file, {
      endpoint: uploadEndpoint(),
      headers: authHeaders(),
      httpStack: failoverHttpStack(new DefaultHttpStack()),
      chunkSize: CHUNK_BYTES,
      retryDelays: [0, 300, 1000, 2000, 4000, 8000],
      metadata: { filename: file.name, caption },
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      fingerprint: async (f) => ['stormproof', me?.username, f.name, f.size, f.lastModified, caption].join('/'),
      onProgress: (sent, total) => setProgress(total ? Math.floor((sent / total) * 100) : 0),
      onSuccess: ({ lastResponse }) => {
        rememberResponse({ headers: { get: (name) => lastResponse.getHeader(name) ?? null } });
        setProgress(100);
        setDone(lastResponse.getHeader('Stormproof-Video') || '');
        running.current = null;
      },
      onError: (e) => {
        setError(inWords(apiErrorOf(e)));
        setProgress(null);
        running.current = null;
      },
    });
    running.current = upload;
    const previous = await upload.findPreviousUploads();
    if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
    upload.start();
  };

  const onDrop = (event) => {
    event.preventDefault();
    setOver(false);
    pick(event.dataTransfer?.files?.[0]);
  };

  const busy = progress !== null && progress < 100 && !error && done === null;
  return (
    <main class="page narrow">
      <h1>Upload</h1>
      <form class="stack" onSubmit={start}>
        <label
          class={`drop${over ? ' over' : ''}`}
          onDragOver={(e) => {
            e.preventDefault();
            setOver(true);
          }}
          onDragLeave={() => setOver(false)}
          onDrop={onDrop}
        >
          <span>{file ? file.name : 'Pick a video or drop it here'}</span>
          <span class="muted small">MP4, MOV, WebM or MKV, up to 10 minutes</span>
          <input type="file" accept="video/*" aria-label="Video file" onChange={(e) => pick(e.currentTarget.files?.[0])} />
        </label>
        <label class="field">
          Caption
          <textarea rows="2" maxLength={2200} value={caption} onInput={(e) => setCaption(e.currentTarget.value)} />
        </label>
        {progress !== null ? (
          <div class="progress">
            <progress aria-label="Upload progress" max="100" value={progress} />
            <span aria-hidden="true">{progress} %</span>
          </div>
        ) : null}
        {error ? (
          <p role="alert" class="error">
            {error}
          </p>
        ) : null}
        {done !== null ? (
          <p role="status">
            Uploaded. {done ? <Link href={`/v/${encodeURIComponent(done)}`}>Watch it</Link> : null}{' '}
            or see it on <Link href={`/@${session()?.username}`}>your profile</Link>.
          </p>
        ) : null}
        <button type="submit" disabled={busy}>
          Upload
        </button>
      </form>
    </main>
  );
}
