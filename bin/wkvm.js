#!/usr/bin/env node
// Signals that arrive while wkvm's modules load are kept for it: their
// default action would end the process without its clean-up and exit status.
const early = [];
const keep = (sig) => { early.push(sig); };
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];
for (const sig of SIGNALS) process.on(sig, keep);
const { main } = await import('../dist/cli.js'); // the CLI in one file (scripts/bundle.mjs)
for (const sig of SIGNALS) process.off(sig, keep);
main(process.argv.slice(2), early);
