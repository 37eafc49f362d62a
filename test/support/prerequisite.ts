import { describe, it } from 'vitest';

/**
 * Tests that need something from the machine (a Docker engine, Chromium,
 * docker-compose) never skip silently: where `requiredBy` is set to 1 (CI
 * sets them) a missing prerequisite is a failing test that says what is
 * missing; elsewhere (a laptop) the tests are skipped, with the reason and
 * the variable in their name.
 */
export function describeNeeding(
  prerequisite: { what: string; missing: string | undefined; requiredBy: string; alsoRequiredWhen?: boolean },
  name: string,
  body: () => void,
): void {
  const { what, missing, requiredBy } = prerequisite;
  if (missing === undefined) {
    describe(name, body);
  } else if (process.env[requiredBy] === '1' || prerequisite.alsoRequiredWhen) {
    describe(name, () => {
      it(`needs ${what} (${requiredBy}=1)`, () => {
        throw new Error(`${what} tests are required here but cannot run: ${missing}`);
      });
    });
  } else {
    console.warn(`firedrill tests: skipping "${name}": ${missing}`);
    describe.skip(`${name} [skipped: ${missing}; set ${requiredBy}=1 to make this a failure]`, body);
  }
}
