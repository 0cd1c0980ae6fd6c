// Doctor's API checks, judged from gathered facts: reachability, the RBAC verbs macmux uses, the NADs' configs (pure).
import { Code } from '../../cni/errors';
import type { Check, Facts, RbacFact } from './types';

export const RBAC_MANIFEST = 'daemonset/rbac.yaml';

/** Why a check that needs the API cannot run, or undefined when it can. */
export const apiDown = (f: Facts) => (f.api.state === 'ok' ? undefined : f.api.state === 'skipped' ? 'needs the API (api was skipped)' : 'needs the API, which did not answer (see api)');

export function apiCheck(f: Facts): Check {
  const a = f.api;
  if (a.state === 'skipped') return { name: 'api', status: 'skip', detail: a.why };
  const via = a.kubeconfig ? `kubeconfig ${a.kubeconfig}` : 'the in-cluster service account';
  if (a.state === 'ok') return { name: 'api', status: 'ok', detail: `${a.server} answered${a.version ? ` (Kubernetes ${a.version})` : ''} with the credentials of ${via}` };
  const hint =
    a.code === Code.ApiRefused ? `the API refused the credentials of ${via}: check its token (tokenFile) is current; macmux install keeps <state-dir>/token fresh`
    : a.code === Code.InvalidConfig ? `fix ${via} (server, CA, certificates, token) or pass --kubeconfig`
    : `check the server address in ${via}, that the API server is up and reachable from this node, then rerun`;
  return { name: 'api', status: 'fail', detail: a.error, hint };
}

const resourceText = (r: RbacFact) => `${r.resource}${r.group ? `.${r.group}` : ''}${r.namespace ? ` in ${r.namespace}` : ''}`;

export function rbacCheck(f: Facts): Check {
  const down = apiDown(f);
  if (down || !f.rbac) return { name: 'rbac', status: 'skip', detail: down ?? 'not checked' };
  const errors = f.rbac.filter((r) => r.error !== undefined);
  const denied = f.rbac.filter((r) => r.error === undefined && !r.allowed);
  const data = { permissions: f.rbac.map((r) => ({ verb: r.verb, resource: r.resource, group: r.group, ...(r.namespace ? { namespace: r.namespace } : {}), allowed: r.allowed === true, ...(r.error ? { error: r.error } : {}) })) };
  if (denied.length || errors.length) {
    const parts = [
      ...(denied.length ? [`denied: ${denied.map((r) => `${r.verb} ${resourceText(r)}`).join(', ')}`] : []),
      ...errors.map((r) => `${r.verb} ${resourceText(r)}: ${r.error}`),
    ];
    return {
      name: 'rbac',
      status: 'fail',
      detail: parts.join('; '),
      hint: `grant them to macmux's ServiceAccount: kubectl apply -f ${RBAC_MANIFEST} (the ClusterRole, and the Role for ConfigMaps in namespace ${f.namespace}), then rerun`,
      data,
    };
  }
  return { name: 'rbac', status: 'ok', detail: `all ${f.rbac.length} permissions granted (${f.rbac.map((r) => `${r.verb} ${resourceText(r)}`).join(', ')})`, data };
}

export function nadsCheck(f: Facts): Check {
  const down = apiDown(f);
  if (down || !f.nads) return { name: 'nads', status: 'skip', detail: down ?? 'not checked' };
  if (f.nads.error !== undefined) {
    const refused = f.rbac?.some((r) => r.resource === 'network-attachment-definitions' && r.verb === 'list' && !r.allowed);
    if (refused) return { name: 'nads', status: 'skip', detail: `cannot list NetworkAttachmentDefinitions (see rbac): ${f.nads.error}` };
    return { name: 'nads', status: 'fail', detail: f.nads.error, hint: 'check that the NetworkAttachmentDefinition CRD is served (kubectl get net-attach-def -A), then rerun' };
  }
  const items = f.nads.items;
  const bad = items.filter((n) => n.error !== undefined);
  const data = { nads: items.map((n) => ({ nad: n.ref, ...(n.error !== undefined ? { error: n.error } : { types: n.network!.plugins.map((p) => p.type) }) })) };
  if (bad.length) {
    return {
      name: 'nads',
      status: 'warn',
      detail: `${bad.length} of ${items.length} NetworkAttachmentDefinition${items.length === 1 ? '' : 's'} ${bad.length === 1 ? 'does' : 'do'} not parse: ${bad.map((n) => n.error).join('; ')}`,
      hint: `fix spec.config of each (kubectl edit net-attach-def -n <namespace> <name>); pods attached to them fail at ADD until then`,
      data,
    };
  }
  const spaces = new Set(items.map((n) => n.ref.split('/')[0]));
  const detail = items.length === 0 ? 'no NetworkAttachmentDefinitions in the cluster' : `${items.length} NetworkAttachmentDefinition${items.length === 1 ? '' : 's'} in ${spaces.size} namespace${spaces.size === 1 ? '' : 's'} ${items.length === 1 ? 'parses' : 'parse'}`;
  return { name: 'nads', status: 'ok', detail, data };
}
