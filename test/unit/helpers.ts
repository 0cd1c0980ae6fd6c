// Shared helpers for unit tests.
import assert from 'node:assert/strict';
import { CniError } from '../../src/cni/errors';

/** Runs `fn`, which must throw a CniError, and returns it. */
export function thrown(fn: () => unknown): CniError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CniError, `expected a CniError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a throw');
}
