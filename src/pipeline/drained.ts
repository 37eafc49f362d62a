/**
 * Waits until a writable stream takes more after `write` returned false,
 * or fails when it (or another stream whose end means it will never drain,
 * such as the tar pack behind a tar entry) is closed, or the run stops:
 * a plain 'drain' wait would hang forever in those cases.
 */
export function drained(stream: NodeJS.EventEmitter, signal: AbortSignal, options: { alsoClosing?: NodeJS.EventEmitter[]; closedMessage: string }): Promise<void> {
  const closers = [stream, ...(options.alsoClosing ?? [])];
  return new Promise<void>((resolve, reject) => {
    const done = () => {
      stream.off('drain', onDrain);
      for (const closer of closers) closer.off('close', onClose);
      signal.removeEventListener('abort', onClose);
    };
    const onDrain = () => {
      done();
      resolve();
    };
    const onClose = () => {
      done();
      reject(new Error(options.closedMessage));
    };
    stream.on('drain', onDrain);
    for (const closer of closers) closer.on('close', onClose);
    signal.addEventListener('abort', onClose);
    if (signal.aborted) onClose();
  });
}
