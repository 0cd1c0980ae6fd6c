// Stands in for optional native helpers (encoding, supports-color, bufferutil, utf-8-validate) so the SEA prints no warnings.
// Requiring it fails as a missing module does, so callers take their pure-JS fallback.
throw Object.assign(new Error("Cannot find module (stubbed out of the macmux bundle)"), { code: 'MODULE_NOT_FOUND' });
