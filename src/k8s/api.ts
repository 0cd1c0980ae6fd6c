// The Kubernetes calls macmux makes, over one transport per invocation; the only module verbs import for the API.
import { CniError, Code } from '../cni/errors';
import { ApiTransport, statusMessage, type TransportOptions } from './http';
import { loadCredentials } from './credentials';

export interface ObjectMeta {
  name: string;
  /** Set when the API server generated `name` (see mac/generated.ts). */
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** As the API sends them; untrusted (the pod's creator writes them), so each field is checked before use. */
  ownerReferences?: OwnerReference[];
}
export interface OwnerReference {
  apiVersion?: string;
  kind?: string;
  name?: string;
  uid?: string;
  controller?: boolean;
}
export interface Pod {
  metadata: ObjectMeta;
}
export interface Nad {
  metadata: ObjectMeta;
  spec?: { config?: string };
}

/**
 * The API verbs and resources macmux uses (the plugin, `install`, `ledger` and `doctor`). The RBAC
 * manifests are checked against this list, and `doctor` asks the API about each entry. Cluster-wide
 * unless `namespaced`: then only in the macmux namespace (a Role).
 */
export const API_PERMISSIONS: ReadonlyArray<{ resource: string; group?: string; verbs: readonly string[]; namespaced?: 'macmux' }> = [
  { resource: 'pods', verbs: ['get', 'patch'] },
  { resource: 'namespaces', verbs: ['get'] },
  { resource: 'nodes', verbs: ['get'] },
  { resource: 'network-attachment-definitions', group: 'k8s.cni.cncf.io', verbs: ['get', 'list'] },
  { resource: 'configmaps', verbs: ['get', 'list', 'create', 'update', 'delete'], namespaced: 'macmux' },
  { resource: 'statefulsets', group: 'apps', verbs: ['get'] },
  { resource: 'virtualmachineinstances', group: 'kubevirt.io', verbs: ['get'] },
  { resource: 'virtualmachines', group: 'kubevirt.io', verbs: ['get'] },
];

/** Whether an object exists: "unknown" when the API would not say (refused, failed). */
export type Existence = 'exists' | 'gone' | 'unknown';

export interface ConfigMap {
  metadata: ObjectMeta;
  data?: Record<string, string>;
}

const seg = encodeURIComponent;

/** The Accept type of a metadata-only list (kube-apiserver 1.15+). */
export const PARTIAL_METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';

export class KubeApi {
  constructor(private readonly http: ApiTransport) {}

  /** The pod, or undefined when it does not exist. */
  async getPod(namespace: string, name: string): Promise<Pod | undefined> {
    const res = await this.http.send({ method: 'GET', path: `/api/v1/namespaces/${seg(namespace)}/pods/${seg(name)}`, verb: 'get', resource: `pods ${namespace}/${name}` });
    if (res.status === 404) return undefined;
    expectOk(res.status, res.body, `get pod ${namespace}/${name}`);
    return res.body as unknown as Pod;
  }

  /** The NetworkAttachmentDefinition; a missing one is code 7 naming it as ns/name. */
  async getNad(namespace: string, name: string): Promise<Nad> {
    const res = await this.http.send({
      method: 'GET',
      path: `/apis/k8s.cni.cncf.io/v1/namespaces/${seg(namespace)}/network-attachment-definitions/${seg(name)}`,
      verb: 'get',
      resource: `network-attachment-definitions ${namespace}/${name}`,
    });
    if (res.status === 404) throw new CniError(Code.InvalidConfig, `NetworkAttachmentDefinition ${namespace}/${name} not found`);
    expectOk(res.status, res.body, `get NetworkAttachmentDefinition ${namespace}/${name}`);
    return res.body as unknown as Nad;
  }

  /**
   * One JSON merge patch of metadata.annotations. `uid` and `resourceVersion` go in the patch as
   * preconditions: the pod must still be that object (uid is immutable) and, with a resourceVersion,
   * unchanged since it was read. "gone" when the pod no longer exists, "conflict" when a precondition failed.
   */
  async patchPodAnnotations(namespace: string, name: string, annotations: Record<string, string | null>, pre: { uid?: string; resourceVersion?: string } = {}): Promise<'ok' | 'gone' | 'conflict'> {
    const res = await this.http.send({
      method: 'PATCH',
      path: `/api/v1/namespaces/${seg(namespace)}/pods/${seg(name)}`,
      verb: 'patch',
      resource: `pods ${namespace}/${name}`,
      body: { metadata: { ...pre, annotations } },
      contentType: 'application/merge-patch+json',
    });
    if (res.status === 404) return 'gone';
    if (res.status === 409 || res.status === 422) return 'conflict';
    expectOk(res.status, res.body, `patch pod ${namespace}/${name}`);
    return 'ok';
  }

  /**
   * Whether node `name` exists ("unknown" when the credentials may not read nodes): `macmux ledger gc`
   * and `release` free a live holding of a deleted pod only once its node is gone too.
   */
  async nodeState(name: string): Promise<'exists' | 'gone' | 'unknown'> {
    const res = await this.http.send({ method: 'GET', path: `/api/v1/nodes/${seg(name)}`, verb: 'get', resource: `nodes ${name}` }).catch((e: unknown) => {
      if (e instanceof CniError && e.code === Code.ApiRefused && e.message.includes('HTTP 403')) return undefined;
      throw e;
    });
    if (!res) return 'unknown';
    if (res.status === 404) return 'gone';
    expectOk(res.status, res.body, `get node ${name}`);
    return 'exists';
  }

  /** Whether StatefulSet `namespace/name` exists (an anchor of retained MACs, src/mac/retention.ts). */
  async statefulSetState(namespace: string, name: string): Promise<Existence> {
    return existence(this.http, `/apis/apps/v1/namespaces/${seg(namespace)}/statefulsets/${seg(name)}`, `statefulsets ${namespace}/${name}`);
  }

  /** Whether KubeVirt VirtualMachineInstance `namespace/name` exists ("gone" too where KubeVirt is not installed). */
  async virtualMachineInstanceState(namespace: string, name: string): Promise<Existence> {
    return existence(this.http, `/apis/kubevirt.io/v1/namespaces/${seg(namespace)}/virtualmachineinstances/${seg(name)}`, `virtualmachineinstances ${namespace}/${name}`);
  }

  /** Whether KubeVirt VirtualMachine `namespace/name` exists ("gone" too where KubeVirt is not installed). */
  async virtualMachineState(namespace: string, name: string): Promise<Existence> {
    return existence(this.http, `/apis/kubevirt.io/v1/namespaces/${seg(namespace)}/virtualmachines/${seg(name)}`, `virtualmachines ${namespace}/${name}`);
  }

  /** The namespace's labels, or undefined when it does not exist. */
  async namespaceLabels(name: string): Promise<Record<string, string> | undefined> {
    const res = await this.http.send({ method: 'GET', path: `/api/v1/namespaces/${seg(name)}`, verb: 'get', resource: `namespaces ${name}` });
    if (res.status === 404) return undefined;
    expectOk(res.status, res.body, `get namespace ${name}`);
    return ((res.body as unknown as { metadata?: ObjectMeta }).metadata?.labels) ?? {};
  }

  async getConfigMap(namespace: string, name: string): Promise<ConfigMap | undefined> {
    const res = await this.http.send({ method: 'GET', path: `/api/v1/namespaces/${seg(namespace)}/configmaps/${seg(name)}`, verb: 'get', resource: `configmaps ${namespace}/${name}` });
    if (res.status === 404) return undefined;
    expectOk(res.status, res.body, `get ConfigMap ${namespace}/${name}`);
    return res.body as unknown as ConfigMap;
  }

  /** Creates it; 'exists' when another writer was first. */
  async createConfigMap(namespace: string, cm: ConfigMap): Promise<ConfigMap | 'exists'> {
    const res = await this.http.send({ method: 'POST', path: `/api/v1/namespaces/${seg(namespace)}/configmaps`, verb: 'create', resource: `configmaps ${namespace}/${cm.metadata.name}`, body: { apiVersion: 'v1', kind: 'ConfigMap', ...cm } });
    if (res.status === 409) return 'exists';
    expectOk(res.status, res.body, `create ConfigMap ${namespace}/${cm.metadata.name}`);
    return res.body as unknown as ConfigMap;
  }

  /** Replaces it if metadata.resourceVersion is current; 'conflict' (409) otherwise. */
  async updateConfigMap(namespace: string, cm: ConfigMap): Promise<ConfigMap | 'conflict'> {
    const name = cm.metadata.name;
    const res = await this.http.send({ method: 'PUT', path: `/api/v1/namespaces/${seg(namespace)}/configmaps/${seg(name)}`, verb: 'update', resource: `configmaps ${namespace}/${name}`, body: { apiVersion: 'v1', kind: 'ConfigMap', ...cm } });
    if (res.status === 409 || res.status === 404) return 'conflict';
    expectOk(res.status, res.body, `update ConfigMap ${namespace}/${name}`);
    return res.body as unknown as ConfigMap;
  }

  /** Deletes it if its resourceVersion is still `resourceVersion` (a DeleteOptions precondition): 'conflict' (409) otherwise, 'missing' (404). */
  async deleteConfigMap(namespace: string, name: string, resourceVersion: string): Promise<'deleted' | 'conflict' | 'missing'> {
    const res = await this.http.send({ method: 'DELETE', path: `/api/v1/namespaces/${seg(namespace)}/configmaps/${seg(name)}`, verb: 'delete', resource: `configmaps ${namespace}/${name}`, body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion } } });
    if (res.status === 404) return 'missing';
    if (res.status === 409) return 'conflict';
    expectOk(res.status, res.body, `delete ConfigMap ${namespace}/${name}`);
    return 'deleted';
  }

  /**
   * ConfigMaps carrying label `key` (any value), but the one named `except` (a metadata.name field selector).
   * `metadataOnly` asks for a PartialObjectMetadataList, names and resourceVersions without the data; a
   * server that cannot serve one answers the full list, as the Accept header allows.
   */
  async listConfigMaps(namespace: string, labelKey: string, opts: { except?: string; metadataOnly?: boolean } = {}): Promise<ConfigMap[]> {
    const fields = opts.except ? `&fieldSelector=${encodeURIComponent(`metadata.name!=${opts.except}`)}` : '';
    const res = await this.http.send({
      method: 'GET',
      path: `/api/v1/namespaces/${seg(namespace)}/configmaps?labelSelector=${encodeURIComponent(labelKey)}${fields}`,
      verb: 'list',
      resource: `configmaps ${namespace}`,
      ...(opts.metadataOnly ? { accept: `${PARTIAL_METADATA_LIST}, application/json` } : {}),
    });
    expectOk(res.status, res.body, `list ConfigMaps in ${namespace}`);
    return ((res.body as { items?: ConfigMap[] }).items) ?? [];
  }

  /** Every NetworkAttachmentDefinition in the cluster (doctor validates their configs). */
  async listNads(): Promise<Nad[]> {
    const res = await this.http.send({ method: 'GET', path: '/apis/k8s.cni.cncf.io/v1/network-attachment-definitions', verb: 'list', resource: 'network-attachment-definitions' });
    if (res.status === 404) return []; // the CRD is not installed
    expectOk(res.status, res.body, 'list NetworkAttachmentDefinitions');
    return ((res.body as { items?: Nad[] }).items) ?? [];
  }

  /**
   * Whether the credentials may do `verb` on `resource` (a SelfSubjectAccessReview, which every
   * authenticated user may create, so it needs no grant of its own).
   */
  async canI(verb: string, resource: string, group = '', namespace?: string): Promise<{ allowed: boolean; reason?: string }> {
    const res = await this.http.send({
      method: 'POST',
      path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
      verb: 'create',
      resource: 'selfsubjectaccessreviews',
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb, resource, group, ...(namespace ? { namespace } : {}) } } },
    });
    expectOk(res.status, res.body, `SelfSubjectAccessReview for ${verb} ${resource}`);
    const status = (res.body as { status?: { allowed?: boolean; reason?: string } }).status ?? {};
    return { allowed: status.allowed === true, ...(status.reason ? { reason: status.reason } : {}) };
  }

  /** Starts a new phase of API work (after delegates ran): with the whole time budget, or until `deadline` (epoch ms). */
  renewBudget(deadline?: number): void {
    this.http.renew(deadline);
  }

  /** Opens the connection now, for the first request to take; resolves to why the API is down if it was refused (see ApiTransport.preconnect). */
  preconnect(): Promise<string | undefined> {
    return this.http.preconnect();
  }

  close(): void {
    this.http.close();
  }
}

/** A GET telling whether the object exists: 404 is gone; any other failure, thrown or answered, unknown. */
async function existence(http: ApiTransport, path: string, resource: string): Promise<Existence> {
  try {
    const res = await http.send({ method: 'GET', path, verb: 'get', resource });
    return res.status === 404 ? 'gone' : res.status >= 200 && res.status < 300 ? 'exists' : 'unknown';
  } catch {
    return 'unknown';
  }
}

function expectOk(status: number, body: Record<string, unknown>, what: string): void {
  if (status >= 200 && status < 300) return;
  throw new CniError(Code.Internal, `Kubernetes API: ${what}: HTTP ${status}${statusMessage(body) ? `: ${statusMessage(body)}` : ''}`);
}

/**
 * Opens the API for one invocation: credentials re-read now; each phase of requests is bounded by
 * `budgetMs`, the first one ending at `firstDeadline` (the verb's start plus its budget).
 */
export async function connect(
  kubeconfig: string | undefined,
  getenv: (k: string) => string | undefined,
  budgetMs: number,
  firstDeadline: number,
  debug?: (msg: string) => void,
  opts: TransportOptions = {},
): Promise<KubeApi> {
  const creds = await loadCredentials(kubeconfig, getenv);
  return new KubeApi(new ApiTransport(creds, budgetMs, debug, firstDeadline, opts));
}
