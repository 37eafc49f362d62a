import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Demultiplexer, demultiplex } from '../../../src/docker/docker-exec.ts';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('Demultiplexer', () => {
  it('passes stdout on and stderr aside, whatever the chunk boundaries', async () => {
    const whole = Buffer.concat([frame(1, 'PGDMP'), frame(2, 'pg_dump: warning'), frame(1, '-archive-bytes')]);
    // Split at every byte: headers and payloads arrive in pieces.
    const source = new PassThrough();
    let stderr = '';
    const out: Buffer[] = [];
    const done = pipeline(
      source,
      new Demultiplexer((chunk) => (stderr += chunk.toString())),
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          out.push(chunk);
          callback();
        },
      }),
    );
    for (let index = 0; index < whole.length; index++) source.write(whole.subarray(index, index + 1));
    source.end();
    await done;
    expect(Buffer.concat(out).toString()).toBe('PGDMP-archive-bytes');
    expect(stderr).toBe('pg_dump: warning');
  });

  it('fails when the stream ends inside a frame, so a cut-off dump is never taken for a whole one', async () => {
    const cut = frame(1, 'PGDMP-archive').subarray(0, 10);
    const source = new PassThrough();
    source.end(cut);
    await expect(pipeline(source, new Demultiplexer(() => undefined), new PassThrough().resume())).rejects.toThrow(/ended inside a frame/);
  });

  it('reads a whole log buffer in order', () => {
    expect(demultiplex(Buffer.concat([frame(2, 'a\n'), frame(1, 'b\n')])).toString()).toBe('a\nb\n');
  });
});
