#!/usr/bin/env node
// Signals that arrive while wkvm's modules load are kept for it: their
// default action would end the process without its clean-up and exit status.
const early = [];
const keep = (sig) => { early.push(sig); };
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];
for (const sig of SIGNALS) process.on(sig, keep);
// 'wkvm run': the boot hart's thread (~100 ms of a core to come up here) starts
// now, while the rest of the CLI loads; the CLI takes the same pool
const args = process.argv.slice(2);
if (args[0] === 'run' && !args.includes('--help') && !args.includes('-h')) (await import('../dist/pool.js')).prewarmPool();
const { main } = await import('../dist/cli.js'); // the CLI in one file (scripts/bundle.mjs)
for (const sig of SIGNALS) process.off(sig, keep);
main(args, early);
