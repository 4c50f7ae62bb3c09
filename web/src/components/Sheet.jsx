// A bottom sheet (a dialog): focus moves into it, Escape or Close closes it.
import { useLayoutEffect, useRef } from 'preact/hooks';

export function Sheet({ title, onClose, children }) {
  const box = useRef(null);
  const close = useRef(onClose);
  close.current = onClose;
  // A layout effect runs before the browser paints the sheet: Escape works
  // from the moment the dialog can be seen (an effect would run after the
  // paint, so a key pressed right away was lost).
  useLayoutEffect(() => {
    const before = document.activeElement;
    box.current?.querySelector('input, textarea, button')?.focus();
    const onKey = (event) => event.key === 'Escape' && close.current();
    addEventListener('keydown', onKey);
    return () => {
      removeEventListener('keydown', onKey);
      before?.focus?.();
    };
  }, []);
  return (
    <div class="sheet-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="sheet" role="dialog" aria-modal="true" aria-label={title} ref={box}>
        <header class="sheet-head">
          <h2>{title}</h2>
          <button type="button" class="plain" onClick={onClose}>
            Close
          </button>
        </header>
        <div class="sheet-body">{children}</div>
      </div>
    </div>
  );
}
