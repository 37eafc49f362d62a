import type { Duplex } from 'node:stream';
import { constants as zlibConstants, createGunzip, createGzip, createZstdCompress, createZstdDecompress } from 'node:zlib';
import { childStage } from './child-stage.ts';
import { findExecutable } from './executables.ts';

/**
 * Compression stages. zstd runs as the standard `zstd` binary with all cores
 * (`-T0`): about 1 GB/s, so it never slows a dump down. Without the binary,
 * Node's built-in zstd (single-threaded, several times slower) writes the very
 * same format, so a machine without the package still works. gzip is Node's
 * zlib, which runs off the main thread. Either way the stored object is a
 * standard stream that `zstd -d` or `gunzip` reads.
 */

export const COMPRESSIONS = ['zstd', 'gzip', 'none'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export const DEFAULT_LEVEL: Record<Exclude<Compression, 'none'>, number> = { zstd: 3, gzip: 6 };
export const LEVEL_RANGE: Record<Exclude<Compression, 'none'>, [number, number]> = { zstd: [1, 19], gzip: [1, 9] };

export interface CompressionTool {
  /** `zstd 1.5.4 (/usr/bin/zstd)` or `Node.js zlib`: for reports and the log. */
  description: string;
  compress(level: number | undefined): Duplex;
  decompress(): Duplex;
  /** The same compression as a command, when it is one: it can then read its input straight from another process. */
  compressCommand?(level: number | undefined): { command: string; args: string[] };
  /** Decompression as a command, stdin to stdout. */
  decompressCommand?(): { command: string; args: string[] };
}

let zstdBinary: Promise<string | undefined> | undefined;

/** The implementation used for a compression; undefined for `none`. */
export async function compressionTool(compression: Compression): Promise<CompressionTool | undefined> {
  if (compression === 'none') return undefined;
  if (compression === 'gzip') {
    return {
      description: 'Node.js zlib (gzip)',
      compress: (level) => createGzip({ level: level ?? DEFAULT_LEVEL.gzip }),
      decompress: () => createGunzip(),
    };
  }
  zstdBinary ??= findExecutable('zstd');
  const binary = await zstdBinary;
  if (binary) {
    return {
      description: `zstd (${binary}, all cores)`,
      // -q: no progress on stderr, which is kept for error messages; stdin to stdout.
      compress: (level) => childStage(binary, zstdArguments(level)),
      decompress: () => childStage(binary, ['-q', '-d', '-c']),
      compressCommand: (level) => ({ command: binary, args: zstdArguments(level) }),
      decompressCommand: () => ({ command: binary, args: ['-q', '-d', '-c'] }),
    };
  }
  return {
    description: 'Node.js zlib (zstd, one core: install the zstd package for speed)',
    compress: (level) => createZstdCompress({ params: { [zlibConstants.ZSTD_c_compressionLevel]: level ?? DEFAULT_LEVEL.zstd } }),
    decompress: () => createZstdDecompress(),
  };
}

function zstdArguments(level: number | undefined): string[] {
  return ['-q', '-c', '-T0', `-${level ?? DEFAULT_LEVEL.zstd}`];
}
