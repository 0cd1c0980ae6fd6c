// Unit tests for src/mac/requested.ts: which MACs a pod may request under requestedMacs and its namespace's label.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requestRefusal, REQUESTED_LABEL, type RequestedMacs } from '../../src/mac/requested';
import { parseRange } from '../../src/mac/range';

const SPEC = parseRange('02:aa:00:00:00:00', '02:aa:00:00:0f:ff', 32);
const IN = '02:aa:00:00:00:07';
const OUT = '00:16:3e:12:34:56';

const CASES: Array<[RequestedMacs, string | undefined, string, boolean]> = [
  ['any', undefined, OUT, true],
  ['any', undefined, IN, true],
  ['range', undefined, IN, true],
  ['range', undefined, '02:aa:00:00:0f:ff', true],
  ['range', undefined, '02:aa:00:00:10:00', false],
  ['range', undefined, OUT, false],
  ['range', 'any', OUT, true],
  ['range', 'range', OUT, false],
  ['range', '', OUT, false],
  ['none', undefined, IN, false],
  ['none', undefined, OUT, false],
  ['none', 'any', OUT, true],
  ['none', 'ANY', IN, false],
];
for (const [setting, label, mac, allowed] of CASES) {
  test(`requestedMacs ${setting}, namespace label ${String(label)}: ${mac} is ${allowed ? 'allowed' : 'refused'}`, () => {
    const why = requestRefusal(mac, 'team/p', 'team/blue', setting, label, SPEC);
    if (allowed) return assert.equal(why, undefined);
    assert.ok(why, 'refused');
    for (const part of [mac, 'team/p', 'team/blue', `requestedMacs: ${setting}`, `${REQUESTED_LABEL}=any`]) assert.ok(why.includes(part), `${why} names ${part}`);
    if (setting === 'range') assert.ok(why.includes('02:aa:00:00:00:00-02:aa:00:00:0f:ff'), why);
  });
}
