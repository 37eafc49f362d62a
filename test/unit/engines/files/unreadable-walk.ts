/**
 * Backs up the tree in argv[2] with onUnreadable argv[3], discarding the
 * archive, and prints what was indexed and warned as JSON, or the error.
 * Run by files-backup.test.ts as an unprivileged user, since root reads anything.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DrillRunContext } from '../../../../src/drill/run-context.ts';
import { silentLogger } from '../../../../src/logger.ts';
import { backupFiles } from '../../../../src/engines/files/files-backup.ts';
import type { FilesMetadata } from '../../../../src/engines/files/files-engine.ts';

const [tree, policy] = process.argv.slice(2) as [string, 'fail' | 'warn'];
const context = new DrillRunContext({ runId: 'test', drillName: 'test', logger: silentLogger, signal: new AbortController().signal, clock: () => new Date() });
const files: string[] = [];
try {
  const record = await backupFiles(
    context,
    'uploads',
    { paths: [tree], exclude: [], symlinks: 'keep', onUnreadable: policy, configuredIn: 'test' },
    {
      compresses: false,
      write: async (name, body) => {
        let text = '';
        await pipeline(body, new Writable({ write: (chunk: Buffer, _encoding, done) => ((text += name.endsWith('.jsonl') ? chunk.toString() : ''), done()) }));
        for (const line of text.split('\n').filter(Boolean)) files.push((JSON.parse(line) as { path: string }).path);
        return { name, target: 'uploads', sizeBytes: 0, sha256: '0'.repeat(64) };
      },
    },
  );
  process.stdout.write(JSON.stringify({ files, warnings: (record.metadata as FilesMetadata).warnings }));
} catch (error) {
  process.stdout.write((error as Error).message);
} finally {
  await context.releasers.releaseAll();
}
