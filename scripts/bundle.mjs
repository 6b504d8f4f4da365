// After tsc: two entry points as one file each (esbuild), since every module
// a Node thread loads costs it a resolve, a read and a compile:
//  - dist/cli.js, the CLI (bin/wkvm.js loads it): the ~57 modules of dist/src
//    one by one took ~90 ms of every start, the one file ~50;
//  - dist/vcpu-worker.js, the VM's pool threads (src/workers/pool.ts names
//    it): 17-25 ms to load as modules in a new thread, 11-15 as one file,
//    paid by each of a 64-vCPU VM's threads while its boot hart runs.
// The library (dist/src/index.js) stays as tsc wrote it.
//  - import.meta.url in each module becomes its own file's URL, so that the
//    files it names beside it (the vCPU module, the worker script, the demo
//    guest) are found where they are, not next to the bundle;
//  - piscina stays outside: it finds its own worker script beside its files.
import { build } from 'esbuild';
import { dirname, relative, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

async function bundle(entry, out) {
  const outfile = resolve(root, out);
  const fromBundle = (path) => './' + relative(dirname(outfile), path).split('\\').join('/');
  const ownUrls = {
    name: 'own-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /[\\/]dist[\\/](src|assembly)[\\/].*\.js$/ }, async (args) => {
        const text = await readFile(args.path, 'utf8');
        return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(fromBundle(args.path))}, import.meta.url).href`), loader: 'js' };
      });
    },
  };
  await build({
    entryPoints: [resolve(root, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    external: ['piscina'],
    plugins: [ownUrls],
    logLevel: 'warning',
    // commander is CommonJS: its require() calls need one in an ES module
    banner: { js: "import { createRequire as wkvmCreateRequire } from 'node:module'; const require = wkvmCreateRequire(import.meta.url);" },
  });
}

await bundle('dist/src/cli/main.js', 'dist/cli.js');
await bundle('dist/src/workers/vcpu-worker.js', 'dist/vcpu-worker.js');
