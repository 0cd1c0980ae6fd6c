// The pod a CNI invocation is for, from CNI_ARGS (pure and light: the dispatcher loads it on every start).
import { argValue, type CniEnv } from './env';
import type { PodInfo } from '../state/cache';

/** The pod named by K8S_POD_NAMESPACE and K8S_POD_NAME in CNI_ARGS, if both are there. */
export function podOf(env: CniEnv): PodInfo | undefined {
  const namespace = argValue(env.args, 'K8S_POD_NAMESPACE');
  const name = argValue(env.args, 'K8S_POD_NAME');
  if (!namespace || !name) return undefined;
  const uid = argValue(env.args, 'K8S_POD_UID');
  return { namespace, name, ...(uid ? { uid } : {}) };
}
