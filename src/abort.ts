import { AbortedError } from './errors.ts';

/**
 * Reacting to an AbortSignal without the classic race: `addEventListener`
 * never fires for a signal that is already aborted, so a step that starts
 * after Ctrl-C would run to its end. `onAbort` runs the reaction at once in
 * that case. It returns the function that unregisters it.
 */
export function onAbort(signal: AbortSignal | undefined, reaction: () => void): () => void {
  if (!signal) return () => undefined;
  if (signal.aborted) {
    reaction();
    return () => undefined;
  }
  signal.addEventListener('abort', reaction, { once: true });
  return () => signal.removeEventListener('abort', reaction);
}

/** Throws AbortedError when the signal has fired; call between steps of long work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError(typeof signal.reason === 'string' ? signal.reason : undefined);
}
