// The install manifests in daemonset/: they parse, have headers and the expected kinds, grant exactly API_PERMISSIONS, and agree with install's flags, the config schema and the MAC rules.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { load, loadAll } from 'js-yaml';
import type { Command } from 'commander';
import { API_PERMISSIONS } from '../../src/k8s/api';
import { buildProgram } from '../../src/cli/program';
import { loadConf, toNetworkList } from '../../src/config/load';
import { assignable, parseRange, poolSize } from '../../src/mac/range';
import { claimsCm, LEDGER_LABEL, ledgerCm, POOL_CM } from '../../src/mac/home';
import { OWNERS_LABEL, OWNERS_PREFIX } from '../../src/mac/owners';
import { createExporter } from '../../src/metrics/exporter';
import { NETWORK_STATUS_ANNOTATION } from '../../src/annotations/status';
import { isUnicast, parseMac } from '../../src/mac/address';
import { parseNetworks, NETWORKS_ANNOTATION } from '../../src/annotations/networks';
import { parseListen } from '../../src/install/paths';
import { imageRef } from '../../scripts/image/oci';

const dir = join(__dirname, '..', '..', 'daemonset');
const examplesDir = join(dir, 'examples');
/** Applied only on request (`kubectl apply -f daemonset/optional/`): the admission policies. */
const optionalDir = join(dir, 'optional');

interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Obj {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  [field: string]: unknown;
}
interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
interface Binding extends Obj {
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects: Array<{ kind: string; name: string; namespace?: string }>;
}
interface Probe {
  httpGet?: { path: string; port: number | string };
}
interface Container {
  name: string;
  image: string;
  imagePullPolicy?: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsUser?: number;
    privileged?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean; subPath?: string }>;
}
interface ProjectedSource {
  serviceAccountToken?: { path: string; expirationSeconds?: number; audience?: string };
  configMap?: { name: string; items?: Array<{ key: string; path: string }> };
}
interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
  configMap?: { name: string; items?: Array<{ key: string; path: string }> };
  projected?: { sources: ProjectedSource[] };
}
interface DaemonSet extends Obj {
  spec: {
    selector: { matchLabels: Record<string, string> };
    updateStrategy?: { type: string; rollingUpdate?: { maxUnavailable?: string | number } };
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: {
        tolerations?: Array<Record<string, unknown>>;
        priorityClassName?: string;
        hostNetwork?: boolean;
        serviceAccountName?: string;
        automountServiceAccountToken?: boolean;
        terminationGracePeriodSeconds?: number;
        containers: Container[];
        volumes: Volume[];
      };
    };
  };
}

const yamlFiles = (d: string) => readdirSync(d).filter((f) => /\.ya?ml$/.test(f)).sort();
const read = (d: string, f: string) => readFileSync(join(d, f), 'utf8');
const docsOf = (text: string) => (loadAll(text) as unknown[]).filter((d) => d !== null && d !== undefined) as Obj[];

/** What `kubectl apply -f daemonset/` applies: the top-level YAML files, not examples/. */
const installed = yamlFiles(dir).flatMap((f) => docsOf(read(dir, f)).map((o) => ({ file: f, o })));
const all = installed.map((x) => x.o);
const only = <T extends Obj>(kind: string, name?: string): T => {
  const found = all.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `exactly one ${kind}${name ? ` ${name}` : ''} in daemonset/`);
  return found[0] as T;
};

const ds = () => only<DaemonSet>('DaemonSet');
const podSpec = () => ds().spec.template.spec;
const container = () => {
  const cs = podSpec().containers;
  assert.equal(cs.length, 1, 'one container');
  return cs[0]!;
};

/** The `install` subcommand as the real CLI builds it. */
function installCommand(): Command {
  const sink = () => undefined;
  const program = buildProgram({ out: sink, err: sink, getenv: () => undefined });
  const cmd = program.commands.find((c) => c.name() === 'install');
  assert.ok(cmd, 'the CLI has an install command');
  return cmd.exitOverride().configureOutput({ writeOut: sink, writeErr: sink });
}

/** The DaemonSet's `install` arguments parsed by the real command: its option values, defaults included. */
function installOptions(): Record<string, string | boolean | undefined> {
  const c = container();
  const argv = [...(c.command ?? []), ...(c.args ?? [])];
  assert.deepEqual(argv.slice(0, 2), ['/macmux', 'install'], 'runs /macmux install');
  const cmd = installCommand();
  const parsed = cmd.parseOptions(argv.slice(2));
  assert.deepEqual(parsed.unknown, [], 'every argument is an option of install');
  assert.deepEqual(parsed.operands, [], 'install takes no operands');
  return cmd.opts();
}

const str = (v: unknown, what: string): string => {
  assert.equal(typeof v, 'string', `${what} is set`);
  return v as string;
};
const portOf = (listen: string) => Number(/:(\d+)$/.exec(listen)?.[1]);

/** A CPU or memory quantity in base units (cores, bytes). */
function quantity(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|k|M|G)?$/.exec(q);
  assert.ok(m, `quantity ${q}`);
  const mult: Record<string, number> = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 };
  return Number(m[1]) * mult[m[2] ?? '']!;
}

describe('daemonset/ manifests', () => {
  for (const [d, f] of [dir, examplesDir, optionalDir].flatMap((d) => yamlFiles(d).map((f) => [d, f] as const))) {
    it(`${posix.join('daemonset', posix.relative(dir, d), f)} parses and opens with a comment header`, () => {
      const text = read(d, f);
      const header = text.split('\n').findIndex((l) => !l.startsWith('#'));
      assert.ok(header >= 3, 'at least three comment lines before the first object');
      assert.match(text.split('\n')[0]!, /^# \S/, 'the first line says what the file is');
      const docs = docsOf(text);
      assert.ok(docs.length >= 1, 'holds an object');
      for (const o of docs) {
        assert.equal(typeof o.apiVersion, 'string');
        assert.equal(typeof o.kind, 'string');
        assert.equal(typeof o.metadata?.name, 'string');
      }
    });
  }

  it('kubectl apply -f daemonset/ installs the expected kinds, namespaced ones in the DaemonSet namespace', () => {
    assert.deepEqual(
      all.map((o) => o.kind).sort(),
      ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'ConfigMap', 'CustomResourceDefinition', 'DaemonSet', 'Role', 'RoleBinding', 'ServiceAccount'],
    );
    const ns = ds().metadata.namespace;
    assert.equal(ns, 'kube-system');
    for (const o of all.filter((x) => !['ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition'].includes(x.kind))) {
      assert.equal(o.metadata.namespace, ns, `${o.kind} ${o.metadata.name} namespace`);
    }
    for (const f of yamlFiles(examplesDir)) {
      assert.deepEqual(docsOf(read(examplesDir, f)).map((o) => `${o.apiVersion} ${o.kind}`), ['k8s.cni.cncf.io/v1 NetworkAttachmentDefinition'], f);
    }
  });

  it('the CRD is the standard NetworkAttachmentDefinition', () => {
    const crd = only<Obj & { spec: Record<string, any> }>('CustomResourceDefinition');
    assert.equal(crd.apiVersion, 'apiextensions.k8s.io/v1');
    assert.equal(crd.metadata.name, 'network-attachment-definitions.k8s.cni.cncf.io');
    const s = crd.spec;
    assert.equal(s.group, 'k8s.cni.cncf.io');
    assert.equal(s.scope, 'Namespaced');
    assert.equal(s.names.kind, 'NetworkAttachmentDefinition');
    assert.equal(s.names.plural, 'network-attachment-definitions');
    assert.deepEqual(s.names.shortNames, ['net-attach-def']);
    const v1 = (s.versions as Array<Record<string, any>>).find((v) => v.name === 'v1');
    assert.ok(v1 && v1.served === true && v1.storage === true, 'v1 is served and stored');
    assert.equal(v1.schema.openAPIV3Schema.properties.spec.properties.config.type, 'string');
  });

  describe('RBAC', () => {
    const triples = (entries: typeof API_PERMISSIONS) =>
      new Set(entries.flatMap((p) => p.verbs.map((v) => `${p.group ?? ''}/${p.resource}/${v}`)));
    const granted = (rules: Rule[]) => {
      const out = new Set<string>();
      for (const r of rules) {
        const fields = [...(r.apiGroups ?? []), ...(r.resources ?? []), ...(r.verbs ?? [])];
        assert.ok(!fields.some((x) => x.includes('*')), `no wildcards: ${JSON.stringify(r)}`);
        assert.equal(r.nonResourceURLs, undefined, 'no non-resource URLs');
        assert.ok((r.apiGroups ?? []).length > 0 && (r.resources ?? []).length > 0 && (r.verbs ?? []).length > 0, `complete rule ${JSON.stringify(r)}`);
        for (const g of r.apiGroups!) for (const res of r.resources!) for (const v of r.verbs!) out.add(`${g}/${res}/${v}`);
      }
      return out;
    };
    const sorted = (s: Set<string>) => [...s].sort();

    it('API_PERMISSIONS only uses the scopes this test maps (cluster-wide or the macmux namespace)', () => {
      for (const p of API_PERMISSIONS) assert.ok(p.namespaced === undefined || p.namespaced === 'macmux', JSON.stringify(p));
    });

    it('the ClusterRole grants exactly the cluster-wide API_PERMISSIONS', () => {
      const role = only<Obj & { rules: Rule[] }>('ClusterRole');
      assert.deepEqual(sorted(granted(role.rules)), sorted(triples(API_PERMISSIONS.filter((p) => p.namespaced === undefined))));
    });

    it('the Role in the DaemonSet namespace grants exactly the macmux-namespace API_PERMISSIONS', () => {
      const role = only<Obj & { rules: Rule[] }>('Role');
      assert.equal(role.metadata.namespace, ds().metadata.namespace);
      assert.deepEqual(sorted(granted(role.rules)), sorted(triples(API_PERMISSIONS.filter((p) => p.namespaced === 'macmux'))));
    });

    it('both bindings bind their role to the DaemonSet ServiceAccount only', () => {
      const sa = only('ServiceAccount');
      assert.equal(sa.metadata.name, 'macmux');
      assert.equal(podSpec().serviceAccountName, sa.metadata.name);
      const subject = [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }];
      const crb = only<Binding>('ClusterRoleBinding');
      assert.deepEqual(crb.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: only('ClusterRole').metadata.name });
      assert.deepEqual(crb.subjects, subject);
      const rb = only<Binding>('RoleBinding');
      assert.equal(rb.metadata.namespace, only('Role').metadata.namespace);
      assert.deepEqual(rb.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: only('Role').metadata.name });
      assert.deepEqual(rb.subjects, subject);
    });
  });

  describe('DaemonSet', () => {
    it('runs on every node, first: tolerates every taint, system-node-critical, hostNetwork', () => {
      const s = podSpec();
      assert.deepEqual(s.tolerations, [{ operator: 'Exists' }]);
      assert.equal(s.priorityClassName, 'system-node-critical');
      assert.equal(s.hostNetwork, true);
      assert.deepEqual(ds().spec.selector.matchLabels, Object.fromEntries(Object.keys(ds().spec.selector.matchLabels).map((k) => [k, ds().spec.template.metadata.labels[k]])));
      assert.equal(ds().spec.updateStrategy?.type, 'RollingUpdate');
      assert.ok(ds().spec.updateStrategy?.rollingUpdate?.maxUnavailable !== undefined, 'maxUnavailable set');
      assert.equal(typeof s.terminationGracePeriodSeconds, 'number');
      assert.match(container().image, /^[\w./-]+:[\w.-]+$/, 'a pinned image tag');
    });

    it('names the image `npm run image` builds, tagged with package.json\'s version, and nothing in daemonset/ names another', () => {
      const { version } = JSON.parse(readFileSync(join(dir, '..', 'package.json'), 'utf8')) as { version: string };
      assert.equal(container().image, imageRef(version));
      assert.equal(container().image, `localhost/macmux:${version}`);
      assert.equal(container().imagePullPolicy, 'IfNotPresent', 'a loaded image is used as it is');
      const files = [...yamlFiles(dir).map((f) => join(dir, f)), ...yamlFiles(optionalDir).map((f) => join(optionalDir, f)), ...yamlFiles(examplesDir).map((f) => join(examplesDir, f)), join(dir, 'README.md')];
      for (const f of files) {
        for (const [ref] of readFileSync(f, 'utf8').matchAll(/(?:[\w.-]+\/)*macmux:[\w.-]*\w/g)) assert.equal(ref, imageRef(version), `${f} names another macmux image`);
      }
    });

    it('its arguments are options of the real `macmux install`', () => {
      const cmd = installCommand();
      const longs = new Set(cmd.options.map((o) => o.long));
      const args = container().args ?? [];
      const flags = args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]!);
      assert.ok(flags.includes('--root') && flags.includes('--listen'), 'passes --root and --listen');
      for (const f of flags) assert.ok(longs.has(f), `install has option ${f} (it has ${[...longs].join(' ')})`);
      const o = installOptions();
      assert.equal(o.root, '/host');
      assert.equal(o.once, undefined, 'keeps running (no --once)');
    });

    it('gets NODE_NAME and POD_NAMESPACE from the downward API', () => {
      const env = container().env ?? [];
      assert.equal(env.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath, 'spec.nodeName');
      assert.equal(env.find((e) => e.name === 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace');
    });

    const mountFor = (volume: (v: Volume) => boolean, what: string) => {
      const vols = podSpec().volumes.filter(volume);
      assert.equal(vols.length, 1, `one volume for ${what}`);
      const mounts = (container().volumeMounts ?? []).filter((m) => m.name === vols[0]!.name);
      assert.equal(mounts.length, 1, `${what} is mounted once`);
      assert.equal(mounts[0]!.subPath, undefined, `${what} is not a subPath mount (those never see updates)`);
      return { volume: vols[0]!, mount: mounts[0]! };
    };

    it('mounts the host paths under --root where install writes them; device plugins read-only', () => {
      const o = installOptions();
      const root = str(o.root, '--root');
      const expected: Array<[string, string]> = [
        ['--bin-dir', '/opt/cni/bin'],
        ['--conf-dir', '/etc/cni/net.d'],
        ['--state-dir', '/var/lib/macmux'],
      ];
      const key = { '--bin-dir': 'binDir', '--conf-dir': 'confDir', '--state-dir': 'stateDir' } as const;
      for (const [flag, hostPath] of expected) {
        assert.equal(str(o[key[flag as keyof typeof key]], flag), hostPath, `${flag} is the host's ${hostPath}`);
        const { volume, mount } = mountFor((v) => v.hostPath?.path === hostPath, hostPath);
        assert.equal(volume.hostPath!.type, 'DirectoryOrCreate', `${hostPath} is created when missing`);
        assert.equal(mount.mountPath, posix.join(root, hostPath), `${hostPath} mounted at --root + host path`);
        assert.notEqual(mount.readOnly, true, `${hostPath} is writable`);
      }
      const dp = mountFor((v) => v.hostPath?.path === '/var/lib/kubelet/device-plugins', 'device plugins');
      assert.equal(dp.mount.readOnly, true);
      assert.equal(dp.mount.mountPath, posix.join(root, '/var/lib/kubelet/device-plugins'));
      assert.deepEqual(podSpec().volumes.filter((v) => v.hostPath).map((v) => v.hostPath!.path).sort(), ['/etc/cni/net.d', '/opt/cni/bin', '/var/lib/kubelet/device-plugins', '/var/lib/macmux'], 'no other host paths');
    });

    it('projects a short-lived token and the cluster CA where install reads them by default', () => {
      assert.equal(podSpec().automountServiceAccountToken, false);
      const o = installOptions();
      const tokenFile = str(o.tokenFile, '--token-file');
      assert.equal(tokenFile, '/var/run/secrets/tokens/macmux');
      const tok = mountFor((v) => v.projected?.sources.some((s) => s.serviceAccountToken) === true, 'the token');
      const src = tok.volume.projected!.sources.find((s) => s.serviceAccountToken)!.serviceAccountToken!;
      assert.ok(src.expirationSeconds !== undefined && src.expirationSeconds >= 600 && src.expirationSeconds <= 3600, `expirationSeconds ${src.expirationSeconds} within 600..3600`);
      assert.equal(src.audience, undefined, 'the API server audience');
      assert.equal(posix.join(tok.mount.mountPath, src.path), tokenFile);

      const caFile = str(o.caFile, '--ca-file');
      assert.equal(caFile, '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt');
      const ca = mountFor((v) => v.projected?.sources.some((s) => s.configMap?.name === 'kube-root-ca.crt') === true, 'the CA');
      const item = ca.volume.projected!.sources.find((s) => s.configMap)!.configMap!.items?.find((i) => i.key === 'ca.crt');
      assert.ok(item, 'projects ca.crt');
      assert.equal(posix.join(ca.mount.mountPath, item.path), caFile);
    });

    it('mounts the macmux-config ConfigMap at install --config', () => {
      const o = installOptions();
      const cm = only('ConfigMap', 'macmux-config');
      const { mount } = mountFor((v) => v.configMap?.name === cm.metadata.name, 'macmux-config');
      assert.equal(posix.join(mount.mountPath, 'config.json'), str(o.config ?? '/etc/macmux/config.json', '--config'));
    });

    it('probes /healthz and /livez, exposes and annotates metrics, all on the --listen port', () => {
      const c = container();
      const port = portOf(str(installOptions().listen, '--listen'));
      assert.ok(port > 0, 'a fixed port');
      const resolve = (p: number | string) => (typeof p === 'number' ? p : c.ports?.find((x) => x.name === p)?.containerPort);
      assert.equal(c.readinessProbe?.httpGet?.path, '/healthz');
      assert.equal(resolve(c.readinessProbe!.httpGet!.port), port);
      assert.equal(c.livenessProbe?.httpGet?.path, '/livez');
      assert.equal(resolve(c.livenessProbe!.httpGet!.port), port);
      assert.ok(c.ports?.some((p) => p.containerPort === port), 'declares the port');
      const a = ds().spec.template.metadata.annotations ?? {};
      assert.equal(a['prometheus.io/scrape'], 'true');
      assert.equal(a['prometheus.io/port'], String(port));
    });

    it('binds the endpoint to the pod IP (the node address kubelet probes), not every address and not loopback', () => {
      const c = container();
      const env = c.env ?? [];
      assert.equal(env.find((e) => e.name === 'POD_IP')?.valueFrom?.fieldRef?.fieldPath, 'status.podIP');
      // kubelet expands $(VAR) in args only for variables of the container's env; others stay literal.
      for (const a of c.args ?? []) {
        for (const [, v] of a.matchAll(/\$\((\w+)\)/g)) assert.ok(env.some((e) => e.name === v), `${a}: ${v} is in the container's env`);
      }
      const listen = str(installOptions().listen, '--listen');
      assert.match(listen, /^\[\$\(POD_IP\)\]:\d+$/, 'the pod IP, in brackets for IPv6');
      const expand = (ip: string) => listen.replace('$(POD_IP)', ip);
      assert.deepEqual(parseListen(expand('10.0.0.7')), { host: '10.0.0.7', port: portOf(listen) }, 'an IPv4 node');
      assert.deepEqual(parseListen(expand('fd00::7')), { host: 'fd00::7', port: portOf(listen) }, 'an IPv6 node');
      assert.throws(() => parseListen(listen), /POD_IP/, 'unexpanded, install refuses it instead of serving somewhere else');
    });

    it('has CPU and memory requests no higher than its limits', () => {
      const r = container().resources;
      for (const res of ['cpu', 'memory']) {
        const req = r?.requests?.[res];
        const lim = r?.limits?.[res];
        assert.ok(req && lim, `${res} request and limit`);
        assert.ok(quantity(req) <= quantity(lim), `${res} ${req} <= ${lim}`);
      }
    });

    it('runs with least privilege: no escalation, no capabilities, read-only root filesystem', () => {
      const sc = container().securityContext;
      assert.equal(sc?.allowPrivilegeEscalation, false);
      assert.notEqual(sc?.privileged, true);
      assert.equal(sc?.readOnlyRootFilesystem, true);
      assert.deepEqual(sc?.capabilities?.drop, ['ALL']);
      assert.deepEqual(sc?.capabilities?.add ?? [], []);
    });
  });

  describe('optional admission policies (daemonset/optional/)', () => {
    interface Expr {
      name?: string;
      expression: string;
      message?: string;
      reason?: string;
    }
    interface Policy extends Obj {
      spec: {
        failurePolicy?: string;
        paramKind?: unknown;
        matchConstraints: { resourceRules: Array<{ apiGroups: string[]; apiVersions: string[]; operations: string[]; resources: string[] }> };
        matchConditions?: Expr[];
        variables?: Expr[];
        validations: Expr[];
      };
    }
    interface PolicyBinding extends Obj {
      spec: { policyName: string; validationActions: string[]; paramRef?: unknown; matchResources?: unknown };
    }
    const objs = yamlFiles(optionalDir)
      .flatMap((f) => docsOf(read(optionalDir, f)))
      .filter((o) => o.apiVersion.startsWith('admissionregistration.k8s.io/'));
    const policies = objs.filter((o) => o.kind === 'ValidatingAdmissionPolicy') as Policy[];
    const bindings = objs.filter((o) => o.kind === 'ValidatingAdmissionPolicyBinding') as PolicyBinding[];
    /** The admission operation of each API verb; reads are never admission requests. */
    const operationOf: Record<string, string | null> = { get: null, list: null, watch: null, create: 'CREATE', update: 'UPDATE', patch: 'UPDATE', delete: 'DELETE', deletecollection: 'DELETE' };
    const covering = (group: string, resource: string, op: string) =>
      policies.filter((p) => p.spec.matchConstraints.resourceRules.some((r) => r.apiGroups.includes(group) && r.apiVersions.includes('v1') && r.resources.includes(resource) && r.operations.includes(op)));
    const policy = (name: string) => {
      const p = policies.find((x) => x.metadata.name === name);
      assert.ok(p, `policy ${name}`);
      return p;
    };
    const variable = (p: Policy, name: string) => p.spec.variables?.find((v) => v.name === name)?.expression;
    /** Every expression of the policy's variables and validations, as one text. */
    const logic = (p: Policy) => [...(p.spec.variables ?? []), ...p.spec.validations].map((e) => e.expression).join('\n');

    it('holds the pod and the ledger policy with their bindings, admissionregistration.k8s.io/v1 (GA in 1.30), none applied by kubectl apply -f daemonset/', () => {
      assert.deepEqual(objs.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata.name}`).sort(), [
        'admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy macmux-ledger-writes',
        'admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy macmux-pod-writes',
        'admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding macmux-ledger-writes',
        'admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding macmux-pod-writes',
      ]);
      assert.ok(!all.some((o) => o.kind.startsWith('ValidatingAdmissionPolicy')), 'not in the top-level files');
    });

    it('each policy has one binding, which denies (validationActions [Deny]) without narrowing or parameters', () => {
      for (const p of policies) {
        const bs = bindings.filter((b) => b.spec.policyName === p.metadata.name);
        assert.equal(bs.length, 1, `one binding for ${p.metadata.name}`);
        assert.deepEqual(bs[0]!.spec.validationActions, ['Deny']);
        assert.equal(bs[0]!.spec.paramRef, undefined);
        assert.equal(bs[0]!.spec.matchResources, undefined, 'the policy\'s own matchConstraints apply');
        assert.equal(p.spec.paramKind, undefined);
        assert.equal(p.spec.failurePolicy ?? 'Fail', 'Fail', 'an expression that cannot be evaluated denies');
      }
      assert.equal(bindings.length, policies.length);
    });

    it('matches only the DaemonSet\'s ServiceAccount, by the user name the API server gives its token', () => {
      const sa = only('ServiceAccount');
      assert.equal(podSpec().serviceAccountName, sa.metadata.name);
      assert.equal(sa.metadata.namespace, ds().metadata.namespace);
      const user = `system:serviceaccount:${sa.metadata.namespace}:${sa.metadata.name}`;
      for (const p of policies) {
        assert.deepEqual((p.spec.matchConditions ?? []).map((c) => c.expression), [`request.userInfo.username == '${user}'`], p.metadata.name);
      }
    });

    it('covers every write macmux makes (API_PERMISSIONS), as the admission operation it arrives as', () => {
      for (const perm of API_PERMISSIONS) {
        for (const verb of perm.verbs) {
          assert.ok(verb in operationOf, `admission operation of verb ${verb} is known`);
          const op = operationOf[verb];
          if (op === null) continue; // a read: admission never sees it
          const by = covering(perm.group ?? '', perm.resource, op!);
          assert.equal(by.length, 1, `${perm.resource} ${verb} (${op}) is checked by one policy`);
        }
      }
      assert.deepEqual(covering('', 'pods', 'UPDATE').map((p) => p.metadata.name), ['macmux-pod-writes']);
      assert.deepEqual(covering('', 'pods/*', 'UPDATE').map((p) => p.metadata.name), ['macmux-pod-writes'], 'and every pod subresource');
      assert.deepEqual(covering('', 'configmaps', 'CREATE').map((p) => p.metadata.name), ['macmux-ledger-writes']);
    });

    it('every validation denies as Forbidden (403: macmux reads a 422 as a re-created pod) with a message', () => {
      for (const p of policies) {
        assert.ok(p.spec.validations.length > 0);
        for (const v of p.spec.validations) {
          assert.equal(v.reason, 'Forbidden', v.expression);
          assert.ok(typeof v.message === 'string' && v.message.startsWith('macmux may '), v.expression);
        }
      }
    });

    it('the pod policy compares the pod as it would be stored with the pod as it is, everything but the network-status annotation', () => {
      const p = policy('macmux-pod-writes');
      assert.equal(variable(p, 'statusAnnotation'), `'${NETWORK_STATUS_ANNOTATION}'`, 'the annotation macmux writes (src/annotations/status.ts)');
      const text = logic(p);
      const literals = [...text.matchAll(/'([^']*)'/g)].map((m) => m[1]);
      assert.deepEqual([...new Set(literals)].sort(), ['', NETWORK_STATUS_ANNOTATION].sort(), 'no other annotation or field named by string');
      assert.match(text, /variables\.statusAnnotation/);
      assert.ok(p.spec.validations.some((v) => v.expression === "request.subResource == ''"), 'no subresource at all');
      for (const f of ['spec', 'status', 'metadata.labels', 'metadata.annotations', 'metadata.ownerReferences', 'metadata.finalizers', 'metadata.generateName', 'metadata.deletionTimestamp']) {
        assert.ok(text.includes(`object.${f}`) && text.includes(`oldObject.${f}`), `compares ${f}`);
      }
      // Changed by the API server on every write, or immutable and refused by it before admission (so
      // macmux's uid precondition keeps its 409/422): never compared.
      for (const f of ['resourceVersion', 'managedFields', 'generation', 'uid', 'creationTimestamp', 'selfLink']) assert.doesNotMatch(text, new RegExp(`\\b${f}\\b`), f);
    });

    it('every optional field is read behind has(), on both objects', () => {
      for (const p of policies) {
        const text = logic(p);
        const fields = new Set([...text.matchAll(/\b(?:object|oldObject)\.((?:metadata\.)?\w+)/g)].map((m) => m[1]!));
        for (const f of fields) {
          if (['spec', 'metadata.name'].includes(f)) continue; // always set on a stored pod / a named ConfigMap
          // The ledger policy reads the object through variables.cm (oldObject on DELETE).
          assert.ok(text.includes(`has(object.${f})`) || text.includes(`has(variables.cm.${f})`), `${p.metadata.name}: has(object.${f})`);
          if (text.includes(`oldObject.${f}`)) assert.ok(text.includes(`has(oldObject.${f})`), `${p.metadata.name}: has(oldObject.${f})`);
        }
      }
    });

    it('the ledger policy allows only the ConfigMap names and the label macmux\'s ledger uses', () => {
      const p = policy('macmux-ledger-writes');
      assert.equal(variable(p, 'ledgerLabel'), `'${LEDGER_LABEL}'`);
      assert.equal(variable(p, 'indexLabel'), `'${OWNERS_LABEL}'`, 'the owner index label (src/mac/owners.ts)');
      const claimsPrefix = claimsCm('02:00:00:00:00:01').replace(/[0-9a-f]{2}$/, '');
      const ownersPrefix = OWNERS_PREFIX;
      assert.equal(ownersPrefix, 'macmux-owners-');
      const names = p.spec.validations.find((v) => v.expression.includes('metadata.name'))!.expression;
      assert.deepEqual([...names.matchAll(/'([^']*)'/g)].map((m) => m[1]).sort(), [POOL_CM, ledgerCm(''), claimsPrefix, ownersPrefix].sort());
      assert.match(names, new RegExp(`startsWith\\('${ownersPrefix}'\\)`));
      assert.match(names, new RegExp(`variables\\.cm\\.metadata\\.name == '${POOL_CM}'`), 'the pool by its exact name');
      assert.match(names, new RegExp(`startsWith\\('${ledgerCm('')}'\\)`));
      assert.match(names, new RegExp(`startsWith\\('${claimsPrefix}'\\)`));
      const settings = only('ConfigMap', 'macmux-config').metadata.name;
      assert.ok(settings !== POOL_CM && !settings.startsWith(ledgerCm('')) && !settings.startsWith(claimsPrefix), 'macmux-config is not a ledger name');
      // The label key a name must carry: the index label for owner index shards, the ledger label for the rest.
      assert.equal(variable(p, 'cm'), `request.operation == 'DELETE' ? oldObject : object`, 'on DELETE the object deleted');
      assert.equal(variable(p, 'labelKey'), `variables.cm.metadata.name.startsWith('${ownersPrefix}') ? variables.indexLabel : variables.ledgerLabel`);
      const label = p.spec.validations.find((v) => v.expression.includes('variables.labelKey'))!.expression;
      assert.match(label, /variables\.labelKey in variables\.cm\.metadata\.labels/);
      const deletes = p.spec.validations.find((v) => v.expression.includes("request.operation != 'DELETE'"))!.expression;
      assert.ok(deletes.includes(`variables.cm.metadata.name.startsWith('${ownersPrefix}')`), 'only owner-index objects are deleted');
      assert.match(label, /variables\.labelKey in oldObject\.metadata\.labels/);
      assert.match(label, /request\.operation != 'UPDATE'/, 'only an update has an oldObject to compare (a create has none, a delete is checked on it)');
    });
  });

  describe('optional PrometheusRule (daemonset/optional/prometheusrule.yaml)', () => {
    interface AlertRule {
      alert: string;
      expr: string;
      for?: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    }
    const file = 'prometheusrule.yaml';
    const rules = () => {
      const docs = docsOf(read(optionalDir, file));
      assert.deepEqual(docs.map((o) => `${o.apiVersion} ${o.kind}`), ['monitoring.coreos.com/v1 PrometheusRule']);
      const groups = (docs[0] as Obj & { spec: { groups: Array<{ name: string; rules: AlertRule[] }> } }).spec.groups;
      assert.ok(groups.length > 0 && groups.every((g) => typeof g.name === 'string' && g.rules.length > 0));
      return groups.flatMap((g) => g.rules);
    };
    const rule = (name: string) => {
      const r = rules().find((x) => x.alert === name);
      assert.ok(r, `alert ${name}`);
      return r;
    };
    /** The metrics and their label names as the exporter of a DaemonSet pod registers them (with an API and a node). */
    async function registry(): Promise<Map<string, Set<string>>> {
      const e = createExporter({ statsFile: '/nonexistent/macmux-stats.json', readLedger: async () => [], node: 'n', graceSec: 600, processMetrics: false });
      const text = await e.metrics();
      const out = new Map<string, Set<string>>();
      for (const [, name] of text.matchAll(/^# TYPE (\w+) \w+$/gm)) out.set(name!, new Set());
      for (const [, name, labels] of text.matchAll(/^(\w+)\{([^}]*)\}/gm)) for (const [, l] of labels!.matchAll(/(\w+)="/g)) out.get(name!)?.add(l!);
      return out;
    }

    it('is not applied by kubectl apply -f daemonset/ (clusters without the monitoring.coreos.com CRDs), and sits in the kube-system namespace', () => {
      assert.ok(!all.some((o) => o.kind === 'PrometheusRule'));
      const o = docsOf(read(optionalDir, file))[0]!;
      assert.equal(o.metadata.namespace, ds().metadata.namespace);
    });

    it('every rule is an alert with an expression, a severity, a summary and a description', () => {
      assert.deepEqual(rules().map((r) => r.alert).sort(), ['MacmuxDuplicateMacs', 'MacmuxLedgerObjectOversized', 'MacmuxPoolExhausted', 'MacmuxPoolNearlyExhausted']);
      for (const r of rules()) {
        assert.equal(typeof r.expr, 'string', r.alert);
        assert.match(r.for ?? '', /^\d+m$/, `${r.alert}: for`);
        assert.ok(['warning', 'critical'].includes(r.labels?.severity ?? ''), `${r.alert}: severity`);
        assert.ok(r.annotations?.summary && r.annotations.description, `${r.alert}: summary and description`);
        assert.equal((r.expr.match(/\(/g) ?? []).length, (r.expr.match(/\)/g) ?? []).length, `${r.alert}: balanced parentheses`);
      }
    });

    it('every metric an expression names is one the exporter serves, with the labels it aggregates by', async () => {
      const reg = await registry();
      for (const r of rules()) {
        const metrics = [...r.expr.matchAll(/\b(macmux_\w+)\b/g)].map((m) => m[1]!);
        assert.ok(metrics.length > 0, `${r.alert} names a metric`);
        for (const m of metrics) assert.ok(reg.has(m), `${r.alert}: ${m} is served by the exporter (it serves ${[...reg.keys()].filter((k) => k.startsWith('macmux_')).join(' ')})`);
        // `by (job, kind)`: job is Prometheus's own; any other label must be one of every metric aggregated.
        for (const [, agg, labels, metric] of r.expr.matchAll(/\b(max|min|sum) by \(([^)]*)\) \((macmux_\w+)\)/g)) {
          for (const l of labels!.split(',').map((x) => x.trim())) {
            if (l !== 'job') assert.ok(reg.get(metric!)!.has(l), `${r.alert}: ${agg} by ${l} of ${metric}, which has labels ${[...reg.get(metric!)!].join(', ')}`);
          }
        }
      }
    });

    it('thresholds as documented: any duplicate; 90% and 100% of blocks leased or MACs held; objects over 200 KiB (bound 256 KiB, API limit 1 MiB)', () => {
      assert.match(rule('MacmuxDuplicateMacs').expr, /^max by \(job\) \(macmux_duplicate_macs\) > 0$/);
      assert.equal(rule('MacmuxDuplicateMacs').labels!.severity, 'critical');
      const nearly = rule('MacmuxPoolNearlyExhausted');
      assert.equal(nearly.labels!.severity, 'warning');
      assert.match(nearly.expr, /max by \(job\) \(macmux_blocks_leased\) \/ max by \(job\) \(macmux_pool_blocks\) >= 0\.9\b/);
      assert.match(nearly.expr, /sum by \(job\) \(macmux_pool_allocated\) \/ max by \(job\) \(macmux_pool_size\) >= 0\.9\b/);
      const exhausted = rule('MacmuxPoolExhausted');
      assert.equal(exhausted.labels!.severity, 'critical');
      // 101 comes when every block is leased and the node's own blocks are full.
      assert.match(exhausted.expr, /max by \(job\) \(macmux_blocks_leased\) >= max by \(job\) \(macmux_pool_blocks\)\s+and on \(job\) min by \(job\) \(macmux_node_free_macs\) == 0/);
      assert.match(exhausted.expr, /sum by \(job\) \(macmux_pool_allocated\) >= max by \(job\) \(macmux_pool_size\)/);
      const big = rule('MacmuxLedgerObjectOversized');
      const threshold = Number(/macmux_ledger_largest_object_bytes\) > (\d+)$/.exec(big.expr)?.[1]);
      assert.equal(threshold, 200 * 1024);
      assert.ok(threshold < 256 * 1024 && 256 * 1024 < 1024 * 1024);
      assert.match(big.expr, /by \(job, kind\)/, 'per kind');
    });

    it('docs/operations.md and daemonset/README.md document every alert', () => {
      const ops = readFileSync(join(dir, '..', 'docs', 'operations.md'), 'utf8');
      const readme = readFileSync(join(dir, 'README.md'), 'utf8');
      for (const r of rules()) assert.ok(ops.includes(r.alert), `docs/operations.md names ${r.alert}`);
      assert.match(readme, /optional\/prometheusrule\.yaml/);
      for (const m of ['macmux_ledger_objects', 'macmux_ledger_largest_object_bytes', 'macmux_pool_blocks', 'macmux_node_free_macs']) assert.ok(ops.includes(`\`${m}\``), `docs/operations.md lists ${m}`);
    });
  });

  it('the pool ConfigMap carries the ledger label and a locally administered unicast range', () => {
    const pool = only<Obj & { data: Record<string, string> }>('ConfigMap', POOL_CM);
    assert.equal(pool.metadata.labels?.[LEDGER_LABEL], 'pool');
    assert.deepEqual(Object.keys(pool.data).sort(), ['BLOCK_SIZE', 'RANGE_END', 'RANGE_START'], 'only the keys the operator sets: LEASES and claims are macmux\'s, and reapplying must not reset them');
    assert.match(pool.data.BLOCK_SIZE!, /^\d+$/);
    const spec = parseRange(pool.data.RANGE_START!, pool.data.RANGE_END!, Number(pool.data.BLOCK_SIZE), 'daemonset/pool-configmap.yaml');
    assert.ok(assignable(spec.start) && assignable(spec.end), 'both ends are locally administered unicast');
    assert.equal(poolSize(spec), spec.end - spec.start + 1, 'every address of the range can be handed out');
    assert.ok(spec.end - spec.start + 1 >= spec.blockSize, 'holds at least one whole block');
  });

  it('config.json is valid macmux plugin settings that leave install\'s own keys alone', () => {
    const cm = only<Obj & { data: Record<string, string> }>('ConfigMap', 'macmux-config');
    const settings = JSON.parse(cm.data['config.json']!) as Record<string, unknown>;
    for (const k of ['type', 'name', 'cniVersion', 'kubeconfig', 'cacheDir', 'binDir', 'confDir', 'macNamespace', 'delegates', 'macPool']) {
      assert.ok(!(k in settings), `${k} is install's to write`);
    }
    const conf = loadConf({ cniVersion: '1.0.0', name: 'macmux', type: 'macmux', delegates: [{ name: 'primary', type: 'bridge', masterPlugin: true }], ...settings });
    for (const [k, v] of Object.entries(settings)) assert.deepEqual((conf as unknown as Record<string, unknown>)[k], v, k);
  });

  describe('example NADs', () => {
    const nads = yamlFiles(examplesDir).map((f) => ({ f, text: read(examplesDir, f), nad: docsOf(read(examplesDir, f))[0] as Obj & { spec: { config: string } } }));

    it('there are macvtap, ovs and bridge examples', () => {
      assert.deepEqual(nads.map((n) => n.f), ['bridge-nad.yaml', 'macvtap-nad.yaml', 'ovs-nad.yaml']);
    });

    for (const { f, text, nad } of nads) {
      it(`${f}: spec.config is a delegate network macmux accepts, and the sample annotations select it`, () => {
        const list = toNetworkList(JSON.parse(nad.spec.config) as Record<string, unknown>, f, '1.0.0');
        assert.equal(list.name, nad.metadata.name);
        const type = list.plugins[0]!.type;
        if (f.startsWith('macvtap')) {
          assert.equal(type, 'macvtap');
          assert.equal(typeof list.plugins[0]!.mtu, 'number');
          assert.match(nad.metadata.annotations?.['k8s.v1.cni.cncf.io/resourceName'] ?? '', /^macvtap\.network\.kubevirt\.io\/[a-z0-9][-a-z0-9.]*$/);
        } else if (f.startsWith('ovs')) {
          assert.equal(type, 'ovs');
          assert.equal(typeof list.plugins[0]!.bridge, 'string');
          assert.ok(Number.isInteger(list.plugins[0]!.vlan), 'vlan tag');
        } else {
          assert.equal(type, 'bridge');
          assert.equal((list.plugins[0]!.ipam as { type?: string } | undefined)?.type, 'host-local');
        }
        // The sample pod annotations in the header: both forms, one asking for a MAC, all naming this NAD.
        const samples = [...text.matchAll(new RegExp(`^#[\\s#]*${NETWORKS_ANNOTATION.replace(/\./g, '\\.')}: (.+)$`, 'gm'))].map((m) => load(m[1]!) as string);
        assert.equal(samples.length, 2, 'a short-form and a JSON-form sample');
        const pod = { namespace: nad.metadata.namespace ?? 'default', name: 'sample' };
        const parsed = samples.map((s) => parseNetworks(s, pod));
        assert.ok(samples.some((s) => !s.trim().startsWith('[')) && samples.some((s) => s.trim().startsWith('[')), 'both annotation forms');
        for (const sel of parsed.flat()) {
          assert.equal(sel.name, nad.metadata.name);
          assert.equal(sel.namespace, pod.namespace);
        }
        const mac = parsed.flat().find((s) => s.mac)?.mac;
        assert.ok(mac, 'one sample requests a MAC');
        const canonical = parseMac(mac);
        assert.ok(canonical && isUnicast(canonical), `the requested ${mac} is a unicast MAC`);
      });
    }
  });
});
