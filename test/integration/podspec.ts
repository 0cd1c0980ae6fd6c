// daemonset.yaml's pod as `podman run` flags: command, args and env (downward API substituted, $(VAR) expanded as kubelet does), volumes under a temp host root, the security context; every field podman cannot express is listed by name with the reason.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

type Obj = Record<string, unknown>;

export interface PodContext {
  /** stands for the node's `/`: hostPath volumes are created and mounted from under it */
  hostRoot: string;
  /** where configMap, projected and secret volumes are materialised */
  volumesDir: string;
  /** downward-API values by fieldPath (spec.nodeName, metadata.namespace, status.podIP) */
  fieldRefs: Record<string, string>;
  /** ConfigMaps volumes may name, by name: their data */
  configMaps: Record<string, Record<string, string>>;
  /** the bound service-account token kubelet would project */
  token: string;
  /** what kubelet adds to every container's env (KUBERNETES_SERVICE_HOST/PORT) */
  kubeletEnv: Record<string, string>;
}

export interface PodmanPod {
  /** `podman run` flags, the image not included */
  flags: string[];
  image: string;
  /** what follows the image: the container's command (as --entrypoint) is in flags, these are its args */
  args: string[];
  env: Record<string, string>;
  /** host path of each volume by name */
  volumes: Record<string, string>;
  /** the container's mounts: path in the container → readOnly */
  mounts: Record<string, boolean>;
}

/**
 * Fields of the manifest podman does not express here, with the reason. A field of daemonset.yaml that is
 * neither translated below nor listed here fails the test until it is handled.
 */
export const NOT_EXPRESSED: Record<string, string> = {
  'spec.selector': 'a DaemonSet controller field: one container is run by hand',
  'spec.updateStrategy': 'a DaemonSet controller field: upgrades are not rolled here',
  'spec.template.metadata': 'labels and Prometheus annotations: read by the API, not by a runtime',
  'pod.tolerations': 'scheduling: there is one node',
  'pod.priorityClassName': 'eviction order: nothing is evicted',
  'pod.dnsPolicy': 'ClusterFirstWithHostNet: there is no cluster DNS; with --network host the host resolver is used',
  'pod.serviceAccountName': "the identity is the test API server's token, projected below",
  'container.ports': 'with hostNetwork the port is the node\'s own: nothing to publish',
  'container.readinessProbe': "kubelet's probe: the test GETs /healthz itself",
  'container.livenessProbe': "kubelet's probe: the test GETs /livez itself",
  'container.resources.requests': 'scheduling: no scheduler',
  'volume.projected.serviceAccountToken.expirationSeconds': 'kubelet rotates the token; the test token does not expire',
};

/** Fields translated by podmanPod(). */
const HANDLED = new Set([
  'spec.template.spec',
  'pod.hostNetwork',
  'pod.automountServiceAccountToken',
  'pod.terminationGracePeriodSeconds',
  'pod.securityContext.seccompProfile.type',
  'pod.containers',
  'pod.volumes',
  'container.name',
  'container.image',
  'container.imagePullPolicy',
  'container.command',
  'container.args',
  'container.env',
  'container.resources.limits.cpu',
  'container.resources.limits.memory',
  'container.securityContext.runAsUser',
  'container.securityContext.runAsGroup',
  'container.securityContext.privileged',
  'container.securityContext.allowPrivilegeEscalation',
  'container.securityContext.readOnlyRootFilesystem',
  'container.securityContext.capabilities.drop',
  'container.securityContext.capabilities.add',
  'container.volumeMounts',
  'volume.hostPath.path',
  'volume.hostPath.type',
  'volume.configMap.name',
  'volume.configMap.items',
  'volume.projected.serviceAccountToken.path',
  'volume.projected.configMap.name',
  'volume.projected.configMap.items',
  'volume.emptyDir.medium',
  'volume.emptyDir.sizeLimit',
]);

/** Fields whose children are walked: a field below them is named one level deeper. */
const WALKED = new Set(['spec', 'spec.template', 'pod', 'pod.securityContext', 'pod.securityContext.seccompProfile', 'container', 'container.resources', 'container.resources.limits', 'container.securityContext', 'container.securityContext.capabilities', 'volume', 'volume.hostPath', 'volume.configMap', 'volume.projected', 'volume.projected.serviceAccountToken', 'volume.projected.configMap', 'volume.emptyDir']);

/** Every field path of the DaemonSet's spec that the translation must account for, in the names above (pod., container., volume.). */
export function manifestFields(ds: Obj): string[] {
  const found = new Set<string>();
  const walk = (o: unknown, path: string): void => {
    if (o === null || typeof o !== 'object' || Array.isArray(o)) return;
    for (const [k, v] of Object.entries(o as Obj)) {
      const p = `${path}.${k}`;
      if (p === 'spec.template.spec') {
        found.add(p);
        walk(v, 'pod');
      } else if (p === 'pod.containers') {
        found.add(p);
        for (const c of v as Obj[]) walk(c, 'container');
      } else if (p === 'pod.volumes') {
        found.add(p);
        for (const vol of v as Obj[]) walk(vol, 'volume');
      } else if (p === 'volume.name') {
        // a volume's name is how mounts refer to it
      } else if (p === 'volume.projected.sources') {
        for (const src of v as Obj[]) walk(src, 'volume.projected');
      } else if (WALKED.has(p)) walk(v, p);
      else found.add(p);
    }
  };
  walk(ds.spec, 'spec');
  return [...found].sort();
}

/** The fields of `ds` this module handles or names, and those it does neither. */
export function unaccounted(ds: Obj): string[] {
  return manifestFields(ds).filter((f) => !HANDLED.has(f) && !(f in NOT_EXPRESSED));
}

/** A Kubernetes quantity (16Mi, 256Mi, 200m, 2) as a number of units (bytes, cores). */
export function quantity(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = /^(\d+(?:\.\d+)?)(m|k|M|G|Ki|Mi|Gi)?$/.exec(q);
  if (!m) throw new Error(`quantity ${q}`);
  const mult: Record<string, number> = { '': 1, m: 0.001, k: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };
  return Number(m[1]) * mult[m[2] ?? '']!;
}

/** kubelet's $(VAR) expansion of command and args: variables of the container's env only; $$ is a literal $. */
export function expand(s: string, env: Record<string, string>): string {
  return s.replace(/\$\$|\$\((\w+)\)/g, (all, name?: string) => (all === '$$' ? '$' : name !== undefined && name in env ? env[name]! : all));
}

function writeItems(dir: string, data: Record<string, string>, items: Array<{ key: string; path: string }> | undefined, what: string): void {
  mkdirSync(dir, { recursive: true });
  for (const it of items ?? Object.keys(data).map((key) => ({ key, path: key }))) {
    if (!(it.key in data)) throw new Error(`${what}: no key ${it.key}`);
    writeFileSync(join(dir, it.path), data[it.key]!);
  }
}

/** The DaemonSet's one container as `podman run` flags and argv, its volumes created under ctx. */
export function podmanPod(ds: Obj, ctx: PodContext): PodmanPod {
  const missing = unaccounted(ds);
  if (missing.length) throw new Error(`daemonset.yaml fields neither translated to podman nor named in NOT_EXPRESSED: ${missing.join(', ')}`);
  const pod = ((ds.spec as Obj).template as Obj).spec as Obj;
  const [c, ...more] = pod.containers as Obj[];
  if (!c || more.length) throw new Error('one container');
  const flags: string[] = ['--name', `${String(c.name)}-${process.pid}`];

  if (pod.hostNetwork !== true) throw new Error('the test needs hostNetwork');
  flags.push('--network', 'host');
  // automountServiceAccountToken: false: nothing is mounted but the volumes below.
  if (pod.automountServiceAccountToken !== false) throw new Error('expected automountServiceAccountToken: false');
  if (typeof pod.terminationGracePeriodSeconds === 'number') flags.push('--stop-timeout', String(pod.terminationGracePeriodSeconds));
  const seccomp = ((pod.securityContext as Obj | undefined)?.seccompProfile as Obj | undefined)?.type;
  // podman's default seccomp profile is the runtime default; only RuntimeDefault is translated.
  if (seccomp !== 'RuntimeDefault') throw new Error(`seccompProfile ${String(seccomp)} is not translated`);

  // env: values and the downward API, then what kubelet adds.
  const env: Record<string, string> = {};
  for (const e of (c.env as Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }> | undefined) ?? []) {
    if (e.value !== undefined) env[e.name] = expand(e.value, env);
    else if (e.valueFrom?.fieldRef) {
      const v = ctx.fieldRefs[e.valueFrom.fieldRef.fieldPath];
      if (v === undefined) throw new Error(`env ${e.name}: no value for fieldRef ${e.valueFrom.fieldRef.fieldPath}`);
      env[e.name] = v;
    } else throw new Error(`env ${e.name}: only value and fieldRef are translated`);
  }
  Object.assign(env, ctx.kubeletEnv);
  for (const [k, v] of Object.entries(env)) flags.push('--env', `${k}=${v}`);

  const command = ((c.command as string[] | undefined) ?? []).map((s) => expand(s, env));
  if (!command.length) throw new Error('the image has an entrypoint, but the manifest must name its command');
  flags.push('--entrypoint', JSON.stringify(command));
  const args = ((c.args as string[] | undefined) ?? []).map((s) => expand(s, env));

  const policy = c.imagePullPolicy ?? 'IfNotPresent';
  flags.push('--pull', ({ IfNotPresent: 'missing', Always: 'always', Never: 'never' } as Record<string, string>)[String(policy)]!);

  const limits = ((c.resources as Obj | undefined)?.limits ?? {}) as Record<string, string>;
  if (limits.cpu !== undefined) flags.push('--cpus', String(quantity(limits.cpu)));
  if (limits.memory !== undefined) flags.push('--memory', String(quantity(limits.memory)));

  const sc = (c.securityContext ?? {}) as { runAsUser?: number; runAsGroup?: number; privileged?: boolean; allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { add?: string[]; drop?: string[] } };
  if (sc.privileged) flags.push('--privileged');
  if (sc.runAsUser !== undefined) flags.push('--user', `${sc.runAsUser}:${sc.runAsGroup ?? sc.runAsUser}`);
  if (sc.allowPrivilegeEscalation === false) flags.push('--security-opt', 'no-new-privileges');
  // Without --read-only-tmpfs=false podman would add writable tmpfs on /tmp, /var/tmp and /run: only the volumes may be writable.
  if (sc.readOnlyRootFilesystem) flags.push('--read-only', '--read-only-tmpfs=false');
  for (const cap of sc.capabilities?.drop ?? []) flags.push('--cap-drop', cap);
  for (const cap of sc.capabilities?.add ?? []) flags.push('--cap-add', cap);

  // volumes
  const volumes: Record<string, string> = {};
  const tmpfs: Record<string, string> = {};
  for (const v of pod.volumes as Obj[]) {
    const name = String(v.name);
    const dir = join(ctx.volumesDir, name);
    if (v.hostPath) {
      const hp = v.hostPath as { path: string; type?: string };
      if (hp.type !== undefined && hp.type !== 'DirectoryOrCreate') throw new Error(`hostPath type ${hp.type} is not translated`);
      // DirectoryOrCreate creates it; without a type, the runtime creates a missing directory too.
      volumes[name] = join(ctx.hostRoot, hp.path);
      mkdirSync(volumes[name]!, { recursive: true });
    } else if (v.configMap) {
      const cm = v.configMap as { name: string; items?: Array<{ key: string; path: string }> };
      const data = ctx.configMaps[cm.name];
      if (!data) throw new Error(`volume ${name}: no ConfigMap ${cm.name}`);
      writeItems(dir, data, cm.items, `volume ${name}`);
      volumes[name] = dir;
    } else if (v.projected) {
      mkdirSync(dir, { recursive: true });
      for (const src of (v.projected as { sources: Obj[] }).sources) {
        if (src.serviceAccountToken) writeFileSync(join(dir, (src.serviceAccountToken as { path: string }).path), ctx.token);
        else if (src.configMap) {
          const cm = src.configMap as { name: string; items?: Array<{ key: string; path: string }> };
          const data = ctx.configMaps[cm.name];
          if (!data) throw new Error(`volume ${name}: no ConfigMap ${cm.name}`);
          writeItems(dir, data, cm.items, `volume ${name}`);
        } else throw new Error(`volume ${name}: projected source ${Object.keys(src).join()} is not translated`);
      }
      volumes[name] = dir;
    } else if (v.emptyDir) {
      const ed = v.emptyDir as { medium?: string; sizeLimit?: string };
      if (ed.medium !== 'Memory') throw new Error(`volume ${name}: only a Memory emptyDir is translated`);
      tmpfs[name] = `rw,mode=0777${ed.sizeLimit ? `,size=${quantity(ed.sizeLimit)}` : ''}`;
    } else throw new Error(`volume ${name}: ${Object.keys(v).join()} is not translated`);
  }
  const mounts: Record<string, boolean> = {};
  for (const m of c.volumeMounts as Array<{ name: string; mountPath: string; readOnly?: boolean; [k: string]: unknown }>) {
    const extra = Object.keys(m).filter((k) => !['name', 'mountPath', 'readOnly'].includes(k));
    if (extra.length) throw new Error(`volumeMount ${m.name}: ${extra.join()} is not translated`);
    mounts[m.mountPath] = m.readOnly === true;
    if (tmpfs[m.name] !== undefined) flags.push('--tmpfs', `${m.mountPath}:${tmpfs[m.name]}`);
    else if (volumes[m.name] !== undefined) flags.push('--volume', `${volumes[m.name]}:${m.mountPath}:${m.readOnly ? 'ro' : 'rw'}`);
    else throw new Error(`volumeMount ${m.name}: no such volume`);
  }
  return { flags, image: String(c.image), args, env, volumes, mounts };
}
