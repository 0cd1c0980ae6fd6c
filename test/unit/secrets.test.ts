// Unit tests for src/util/secrets.ts and src/util/parse-errors.ts: the redaction rules, the registry, linear time, and parse errors that never quote the text.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { load } from 'js-yaml';
import { forgetSecrets, redact, redactValue, registerSecret, registerSecretsIn } from '../../src/util/secrets';
import { jsonSyntaxError, yamlSyntaxError } from '../../src/util/parse-errors';

afterEach(() => forgetSecrets());

const CASES: Array<[string, string]> = [
  ['Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', 'Authorization: Bearer <redacted>'],
  ['Authorization: Basic YWRtaW46aHVudGVyMg==', 'Authorization: Basic <redacted>'],
  ['{"token":"s3cr3t","user":"u"}', '{"token":"<redacted>","user":"u"}'],
  ['{\\"password\\":\\"s3cr3t\\",\\"a\\":1}', '{\\"password\\":\\"<redacted>\\",\\"a\\":1}'],
  ['{"password":"a\\"b c","z":1}', '{"password":"<redacted>","z":1}'],
  ['password=hunter2 next', 'password=<redacted> next'],
  ['IgnoreUnknown=1;API_TOKEN=abc123;K8S_POD_NAME=p', 'IgnoreUnknown=1;API_TOKEN=<redacted>;K8S_POD_NAME=p'],
  ['    client-key-data: LS0tLS1CRUdJTi==', '    client-key-data: <redacted>'],
  ['{"privateKey": "x", "apiKey": \'y\', "secret": 5}', '{"privateKey": "<redacted>", "apiKey": \'<redacted>\', "secret": <redacted>}'],
  // Field paths and prose stay readable.
  ['kubeconfig k: users[0].user.token: a string expected, found a list', 'kubeconfig k: users[0].user.token: a string expected, found a list'],
  ['users[0].user.tokenFile: /var/run/token: ENOENT', 'users[0].user.tokenFile: /var/run/token: ENOENT'],
  ['a token and a username/password; basic auth is off', 'a token and a username/password; basic auth is off'],
];
for (const [input, want] of CASES) test(`redact(${JSON.stringify(input)})`, () => assert.equal(redact(input), want));

test('registered values are hidden anywhere, also JSON-escaped and line by line', () => {
  registerSecret('pa"ss word');
  registerSecret('-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\n-----END KEY-----\n');
  registerSecret('abc'); // too short to hide without hiding more than the secret
  assert.equal(redact('x pa"ss word y'), 'x <redacted> y');
  assert.equal(redact(JSON.stringify({ m: 'pa"ss word' })), '{"m":"<redacted>"}');
  assert.equal(redact('line AAAABBBBCCCCDDDD quoted'), 'line <redacted> quoted');
  assert.equal(redact('abc'), 'abc');
});

test('a short registered value never splits a longer one: the longer is hidden whole, whatever the order of registration', () => {
  forgetSecrets();
  registerSecret('s3cr'); // say, an attacker's cni-args token, registered first
  registerSecret('s3cr3t-vpn-key-XYZ'); // a global NAD's secret, registered later
  const out = redact('delegate said: psk is s3cr3t-vpn-key-XYZ');
  assert.equal(out.includes('3t-vpn-key-XYZ'), false, out);
  assert.equal(out, 'delegate said: psk is <redacted>');
  forgetSecrets();
});

test('registerSecretsIn takes strings under secret-looking keys, at any depth, and exec env values by name', () => {
  registerSecretsIn({ users: [{ user: { token: 'tok-123456', tokenFile: '/path/of/file', exec: { env: [{ name: 'API_TOKEN', value: 'envtok-1' }, { name: 'HOME', value: '/root' }] } } }], cni: { psk: 'pre-shared' } });
  assert.equal(redact('tok-123456 envtok-1 pre-shared /path/of/file /root'), '<redacted> <redacted> <redacted> /path/of/file /root');
});

test('redactValue hides values under secret keys and registered strings, keeping JSON', () => {
  registerSecret('domain-secret');
  assert.deepEqual(redactValue([{ name: 'n', dns: { domain: 'domain-secret', search: ['a'] }, password: { x: 1 } }]), [{ name: 'n', dns: { domain: '<redacted>', search: ['a'] }, password: '<redacted>' }]);
});

test('redact is linear: 1 MiB adversarial inputs take milliseconds', () => {
  registerSecret('aaaaaaaaaaaaaaaaaaab');
  const n = 1 << 20;
  for (const s of ['token'.repeat(n / 5), `token:${' '.repeat(n)}`, `token: "${'a'.repeat(n)}`, 'token '.repeat(n / 6), 'bearer '.repeat(n / 7), 'a'.repeat(n), '"token":\\'.repeat(n / 9), 'password='.repeat(n / 9), '.token:x'.repeat(n / 8), `Bearer ${'\t'.repeat(n)}`]) {
    const t0 = Date.now();
    redact(s);
    assert.ok(Date.now() - t0 < 1000, `${JSON.stringify(s.slice(0, 20))}... took ${Date.now() - t0} ms`);
  }
});

test('JSON syntax errors give line, column and reason, never the text', () => {
  for (const text of ['{"password": s3cr3tvalue}', '{"a": 1,\n "token": "s3cr3tvalue" x}', '{"token": "s3cr3tvalue', '']) {
    let why = '';
    try {
      JSON.parse(text);
    } catch (e) {
      why = jsonSyntaxError(e, text);
    }
    assert.ok(why && !why.includes('s3cr3t'), why);
  }
  try {
    JSON.parse('{"a": 1,\n "token": "v" x}');
  } catch (e) {
    assert.equal(jsonSyntaxError(e, '{"a": 1,\n "token": "v" x}'), "line 2 column 15: expected ',' or '}' after property value");
  }
});

test('YAML syntax errors give line, column and reason, never the text', () => {
  try {
    load('users:\n- user:\n    token: s3cr3tvalue\n  : broken\n');
    assert.fail('parsed');
  } catch (e) {
    const why = yamlSyntaxError(e);
    assert.match(why, /^line 4 column 3: /);
    assert.ok(!why.includes('s3cr3t'), why);
  }
});
