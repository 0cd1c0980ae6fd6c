// macmux's own version, set at build time from package.json.
declare const __MACMUX_VERSION__: string | undefined;
export const VERSION: string = typeof __MACMUX_VERSION__ === 'string' ? __MACMUX_VERSION__ : '0.0.0-dev';
