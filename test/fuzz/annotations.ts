// Malformed pod annotations (k8s.v1.cni.cncf.io/networks in both forms, v1.multus-cni.io/default-network), read through the API test server.
import { Rng } from './rng';
import { baseConf, cniEnv, containerIdOf, podArgs } from './base';
import { GOOD_NADS, GOOD_OTHER, NS, OTHER_NS, UID, type CaseBody, type Expect } from './types';
import { MAX_ANNOTATION_BYTES } from '../../src/annotations/networks';
import { badIfName, badLabel, badMac, deepJson, wrongType } from './values';

export const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
export const DEFAULT_NETWORK = 'v1.multus-cni.io/default-network';

/** A broken piece of an annotation: the text (or JSON) of one element and what the error must name. */
interface Bad {
  what: string;
  mention: string[];
}

const podName = (index: number) => `fz-${index}`;

/** Well-formed comma-list elements, each on its own device. */
function goodTextElements(rng: Rng): string[] {
  const n = rng.int(0, 2);
  return rng.shuffle([`${GOOD_NADS[0]}@gnet0`, `${NS}/${GOOD_NADS[1]}`, `${OTHER_NS}/${GOOD_OTHER}@gnet2`]).slice(0, n);
}

function badTextElement(rng: Rng): Bad & { text: string } {
  const good = rng.pick(GOOD_NADS);
  return rng.pick<() => Bad & { text: string }>([
    () => {
      const v = badLabel(rng);
      return { text: v, what: `name ${JSON.stringify(v)}`, mention: ['name'] };
    },
    () => {
      const v = badLabel(rng);
      return { text: `${v}/${good}`, what: `namespace ${JSON.stringify(v)}`, mention: ['namespace'] };
    },
    () => ({ text: `/${good}`, what: 'empty namespace', mention: ['namespace'] }),
    () => ({ text: `${NS}/`, what: 'empty name', mention: ['name'] }),
    () => ({ text: `${NS}/${good}/x`, what: 'two slashes', mention: ['more than one "/"'] }),
    () => {
      const { name, why } = badIfName(rng);
      return { text: `${good}@${name}`, what: `interface ${JSON.stringify(name)} (${why})`, mention: ['interface'] };
    },
    () => ({ text: `${good}@`, what: 'empty interface', mention: ['interface'] }),
    () => ({ text: `${good}@net1@net2`, what: 'two @', mention: ['more than one "@"'] }),
    () => ({ text: '', what: 'empty element', mention: ['is empty'] }),
    () => ({ text: 'a'.repeat(rng.int(1 << 16, 1 << 20)), what: 'a name of 64 KiB to 1 MiB', mention: ['name'] }),
  ])();
}

function goodJsonElements(rng: Rng): Array<Record<string, unknown>> {
  const n = rng.int(0, 2);
  return rng.shuffle<Record<string, unknown>>([{ name: GOOD_NADS[0], interface: 'gnet0' }, { name: GOOD_NADS[1], namespace: NS }, { name: `${OTHER_NS}/${GOOD_OTHER}`, interface: 'gnet2' }]).slice(0, n);
}

/** One malformed JSON element; `value` is its JSON text (deep values cannot be built as objects). */
function badJsonElement(rng: Rng): Bad & { json: string } {
  const good = rng.pick(GOOD_NADS);
  const el = (fields: Record<string, unknown>, what: string, mention: string[]) => ({ json: JSON.stringify({ name: good, ...fields }), what, mention });
  const typed = (field: string, type: 'string' | 'boolean' | 'array' | 'object') => {
    const v = wrongType(rng, type, true); // null means "not given", as in multus
    return el({ [field]: v }, `"${field}": ${JSON.stringify(v)}`, [`"${field}"`]);
  };
  return rng.pick<() => Bad & { json: string }>([
    () => {
      const v = rng.pick<unknown>(['green', 5, true, [], [{ name: good }]]);
      return { json: JSON.stringify(v), what: `element ${JSON.stringify(v)}`, mention: ['must be a JSON object'] };
    },
    () => ({ json: JSON.stringify({ interface: 'net1' }), what: 'no "name"', mention: ['"name" is required'] }),
    () => {
      const v = rng.pick<unknown>([5, true, ['green'], { n: 1 }]);
      return { json: JSON.stringify({ name: v }), what: `"name": ${JSON.stringify(v)}`, mention: ['"name" must be a string'] };
    },
    () => {
      const v = badLabel(rng);
      return { json: JSON.stringify({ name: v }), what: `"name" ${JSON.stringify(v)}`, mention: ['name'] };
    },
    () => typed('namespace', 'string'),
    () => {
      const v = badLabel(rng);
      return el({ namespace: v }, `"namespace" ${JSON.stringify(v)}`, ['namespace']);
    },
    () => ({ json: JSON.stringify({ name: `${OTHER_NS}/${GOOD_OTHER}`, namespace: NS }), what: '"name" and "namespace" disagree', mention: ['namespace'] }),
    () => typed('interface', 'string'),
    () => {
      const { name, why } = badIfName(rng);
      return el({ interface: name }, `"interface" ${JSON.stringify(name)} (${why})`, ['interface']);
    },
    () => typed(rng.pick(['mac', 'ifMac']), 'string'),
    () => {
      const { mac, why } = badMac(rng);
      const field = rng.pick(['mac', 'ifMac']);
      return el({ [field]: mac }, `"${field}" ${JSON.stringify(mac)} (${why})`, [`"${field}"`]);
    },
    () => el({ mac: '02:00:00:00:00:01', ifMac: '02:00:00:00:00:02' }, '"mac" and "ifMac" differ', ['"mac"', '"ifMac"']),
    () => typed('isPrimary', 'boolean'),
    () => typed('ips', 'array'),
    () => {
      const ip = rng.pick(['300.1.1.1', '10.0.0.1/33', 'abc', '::1/129', '10.0.0.1/', '10.0.0.1/24/1', '', '10.0.0', '1.2.3.4/-1']);
      return el({ ips: ['10.1.0.5/24', ip] }, `"ips" entry ${JSON.stringify(ip)}`, ['"ips"']);
    },
    () => typed('cni-args', 'object'),
    () => typed('default-route', 'array'),
    () => el({ 'default-route': [rng.pick(['10.0.0.300', 'gateway', '10.0.0.1/24', ''])] }, 'bad "default-route" entry', ['"default-route"']),
    () => {
      const v = rng.pick<unknown>([{ hostPort: 80 }, [1], 'x', [[]]]);
      return el({ portMappings: v }, `"portMappings": ${JSON.stringify(v)}`, ['"portMappings"']);
    },
    () => typed('bandwidth', 'object'),
    () => {
      const depth = rng.pick([600, 2000, rng.int(1000, 100000)]);
      const r = new Rng(rng.int(0, 0x7fffffff));
      return { json: `{"name":"${good}","cni-args":{"deep":${deepJson(r, depth)}}}`, what: `"cni-args" nested ${depth} levels deep`, mention: ['nested'] };
    },
  ])();
}

/** Duplicate devices: two elements on one interface, one NAD twice, or the cluster interface. */
function duplicate(rng: Rng, json: boolean): { value: string; what: string; mention: string[] } {
  const [a, b] = rng.shuffle(GOOD_NADS);
  const dev = rng.pick(['net1', 'data0', 'x']);
  const pairs: Array<[Array<Record<string, unknown>>, string, string]> = [
    [[{ name: a, interface: dev }, { name: b, interface: dev }], `two elements on "${dev}"`, dev],
    [[{ name: a }, { name: a }], `${a} twice without an interface`, 'would both use device'],
    [[{ name: a, interface: 'eth0' }], 'an element on the cluster interface eth0', 'reserved'],
    [[{ name: a, interface: dev }, { name: `${NS}/${a}`, interface: dev }], `${a} and ${NS}/${a} on "${dev}"`, dev],
  ];
  const [els, what, mention] = rng.pick(pairs);
  const value = json
    ? JSON.stringify(els)
    : els.map((e) => `${e.name as string}${e.interface ? `@${e.interface as string}` : ''}`).join(rng.pick([',', ', ', ' , ']));
  return { value, what: `${json ? 'JSON' : 'comma'} form: ${what}`, mention: ['device', mention] };
}

const NOT_A_LIST = ['{"name":"good-a"}', '[', '{', '[}', '[{"name":"good-a"},]', '[{"name":"good-a"', '[{name:"good-a"}]', "[{'name':'good-a'}]", '[{"name":"good-a"}] x', '{}', '[1,]'];

/** A bad v1.multus-cni.io/default-network value. */
function badDefault(rng: Rng): { value: string; what: string; mention: string[] } {
  const [a, b] = rng.shuffle(GOOD_NADS);
  const { mac } = badMac(rng);
  const v = rng.pick<[string, string]>([
    [`${a},${b}`, 'more than one network'],
    [`${a}@net1`, 'may not name an interface'],
    [JSON.stringify({ name: a, interface: 'net1' }), '"interface" may not be set'],
    ['[]', 'exactly one network'],
    [JSON.stringify([{ name: a }, { name: b }]), 'exactly one network'],
    [JSON.stringify({ name: 5 }), '"name" must be a string'],
    ['   ', 'is empty'],
    [badLabel(rng).replace(/,/g, ''), 'name'],
    [JSON.stringify({ name: a, mac }), '"mac"'],
    ['{"name":', 'not valid JSON'],
  ]);
  return { value: v[0], what: `default-network ${JSON.stringify(v[0].slice(0, 60))}`, mention: [DEFAULT_NETWORK, v[1]] };
}

export function annotationCase(rng: Rng, index: number): CaseBody {
  const pod = podName(index);
  let annotations: Record<string, string>;
  let what: string;
  let mention: string[];
  const form = rng.int(0, 99);
  if (form < 35) {
    const bad = badTextElement(rng);
    const good = goodTextElements(rng);
    // An annotation that is only an empty element is an empty annotation: no networks, which is valid.
    if (bad.text === '' && good.length === 0) good.push(`${GOOD_NADS[1]}@gnet1`);
    const at = rng.int(0, good.length);
    const items = [...good.slice(0, at), bad.text, ...good.slice(at)];
    annotations = { [NETWORKS]: items.join(rng.pick([',', ', ', ' ,'])) };
    what = `comma form, element ${at}: ${bad.what}`;
    mention = [`element ${at}`, ...bad.mention];
  } else if (form < 75) {
    const bad = badJsonElement(rng);
    const good = goodJsonElements(rng).map((e) => JSON.stringify(e));
    const at = rng.int(0, good.length);
    annotations = { [NETWORKS]: `[${[...good.slice(0, at), bad.json, ...good.slice(at)].join(',')}]` };
    what = `JSON form, element ${at}: ${bad.what}`;
    mention = [`element ${at}`, ...bad.mention];
  } else if (form < 85) {
    const d = duplicate(rng, rng.chance(0.5));
    annotations = { [NETWORKS]: d.value };
    ({ what, mention } = d);
  } else if (form < 92) {
    const v = rng.pick(NOT_A_LIST);
    annotations = { [NETWORKS]: v };
    what = `networks ${JSON.stringify(v)}`;
    mention = [NETWORKS];
  } else if (form < 97) {
    const d = badDefault(rng);
    annotations = { [DEFAULT_NETWORK]: d.value, ...(rng.chance(0.5) ? { [NETWORKS]: `${GOOD_NADS[1]}@gnet1` } : {}) };
    ({ what, mention } = d);
  } else {
    const [a, b] = rng.shuffle(GOOD_NADS);
    if (rng.chance(0.5)) {
      annotations = { [NETWORKS]: JSON.stringify([{ name: a, isPrimary: true }, { name: b, isPrimary: true }]) };
      what = 'two elements with isPrimary';
    } else {
      annotations = { [NETWORKS]: JSON.stringify([{ name: a, isPrimary: true }]), [DEFAULT_NETWORK]: b };
      what = 'isPrimary and default-network both replace the cluster network';
    }
    mention = ['isPrimary'];
  }
  // An annotation past macmux's cap is refused for its size before anything in it is read (networks is read first).
  const capped = [NETWORKS, DEFAULT_NETWORK].find((k) => annotations[k] !== undefined && Buffer.byteLength(annotations[k]) > MAX_ANNOTATION_BYTES);
  if (capped) mention = [`annotation ${capped}`, `at most ${MAX_ANNOTATION_BYTES} bytes`];
  const expect: Expect = { codes: [7], mention: [`pod ${NS}/${pod}`, ...mention] };
  return {
    what,
    expect,
    build: (f) => {
      const cid = containerIdOf(index);
      return { command: 'ADD', stdin: JSON.stringify(baseConf(f)), env: cniEnv(f, cid, podArgs(pod, UID, cid)), pod: { name: pod, annotations }, budget: 10 };
    },
  };
}
