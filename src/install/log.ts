// install's log: one line per message on stderr, with the time and level; the CLI's io redacts what it prints.
export interface InstallLog {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export function installLog(write: (s: string) => void, now: () => Date = () => new Date()): InstallLog {
  const line = (level: string, msg: string) => write(`${now().toISOString()} macmux install ${level}: ${msg.replace(/\s*\n\s*/g, ' ')}\n`);
  return { info: (m) => line('info', m), warn: (m) => line('warn', m), error: (m) => line('error', m) };
}
