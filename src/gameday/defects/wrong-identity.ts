import { Secret } from '../../secret.ts';
import { runToCompletion } from '../../pipeline/child-process.ts';
import { findExecutable } from '../../pipeline/executables.ts';
import type { Defect } from '../defect.ts';

/** The key that was lost, or the wrong one deployed: the backup is restored with an identity it was not encrypted to. */
export const wrongIdentity: Defect = {
  id: 'wrong-identity',
  description: 'restored with an age identity the backup was not encrypted to',
  notApplicable: ({ manifest }) => (manifest.objects.some((object) => object.encryption) ? undefined : 'the backup is not encrypted (encryption.recipients)'),
  async apply({ signal }) {
    const keygen = await findExecutable('age-keygen');
    if (!keygen) throw new Error('age-keygen is not installed (it comes with age)');
    // The new key is printed on stdout only, and held as a secret from then on.
    const generated = await runToCompletion(keygen, [], { signal });
    const key = generated.split('\n').find((line) => line.startsWith('AGE-SECRET-KEY-'));
    if (!key) throw new Error('age-keygen printed no AGE-SECRET-KEY line');
    return { identity: Secret.fromValue(key, 'gameday: a freshly generated identity') };
  },
  suggestion: () => 'every restore of an encrypted backup needs its identity: that this went unnoticed is a firedrill bug, please report it',
};
