// The JSON Schema of macmux's own network config and of the delegate networks it carries.

const plugin = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9_.-]+$' },
    name: { type: 'string' },
    cniVersion: { type: 'string' },
    capabilities: { type: 'object', additionalProperties: { type: 'boolean' } },
  },
};

/** A delegate network: a single config (with `type`) or a conflist (with `plugins`). */
const network = {
  type: 'object',
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1 },
    cniVersion: { type: 'string' },
    type: plugin.properties.type,
    capabilities: plugin.properties.capabilities,
    plugins: { type: 'array', minItems: 1, items: { $ref: '#/$defs/plugin' } },
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
    kubeconfig: { type: 'string', minLength: 1 },
    delegates: { type: 'array', items: { $ref: '#/$defs/network' } },
    clusterNetwork: { type: 'string', minLength: 1 },
    binDir: { type: 'string', minLength: 1 },
    cacheDir: { type: 'string', minLength: 1 },
    logLevel: { type: 'integer', minimum: 0, maximum: 3 },
    logFile: { type: 'string', minLength: 1 },
    delegateTimeout: { type: 'number', exclusiveMinimum: 0, maximum: 3600 },
    confDir: { type: 'string', minLength: 1 },
    lockTimeout: { type: 'number', exclusiveMinimum: 0, maximum: 3600 },
    deviceCheckpoint: { type: 'string', minLength: 1 },
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
    nodeName: { type: 'string', minLength: 1 },
    capabilities: plugin.properties.capabilities,
    runtimeConfig: { type: 'object' },
    args: { type: 'object' },
  },
  anyOf: [{ required: ['delegates'] }, { required: ['clusterNetwork'] }],
  $defs: { plugin, network },
};
