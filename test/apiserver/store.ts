// Test API server storage: the served resource types and their objects, with resourceVersions, uids and write semantics.
import { randomUUID, randomInt } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { type ResourceRef, alreadyExists, badRequest, conflict, invalid, notFound } from './status';

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [key: string]: unknown;
}

export interface Resource extends ResourceRef {
  kind: string;
  apiVersion: string;
  namespaced: boolean;
  /** a custom resource: list items keep kind/apiVersion, updates need metadata.resourceVersion, no strategic merge */
  custom: boolean;
  /** fields a fieldSelector may use */
  fields: readonly string[];
  /** DELETE answers a Success Status (like configmaps) instead of the deleted object (like pods, namespaces, custom resources) */
  deleteStatus?: boolean;
}

const META_FIELDS = ['metadata.name', 'metadata.namespace'];

export const RESOURCES: readonly Resource[] = [
  { plural: 'namespaces', group: '', kind: 'Namespace', apiVersion: 'v1', namespaced: false, custom: false, fields: ['metadata.name', 'status.phase'] },
  {
    plural: 'pods', group: '', kind: 'Pod', apiVersion: 'v1', namespaced: true, custom: false,
    fields: [...META_FIELDS, 'spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
  },
  { plural: 'configmaps', group: '', kind: 'ConfigMap', apiVersion: 'v1', namespaced: true, custom: false, fields: META_FIELDS, deleteStatus: true },
  {
    plural: 'network-attachment-definitions', group: 'k8s.cni.cncf.io', kind: 'NetworkAttachmentDefinition', apiVersion: 'k8s.cni.cncf.io/v1',
    namespaced: true, custom: true, fields: META_FIELDS,
  },
  { plural: 'nodes', group: '', kind: 'Node', apiVersion: 'v1', namespaced: false, custom: false, fields: ['metadata.name'] },
  // Owners a pod may retain its MACs for (macmux.io/mac-retention), served as generic objects.
  { plural: 'statefulsets', group: 'apps', kind: 'StatefulSet', apiVersion: 'apps/v1', namespaced: true, custom: false, fields: META_FIELDS },
  { plural: 'virtualmachineinstances', group: 'kubevirt.io', kind: 'VirtualMachineInstance', apiVersion: 'kubevirt.io/v1', namespaced: true, custom: true, fields: META_FIELDS },
  { plural: 'virtualmachines', group: 'kubevirt.io', kind: 'VirtualMachine', apiVersion: 'kubevirt.io/v1', namespaced: true, custom: true, fields: META_FIELDS },
];

const NAMESPACES = RESOURCES[0];

/** The resource for a kind ("Pod"), a plural ("pods") or a singular ("pod"), any case. */
export function resourceFor(kindOrPlural: string): Resource {
  const k = kindOrPlural.toLowerCase();
  const r = RESOURCES.find((x) => x.kind.toLowerCase() === k || x.plural === k);
  if (!r) throw new Error(`test API server: unknown kind ${JSON.stringify(kindOrPlural)} (known: ${RESOURCES.map((x) => x.kind).join(', ')})`);
  return r;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386 JSON merge patch: objects merge recursively, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** RFC 3339 without fractions, as metav1.Time marshals. */
const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';
const randomSuffix = (): string => Array.from({ length: 5 }, () => NAME_CHARS[randomInt(NAME_CHARS.length)]).join('');

export interface DeleteOptions {
  preconditions?: { resourceVersion?: string; uid?: string };
}

/** Objects by resource, namespace and name, behind one resourceVersion counter that rises on every change. */
export class Store {
  private readonly objects = new Map<string, KubeObject>();
  private rv = 1000;

  /** The current (latest) resourceVersion. */
  get resourceVersion(): string {
    return String(this.rv);
  }

  private key(r: Resource, ns: string | undefined, name: string): string {
    return `${r.plural}/${r.namespaced ? ns ?? '' : ''}/${name}`;
  }

  /** The stored form of `obj`: kind/apiVersion first, a namespace's metadata.name label, no resourceVersion. */
  private normalize(r: Resource, obj: KubeObject): KubeObject {
    const meta = { ...obj.metadata } as ObjectMeta;
    delete meta.resourceVersion;
    if (r === NAMESPACES) meta.labels = { ...meta.labels, 'kubernetes.io/metadata.name': meta.name as string };
    const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = obj;
    return JSON.parse(JSON.stringify({ apiVersion: r.apiVersion, kind: r.kind, metadata: meta, ...rest })) as KubeObject;
  }

  /** Stores `obj` at a new resourceVersion; returns a copy. */
  private write(r: Resource, obj: KubeObject): KubeObject {
    const stored = this.normalize(r, obj);
    const meta = stored.metadata as ObjectMeta;
    meta.resourceVersion = String(++this.rv);
    this.objects.set(this.key(r, meta.namespace, meta.name as string), stored);
    return structuredClone(stored);
  }

  find(r: Resource, ns: string | undefined, name: string): KubeObject | undefined {
    const o = this.objects.get(this.key(r, ns, name));
    return o && structuredClone(o);
  }

  /** Objects of a resource (in one namespace, or all), in storage-key order; only those `keep` accepts (it sees the stored object: read only). */
  items(r: Resource, ns?: string, keep: (o: KubeObject) => boolean = () => true): KubeObject[] {
    const prefix = r.namespaced && ns !== undefined ? `${r.plural}/${ns}/` : `${r.plural}/`;
    return [...this.objects.entries()]
      .filter(([k, o]) => k.startsWith(prefix) && keep(o))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => structuredClone(o));
  }

  /** As items(), but only each object's metadata (a metadata-only list need not copy the data). */
  metadata(r: Resource, ns?: string, keep: (o: KubeObject) => boolean = () => true): ObjectMeta[] {
    const prefix = r.namespaced && ns !== undefined ? `${r.plural}/${ns}/` : `${r.plural}/`;
    return [...this.objects.entries()]
      .filter(([k, o]) => k.startsWith(prefix) && keep(o))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => structuredClone(o.metadata as ObjectMeta));
  }

  private existing(r: Resource, ns: string | undefined, name: string): KubeObject {
    const cur = this.objects.get(this.key(r, ns, name));
    if (!cur) throw notFound(r, name);
    return cur;
  }

  private checkBody(r: Resource, ns: string | undefined, body: unknown): KubeObject {
    if (!isObject(body)) throw badRequest(`the object provided is unrecognized (must be of type ${r.kind})`);
    const obj = body as KubeObject;
    if (obj.kind !== undefined && obj.kind !== r.kind) throw badRequest(`the object provided is unrecognized (must be of type ${r.kind}): kind ${JSON.stringify(obj.kind)}`);
    if (obj.apiVersion !== undefined && obj.apiVersion !== r.apiVersion) {
      throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${r.apiVersion})`);
    }
    if (obj.metadata !== undefined && !isObject(obj.metadata)) throw badRequest(`the object provided is unrecognized (must be of type ${r.kind}): metadata is not an object`);
    if (r.namespaced && obj.metadata?.namespace !== undefined && obj.metadata.namespace !== ns) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    return obj;
  }

  /** POST: 404 for a missing namespace, 409 AlreadyExists, 422 without a name. */
  create(r: Resource, ns: string | undefined, body: unknown): KubeObject {
    const obj = this.checkBody(r, ns, body);
    if (r.namespaced && !this.objects.has(this.key(NAMESPACES, undefined, ns as string))) throw notFound(NAMESPACES, ns as string);
    const meta = { ...obj.metadata };
    if (!meta.name && meta.generateName) meta.name = meta.generateName + randomSuffix();
    if (!meta.name) throw invalid(r.kind, '', 'metadata.name', 'Required value: name or generateName is required', r);
    if (this.objects.has(this.key(r, ns, meta.name))) throw alreadyExists(r, meta.name);
    if (r.namespaced) meta.namespace = ns;
    else delete meta.namespace;
    meta.uid = randomUUID();
    meta.creationTimestamp = now();
    if (r === NAMESPACES) {
      return this.write(r, { ...obj, metadata: meta, spec: { finalizers: ['kubernetes'], ...(obj.spec as object) }, status: { phase: 'Active' } });
    }
    return this.write(r, { ...obj, metadata: meta });
  }

  /** `next` written, or the stored object unchanged (no new resourceVersion) when `next` would store the same. */
  private change(r: Resource, cur: KubeObject, next: KubeObject): KubeObject {
    const { resourceVersion: _rv, ...curMeta } = cur.metadata as ObjectMeta;
    if (isDeepStrictEqual(this.normalize(r, next), { ...cur, metadata: curMeta })) return structuredClone(cur);
    return this.write(r, next);
  }

  /** The identity fields of `cur` kept on `next`. */
  private keepIdentity(cur: KubeObject, next: KubeObject): KubeObject {
    const m = cur.metadata as ObjectMeta;
    const meta: ObjectMeta = { ...next.metadata, name: m.name, uid: m.uid, creationTimestamp: m.creationTimestamp };
    if (m.namespace !== undefined) meta.namespace = m.namespace;
    else delete meta.namespace;
    return { ...next, metadata: meta };
  }

  /** PUT: 404 when missing, 409 Conflict on a stale metadata.resourceVersion (custom resources must send one: 422). */
  update(r: Resource, ns: string | undefined, name: string, body: unknown): KubeObject {
    const obj = this.checkBody(r, ns, body);
    const bodyName = obj.metadata?.name;
    if (bodyName !== undefined && bodyName !== name) throw badRequest(`the name of the object (${bodyName}) does not match the name on the URL (${name})`);
    const cur = this.existing(r, ns, name);
    const rv = obj.metadata?.resourceVersion;
    if (rv === undefined || rv === '') {
      if (r.custom) throw invalid(r.kind, name, 'metadata.resourceVersion', 'Invalid value: 0x0: must be specified for an update', r);
    } else if (rv !== cur.metadata?.resourceVersion) throw conflict(r, name);
    const next = this.keepIdentity(cur, obj);
    if (r === NAMESPACES) next.status = cur.status;
    return this.change(r, cur, next);
  }

  /** PATCH with an RFC 7386 merge patch; a metadata.resourceVersion in the patch is a precondition (409 when stale). */
  patch(r: Resource, ns: string | undefined, name: string, patch: unknown): KubeObject {
    if (!isObject(patch)) throw badRequest('the patch must be a JSON object');
    const cur = this.existing(r, ns, name);
    const rv = isObject(patch.metadata) ? patch.metadata.resourceVersion : undefined;
    if (rv !== undefined && rv !== null && rv !== cur.metadata?.resourceVersion) throw conflict(r, name);
    // metadata.uid is immutable: a patch naming another uid (meant for an earlier object of that name) is refused.
    const uid = isObject(patch.metadata) ? patch.metadata.uid : undefined;
    if (uid !== undefined && uid !== null && uid !== cur.metadata?.uid) {
      throw invalid(r.kind, name, 'metadata.uid', `Invalid value: "${String(uid)}": field is immutable`, r);
    }
    const merged = mergePatch(cur, patch) as KubeObject;
    return this.change(r, cur, this.keepIdentity(cur, merged));
  }

  /** DELETE (immediate, as with gracePeriodSeconds=0), honouring DeleteOptions preconditions; answers the object at its deletion resourceVersion. */
  delete(r: Resource, ns: string | undefined, name: string, opts: DeleteOptions = {}): KubeObject {
    const cur = this.existing(r, ns, name);
    const m = cur.metadata as ObjectMeta;
    const pre = opts.preconditions ?? {};
    if (pre.resourceVersion && pre.resourceVersion !== m.resourceVersion) {
      throw conflict(r, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${m.resourceVersion}`);
    }
    if (pre.uid && pre.uid !== m.uid) throw conflict(r, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${m.uid}`);
    this.objects.delete(this.key(r, ns, name));
    if (r === NAMESPACES) for (const k of [...this.objects.keys()]) if (k.split('/')[1] === name && !k.startsWith('namespaces/')) this.objects.delete(k);
    const out = structuredClone(cur);
    (out.metadata as ObjectMeta).resourceVersion = String(++this.rv);
    return out;
  }

  // ---- direct access for tests (no HTTP, no auth, no checks) ----

  /** Creates or replaces `obj` (by kind, metadata.namespace — default "default" — and metadata.name); keeps or assigns uid and creationTimestamp. */
  put(obj: KubeObject): KubeObject {
    if (!obj.kind) throw new Error('put: the object needs a kind');
    const r = resourceFor(obj.kind);
    const name = obj.metadata?.name;
    if (!name) throw new Error(`put: the ${obj.kind} needs metadata.name`);
    const meta: ObjectMeta = { ...obj.metadata };
    if (r.namespaced) meta.namespace = meta.namespace || 'default';
    else delete meta.namespace;
    const prev = this.objects.get(this.key(r, meta.namespace, name))?.metadata;
    meta.uid = meta.uid ?? prev?.uid ?? randomUUID();
    meta.creationTimestamp = meta.creationTimestamp ?? prev?.creationTimestamp ?? now();
    const next: KubeObject = { ...obj, metadata: meta };
    if (r === NAMESPACES) next.status = next.status ?? { phase: 'Active' };
    return this.write(r, next);
  }

  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.find(resourceFor(kind), namespace, name);
  }

  list(kind: string, namespace?: string): KubeObject[] {
    return this.items(resourceFor(kind), namespace);
  }

  /** Removes an object; true when it was there. */
  remove(kind: string, namespace: string | undefined, name: string): boolean {
    const r = resourceFor(kind);
    const gone = this.objects.delete(this.key(r, namespace, name));
    if (gone) this.rv++;
    return gone;
  }
}
