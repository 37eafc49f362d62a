import type { Manifest } from '../../interfaces.ts';
import type { Defect } from '../defect.ts';
import { fingerprintOf, postgresTargets } from './postgres-facts.ts';

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
  apply({ manifest }) {
    const needed = neededExtension(manifest);
    if (!needed) throw new Error('the backup uses no extension besides plpgsql');
    return Promise.resolve({ damage: { target: needed.target, hideExtensions: [needed.extension] } });
  },
  caught: (report) => report.status !== 'passed' && report.error?.kind === 'sandbox' && /extension/.test(report.error.message),
  suggestion: () => "firedrill checks the sandbox for the backup's extensions before every restore: that this went unnoticed is a firedrill bug, please report it",
};

/** The first extension (besides plpgsql, which every database has) in a target's recorded inventory. */
function neededExtension(manifest: Manifest): { target: string; extension: string } | undefined {
  for (const target of postgresTargets(manifest)) {
    const extension = (fingerprintOf(target)?.inventory.extensions ?? []).find((name) => name !== 'plpgsql');
    if (extension) return { target: target.name, extension };
  }
  return undefined;
}
