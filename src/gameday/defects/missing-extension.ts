import type { Manifest } from '../../interfaces.ts';
import type { Defect } from '../defect.ts';

/**
 * A sandbox without an extension the dump needs (an image without PostGIS,
 * a host without the package): the drill must say so, as an environment
 * problem that names the extension, never pass and never blame the backup.
 * The sandbox's extension check is told the extension is not there.
 */
export const missingExtension: Defect = {
  id: 'missing-extension',
  description: 'a sandbox without an extension the dump needs',
  notApplicable: ({ manifest }) => (neededExtension(manifest) ? undefined : 'the backup uses no extension besides plpgsql'),
  apply: ({ manifest }) => Promise.resolve({ damage: { hideExtensions: [neededExtension(manifest) as string] } }),
  caught: (report) => report.status !== 'passed' && report.error?.kind === 'sandbox' && /extension/.test(report.error.message),
  suggestion: () => 'firedrill checks the sandbox for the backup\'s extensions before every restore: that this went unnoticed is a firedrill bug, please report it',
};

/** The first extension (besides plpgsql, which every database has) in the backup's recorded inventory. */
function neededExtension(manifest: Manifest): string | undefined {
  for (const target of manifest.targets) {
    const extensions = (target.metadata['fingerprint'] as { inventory?: { extensions?: string[] } } | undefined)?.inventory?.extensions ?? [];
    const needed = extensions.find((extension) => extension !== 'plpgsql');
    if (needed) return needed;
  }
  return undefined;
}
