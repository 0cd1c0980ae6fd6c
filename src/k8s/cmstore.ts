// The MAC ledger's ConfigMap store over the Kubernetes API, in the macmux namespace.
import type { Cm, CmStore } from '../mac/store';
import type { ConfigMap, KubeApi } from './api';

const toCm = (c: ConfigMap): Cm => ({
  name: c.metadata.name,
  ...(c.metadata.resourceVersion ? { resourceVersion: c.metadata.resourceVersion } : {}),
  ...(c.metadata.labels ? { labels: c.metadata.labels } : {}),
  ...(c.metadata.annotations ? { annotations: c.metadata.annotations } : {}),
  data: c.data ?? {},
});
const fromCm = (cm: Cm, namespace: string): ConfigMap => ({
  metadata: { name: cm.name, namespace, ...(cm.resourceVersion ? { resourceVersion: cm.resourceVersion } : {}), ...(cm.labels ? { labels: cm.labels } : {}), ...(cm.annotations ? { annotations: cm.annotations } : {}) },
  data: cm.data,
});

export function kubeStore(api: KubeApi, namespace: string): CmStore {
  return {
    async get(name) {
      const c = await api.getConfigMap(namespace, name);
      return c && toCm(c);
    },
    async create(cm) {
      const c = await api.createConfigMap(namespace, fromCm(cm, namespace));
      return c === 'exists' ? c : toCm(c);
    },
    async update(cm) {
      const c = await api.updateConfigMap(namespace, fromCm(cm, namespace));
      return c === 'conflict' ? c : toCm(c);
    },
    async delete(name, resourceVersion) {
      return api.deleteConfigMap(namespace, name, resourceVersion);
    },
    async list(labelKey, except) {
      return (await api.listConfigMaps(namespace, labelKey, except ? { except } : {})).map(toCm);
    },
    async listMeta(labelKey) {
      return (await api.listConfigMaps(namespace, labelKey, { metadataOnly: true })).map((c) => ({
        name: c.metadata.name,
        ...(c.metadata.resourceVersion ? { resourceVersion: c.metadata.resourceVersion } : {}),
      }));
    },
  };
}
