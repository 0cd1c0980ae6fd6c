// Stands in for optional native helpers (encoding, supports-color, bufferutil, utf-8-validate) so the SEA prints no warnings.
module.exports = {};
