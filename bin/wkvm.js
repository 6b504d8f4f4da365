#!/usr/bin/env node
// Signals that arrive while wkvm's modules load are kept for it: their
// default action would end the process without its clean-up and exit status.
const early = [];
const keep = (sig) => { early.push(sig); };
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];
for (const sig of SIGNALS) process.on(sig, keep);
const argv = process.argv.slice(2);
// `wkvm run` starts the boot hart's thread first: it comes up (Node's start-up in a thread, ~50 ms)
// on the other core while this one loads the rest of wkvm
const pools = argv[0] === 'run' && !argv.some((a) => a === '--help' || a === '-h') ? await import('../dist/src/workers/pool.js') : undefined;
pools?.prewarmPool();
const { main } = await import('../dist/src/cli/main.js');
for (const sig of SIGNALS) process.off(sig, keep);
await main(argv, early);
await pools?.closePools();
