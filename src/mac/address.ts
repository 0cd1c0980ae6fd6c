// MAC address values: parsing, canonical form and the unicast check (pure).
import { CniError, Code } from '../cni/errors';

const SIX_OCTETS = /^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/i;

/** Canonical form (lowercase, colon-separated) of a 6-octet MAC, or undefined if `s` is not one. */
export function parseMac(s: string): string | undefined {
  return SIX_OCTETS.test(s) ? s.toLowerCase().replace(/-/g, ':') : undefined;
}

export function isUnicast(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 0x01) === 0;
}

export function isLocallyAdministered(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 0x02) !== 0;
}

/** A MAC a pod asked for: 6 octets, unicast, not all-zero; code 7 naming `field` otherwise. */
export function requestedMac(s: string, field: string): string {
  const mac = parseMac(s);
  if (!mac) throw new CniError(Code.InvalidConfig, `${field}: "${s}" is not a MAC address of 6 octets (aa:bb:cc:dd:ee:ff)`);
  if (!isUnicast(mac)) throw new CniError(Code.InvalidConfig, `${field}: ${mac} is a multicast address; a MAC for an interface must be unicast`);
  if (mac === '00:00:00:00:00:00') throw new CniError(Code.InvalidConfig, `${field}: the all-zero MAC cannot be assigned`);
  return mac;
}
