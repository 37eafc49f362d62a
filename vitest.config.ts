import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Files that must not overlap with tests that remove firedrill's leftover
 * containers (every docker sandbox start, `firedrill cleanup`, `serve`):
 * docker.test.ts leaves a container on purpose with SIGKILL and then checks
 * that `cleanup` removes it, which a concurrent reaper would beat it to. They
 * run after the rest, beside files that start no Docker sandbox.
 */
const AFTER_THE_REST = ['test/e2e/docker.test.ts', 'test/e2e/files.test.ts', 'test/e2e/run.test.ts', 'test/e2e/signals.test.ts'];

const common = {
  testTimeout: 120_000,
  hookTimeout: 120_000,
};

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    // Real PostgreSQL clusters start in these tests; two cores are shared between files.
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      { test: { ...common, name: 'firedrill', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...AFTER_THE_REST], sequence: { groupOrder: 0 } } },
      { test: { ...common, name: 'after the rest', include: AFTER_THE_REST, sequence: { groupOrder: 1 } } },
    ],
  },
});
