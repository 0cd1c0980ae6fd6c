// Device names for secondary attachments: "net" + the first 12 hex digits of md5(attachment name) (pure).
import { createHash } from 'node:crypto';

export function deviceName(attachment: string): string {
  return 'net' + createHash('md5').update(attachment).digest('hex').slice(0, 12);
}
