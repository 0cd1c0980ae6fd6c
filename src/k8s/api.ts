// The Kubernetes calls macmux makes, over one transport per invocation; the only module verbs import for the API.
import { CniError, Code } from '../cni/errors';
import { ApiTransport, statusMessage } from './http';
import { loadCredentials } from './credentials';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface Pod {
  metadata: ObjectMeta;
}
export interface Nad {
  metadata: ObjectMeta;
  spec?: { config?: string };
}

/** The API verbs and resources macmux uses; the RBAC manifests are checked against this list. */
export const API_PERMISSIONS = [
  { resource: 'pods', verbs: ['get', 'patch'] },
  { resource: 'network-attachment-definitions', group: 'k8s.cni.cncf.io', verbs: ['get'] },
] as const;

const seg = encodeURIComponent;

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

  /** Starts a new phase of API work with the whole time budget (after delegates ran). */
  renewBudget(): void {
    this.http.renew();
  }

  close(): void {
    this.http.close();
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
export async function connect(kubeconfig: string | undefined, getenv: (k: string) => string | undefined, budgetMs: number, firstDeadline: number, debug?: (msg: string) => void): Promise<KubeApi> {
  const creds = await loadCredentials(kubeconfig, getenv);
  return new KubeApi(new ApiTransport(creds, budgetMs, debug, firstDeadline));
}
