// The JSON Schema of macmux's own network config and of the delegate networks it carries.

/** The most delegates, or plugins in one conflist, a config may hold (load.ts checks it before the schema runs). */
export const MAX_ITEMS = 100;
/** Linux's PATH_MAX: no longer path can be opened. */
const path = { type: 'string', minLength: 1, maxLength: 4096 };

const plugin = {
  type: 'object',
  required: ['type'],
  properties: {
    // A file name in the plugin directories: at most NAME_MAX bytes.
    type: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9_.-]+$' },
    name: { type: 'string' },
    cniVersion: { type: 'string' },
    capabilities: { type: 'object', additionalProperties: { type: 'boolean' } },
    // A plugin of a conflist is one plugin: conflists do not nest.
    plugins: false,
  },
};

/** A delegate network: a single config (with `type`) or a conflist (with `plugins`). */
const network = {
  type: 'object',
  required: ['name'],
  properties: {
    // libcni's rule: plugins use the name in paths (host-local's lease dir), so it may not be one.
    name: { type: 'string', minLength: 1, pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$' },
    cniVersion: { type: 'string' },
    type: plugin.properties.type,
    capabilities: plugin.properties.capabilities,
    plugins: { type: 'array', minItems: 1, maxItems: MAX_ITEMS, items: { $ref: '#/$defs/plugin' } },
    masterPlugin: { type: 'boolean' },
    disableCheck: { type: 'boolean' },
    disableGC: { type: 'boolean' },
  },
  oneOf: [
    { required: ['type'], not: { required: ['plugins'] } },
    { required: ['plugins'], not: { required: ['type'] } },
  ],
};

const mac = { type: 'string', pattern: '^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$' };

export const confSchema = {
  $id: 'macmux',
  type: 'object',
  required: ['cniVersion', 'name', 'type'],
  properties: {
    cniVersion: { type: 'string' },
    name: { type: 'string', minLength: 1 },
    type: { type: 'string', minLength: 1 },
    kubeconfig: path,
    delegates: { type: 'array', maxItems: MAX_ITEMS, items: { $ref: '#/$defs/network' } },
    clusterNetwork: path,
    binDir: path,
    cacheDir: path,
    logLevel: { type: 'integer', minimum: 0, maximum: 3 },
    logFile: path,
    delegateTimeout: { type: 'number', exclusiveMinimum: 0, maximum: 3600 },
    confDir: path,
    lockTimeout: { type: 'number', exclusiveMinimum: 0, maximum: 3600 },
    deviceCheckpoint: path,
    timeBudget: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(['add', 'del', 'check', 'gc', 'status'].map((v) => [v, { type: 'number', exclusiveMinimum: 0, maximum: 3600 }])),
    },
    macPool: {
      type: 'object',
      required: ['rangeStart', 'rangeEnd'],
      additionalProperties: false,
      properties: { rangeStart: mac, rangeEnd: mac, blockSize: { type: 'integer', minimum: 1, maximum: 65536 } },
    },
    macNamespace: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 },
    macGracePeriod: { type: 'number', minimum: 0, maximum: 31536000 },
    macAssignment: { enum: ['opt-out', 'opt-in'] },
    requestedMacs: { enum: ['any', 'range', 'none'] },
    // A pod may use NADs of its own namespace and of globalNamespaces only, unless this is false.
    namespaceIsolation: { type: 'boolean' },
    globalNamespaces: { type: 'array', maxItems: 1000, items: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 } },
    // A DNS-1123 subdomain, as Kubernetes node names are; its ledger ConfigMap macmux-ledger-<node> must be one too (253 at most).
    nodeName: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$', maxLength: 253 - 'macmux-ledger-'.length },
    capabilities: plugin.properties.capabilities,
    runtimeConfig: { type: 'object' },
    args: { type: 'object' },
  },
  anyOf: [{ required: ['delegates'] }, { required: ['clusterNetwork'] }],
  $defs: { plugin, network },
};
