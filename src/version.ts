/** wkvm's version, from its package.json (one source of truth for the CLI and the monitors). */
import { readFileSync } from 'node:fs';

/** package.json is two levels above the compiled file (dist/src/) and one above the source (src/). */
function readVersion(): string {
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'wkvm' && pkg.version) return pkg.version;
    } catch { /* not there: try the next */ }
  }
  return '0.0.0';
}

export const WKVM_VERSION: string = readVersion();
