import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { createWorkspace, type Workspace } from './workspace.ts';
import { startSourceDatabase } from './source-database.ts';
import type { DemoSource } from '../../src/demo/demo-source.ts';

/**
 * The life cycle most tests share: a fresh workspace for every test, checked
 * after it for anything left behind (sandbox directories, PostgreSQL or other
 * processes) and for any planted secret that came out (canaries.ts), and,
 * with `useSourceDatabase`, one source database per file, whose password is
 * planted.
 */

export interface WorkspaceContext {
  workspace: Workspace;
}

export function useWorkspace(environment: () => Record<string, string> = () => ({})): WorkspaceContext {
  const context = {} as WorkspaceContext;
  beforeEach(async () => {
    context.workspace = await createWorkspace(environment());
  });
  afterEach(async () => {
    // Pass or fail: nothing of firedrill's may be left behind, and no planted secret may have come out. Both are
    // looked at (one failing does not hide the other), and the workspace goes either way.
    try {
      const found = { leftovers: await context.workspace.leftovers(), leaks: await context.workspace.leaks() };
      expect(found).toEqual({ leftovers: { temporaryEntries: [], processes: [], containers: [] }, leaks: [] });
    } finally {
      await context.workspace.remove();
    }
  });
  return context;
}

export interface SourceContext extends WorkspaceContext {
  source: DemoSource & { env: Record<string, string> };
}

export function useSourceDatabase(options: { password?: string } = {}): SourceContext {
  const context = {} as SourceContext;
  beforeAll(async () => {
    context.source = await startSourceDatabase(options);
  });
  afterAll(async () => {
    await context.source?.stop();
  });
  const workspaces = useWorkspace(() => context.source.env);
  Object.defineProperty(context, 'workspace', { get: () => workspaces.workspace });
  return context;
}
