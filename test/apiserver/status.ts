// Test API server errors: ApiError and the metav1.Status bodies the real kube-apiserver answers with.
export interface ResourceRef {
  /** plural resource name, e.g. "pods" */
  plural: string;
  /** API group, "" for the core group */
  group: string;
}

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: Record<string, unknown>;
  code: number;
}

/** An error the server answers with a Status body (and optional extra headers). */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  status(): StatusBody {
    // key order as the real server writes it
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** "pods" for the core group, "network-attachment-definitions.k8s.cni.cncf.io" otherwise, as the real messages say. */
export const qualified = (r: ResourceRef): string => (r.group ? `${r.plural}.${r.group}` : r.plural);

function details(r: ResourceRef, name?: string): Record<string, unknown> {
  const d: Record<string, unknown> = {};
  if (name !== undefined) d.name = name;
  if (r.group) d.group = r.group;
  d.kind = r.plural;
  return d;
}

export const notFound = (r: ResourceRef, name: string): ApiError =>
  new ApiError(404, 'NotFound', `${qualified(r)} "${name}" not found`, details(r, name));

export const alreadyExists = (r: ResourceRef, name: string): ApiError =>
  new ApiError(409, 'AlreadyExists', `${qualified(r)} "${name}" already exists`, details(r, name));

export const conflict = (r: ResourceRef, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again'): ApiError =>
  new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(r)} "${name}": ${why}`, details(r, name));

export const invalid = (kind: string, name: string, field: string, why: string, r: ResourceRef): ApiError =>
  new ApiError(422, 'Invalid', `${kind} "${name}" is invalid: ${field}: ${why}`, { ...details(r, name), kind, causes: [{ reason: 'FieldValueInvalid', message: why, field }] });

export const badRequest = (message: string): ApiError => new ApiError(400, 'BadRequest', message);

export const unauthorized = (): ApiError => new ApiError(401, 'Unauthorized', 'Unauthorized');

export function forbidden(user: string, verb: string, r: ResourceRef, namespace: string | undefined, name: string | undefined): ApiError {
  const what = name !== undefined ? `${qualified(r)} "${name}"` : qualified(r);
  const scope = namespace !== undefined ? `in the namespace "${namespace}"` : 'at the cluster scope';
  return new ApiError(403, 'Forbidden', `${what} is forbidden: User "${user}" cannot ${verb} resource "${r.plural}" in API group "${r.group}" ${scope}`, details(r, name));
}

export const pathNotFound = (): ApiError => new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});

export const methodNotAllowed = (): ApiError => new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});

export const unsupportedMediaType = (contentType: string, accepted: string[]): ApiError =>
  new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format (${contentType || 'none'}) - accepted media types include: ${accepted.join(', ')}`);

/** The Status a fault answers with: 429 carries Retry-After, like the real priority-and-fairness rejection; 409 is a Conflict. */
export function injected(code: number, message?: string, retryAfter = 1): ApiError {
  switch (code) {
    case 429:
      return new ApiError(429, 'TooManyRequests', message ?? 'Too many requests, please try again later.', { retryAfterSeconds: retryAfter }, { 'Retry-After': String(retryAfter) });
    case 409:
      // As a resourceVersion conflict on update (the kind of 409 a real server answers most).
      return new ApiError(409, 'Conflict', `Operation cannot be fulfilled: ${message ?? 'the object has been modified; please apply your changes to the latest version and try again'}`, {});
    case 500:
      return new ApiError(500, 'InternalError', `Internal error occurred: ${message ?? 'injected fault'}`, { causes: [{ message: message ?? 'injected fault' }] });
    case 503:
      return new ApiError(503, 'ServiceUnavailable', message ?? 'the server is currently unable to handle the request', {});
    case 504:
      return new ApiError(504, 'Timeout', message ?? 'the server was unable to return a response in the time allotted, but may still be processing the request', {});
    default:
      return new ApiError(code, code >= 500 ? 'InternalError' : 'BadRequest', message ?? `injected fault ${code}`);
  }
}
