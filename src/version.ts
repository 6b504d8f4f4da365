/** wkvm's version, from its package.json (one source of truth for the CLI and the monitors). */
import { readFileSync } from 'node:fs';

export const WKVM_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
