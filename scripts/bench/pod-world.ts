// The pod of sections 2, 3 and 5: eth0 on bridge + host-local, two macvlan NADs on a host bridge, MACs from the ledger; and how macmux is run for it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { ApiServer } from '../../test/apiserver/server';
import { cleanEnv, run, type Run } from './proc';
import type { Sandbox } from './sandbox';

export const PLUGIN_DIR = '/usr/lib/cni';
export const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
export const NADS = ['bench-a', 'bench-b'];

/** A port nothing listens on (bound, then closed): "the API server is down". */
export async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export class PodWorld {
  readonly ipamDir: string;
  private pods = 0;

  private constructor(readonly api: ApiServer, readonly sb: Sandbox, readonly binary: string, readonly lower: string, readonly clusterBridge: string, readonly downKubeconfig: string) {
    this.ipamDir = join(sb.dir, 'ipam');
  }

  static async create(api: ApiServer, sb: Sandbox, binary: string): Promise<PodWorld> {
    const lower = sb.bridge('l');
    const clusterBridge = sb.linkName('c');
    // The same kubeconfig (CA, token), pointing at a port where nothing answers.
    const down = join(sb.dir, 'kubeconfig-down');
    writeFileSync(down, readFileSync(api.kubeconfig, 'utf8').split(api.url).join(`https://127.0.0.1:${await closedPort()}`));
    const w = new PodWorld(api, sb, binary, lower, clusterBridge, down);
    NADS.forEach((name, i) => {
      api.put({
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name, namespace: 'default' },
        spec: { config: JSON.stringify({ cniVersion: '1.0.0', name, type: 'macvlan', master: lower, mode: 'bridge', capabilities: { mac: true }, ipam: { type: 'host-local', subnet: `10.23${8 + i}.0.0/16`, dataDir: w.ipamDir } }) },
      });
    });
    return w;
  }

  /** macmux's config on this node: its own cache dir and node name; `binDir` for the capture shims; `apiDown` for the closed port. */
  conf(node: string, o: { binDir?: string; apiDown?: boolean } = {}): Record<string, unknown> {
    const cacheDir = join(this.sb.dir, `state-${node}`);
    mkdirSync(cacheDir, { recursive: true });
    return {
      cniVersion: '1.0.0',
      name: 'macmux',
      type: 'macmux',
      cacheDir,
      kubeconfig: o.apiDown ? this.downKubeconfig : this.api.kubeconfig,
      nodeName: node,
      macPool: { rangeStart: '02:bd:00:00:00:00', rangeEnd: '02:bd:00:00:ff:ff' },
      ...(o.binDir ? { binDir: o.binDir } : {}),
      delegates: [
        { name: 'cluster', masterPlugin: true, type: 'bridge', bridge: this.clusterBridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', subnet: '10.237.0.0/16', dataDir: this.ipamDir } },
      ],
    };
  }

  /**
   * A new pod asking for both NADs; returns the runtime's CNI environment for its sandbox in `netns`. `generated`: a name
   * the API server made from `generateName` (a Deployment's pod), else a name of its own (a StatefulSet's, or a bare pod's).
   */
  pod(tag: string, netns: string, o: { generated?: boolean } = {}): { env: Record<string, string>; containerID: string } {
    const n = this.pods++;
    // The API server's suffix: 5 characters of its generator's alphabet.
    const name = o.generated ? `${tag}-${[...n.toString(27).padStart(5, '0')].map((d) => 'bcdfghjklmnpqrstvwxz2456789'[parseInt(d, 27)]).join('')}` : `${tag}-${n}`;
    const generateName = o.generated ? { generateName: `${tag}-` } : {};
    const obj = this.api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name, ...generateName, namespace: 'default', annotations: { [NETWORKS]: NADS.join(',') } } });
    const containerID = `${this.sb.prefix}${name}`;
    return {
      containerID,
      env: {
        CNI_CONTAINERID: containerID,
        CNI_NETNS: `/run/netns/${netns}`,
        CNI_IFNAME: 'eth0',
        CNI_PATH: PLUGIN_DIR,
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${containerID};K8S_POD_UID=${obj.metadata!.uid}`,
      },
    };
  }

  /** macmux `command` as a runtime runs it: PATH plus the CNI variables, the config on stdin. */
  macmux(command: 'ADD' | 'DEL', conf: Record<string, unknown>, env: Record<string, string>, rss = false): Promise<Run> {
    return run(this.binary, [], { env: cleanEnv({ CNI_COMMAND: command, ...env }), input: JSON.stringify(conf), rss, what: `macmux ${command} (${env.CNI_CONTAINERID})` });
  }
}
