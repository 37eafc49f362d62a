import { describe, expect, it } from 'vitest';
import { BackupError, isOutOfSpace } from '../../src/errors.ts';

describe('isOutOfSpace', () => {
  it('knows a full disk by its code or by a child’s words, at any depth of causes', () => {
    expect(isOutOfSpace(Object.assign(new Error('write failed'), { code: 'ENOSPC' }))).toBe(true);
    expect(isOutOfSpace(Object.assign(new Error('write failed'), { code: 'EDQUOT' }))).toBe(true);
    expect(isOutOfSpace(new Error('zstd: error 70 : Write error : cannot write block : No space left on device'))).toBe(true);
    expect(isOutOfSpace(new Error('FATAL:  could not extend file "base/1/2703": wrote only 4096 of 8192 bytes at block 1\nHINT:  Check free disk space.'))).toBe(true);
    const wrapped = new BackupError('encoding failed', { cause: new Error('outer', { cause: Object.assign(new Error('inner'), { code: 'ENOSPC' }) }) });
    expect(isOutOfSpace(wrapped)).toBe(true);
  });

  it('is false for anything else', () => {
    expect(isOutOfSpace(new Error('connection refused'))).toBe(false);
    expect(isOutOfSpace(Object.assign(new Error('denied'), { code: 'EACCES' }))).toBe(false);
    expect(isOutOfSpace(undefined)).toBe(false);
    expect(isOutOfSpace('a string')).toBe(false);
    expect(isOutOfSpace(new Error('no cause', { cause: null }))).toBe(false);
  });
});
