// After tsc: four entry points as one file each (esbuild), since every module
// a Node thread loads costs it a resolve, a read and a compile:
//  - dist/cli.js, the CLI (bin/wkvm.js loads it): the ~57 modules of dist/src
//    one by one took ~90 ms of every start, the one file ~50;
//  - dist/vcpu-worker.cjs, the VM's pool threads (src/workers/pool.ts names
//    it): 17-25 ms to load as modules in a new thread, 11-15 as one file,
//    paid by each of a 64-vCPU VM's threads while its boot hart runs;
//    CommonJS (see its build below);
//  - dist/pool.js, the vCPU threads' pool (src/workers/pool.ts) with piscina
//    in it: bin/wkvm.js loads it first and starts the boot hart's thread
//    while the rest of the CLI loads (~90 ms here); dist/cli.js imports it
//    rather than holding a copy, so that both share the one pool module.
//    Importing piscina as a package took 37 ms before the thread could
//    start (ES module resolution, a dozen files), its bundled copy 20.
//  - dist/index.js, the library (the package's entry; its types are
//    dist/src/index.d.ts): importing it took 123-139 ms as the modules tsc
//    wrote (dist/src/index.js, which the tests import), 55-73 as one file.
// In each bundle:
//  - import.meta.url in each module becomes its own file's URL, so that the
//    files it names beside it (the vCPU module, the worker script, the demo
//    guest) are found where they are, not next to the bundle;
//  - piscina is in dist/pool.js only, and finds its own worker script (a
//    file of the installed package, which it starts each thread with) where
//    the package is installed, not beside the bundle.
import { build } from 'esbuild';
import { dirname, relative, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** piscina's thread script is its package's dist/worker.js: found from where the package resolves at run time. */
const piscinaWorkerPath = {
  name: 'piscina-worker-path',
  setup(b) {
    b.onLoad({ filter: /[\\/]piscina[\\/]dist[\\/]index\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      const own = "(0, node_path_1.resolve)(__dirname, 'worker.js')";
      if (!text.includes(own)) throw new Error(`${args.path}: piscina no longer names its worker script as this bundle expects`);
      const installed = "require('node:path').join(require('node:path').dirname(require.resolve('piscina')), 'worker.js')";
      return { contents: text.replace(own, installed), loader: 'js' };
    });
  },
};

async function bundle(entry, out, shared = [], format = 'esm', withPiscina = false) {
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
  // modules that are bundles of their own: imported from there, so that there is one instance of each
  const sharedBundles = {
    name: 'shared-bundles',
    setup(b) {
      b.onResolve({ filter: /\.js$/ }, (args) => {
        if (!args.importer) return undefined;
        const path = resolve(dirname(args.importer), args.path);
        const own = shared.find((s) => resolve(root, s.from) === path);
        return own ? { path: fromBundle(resolve(root, own.to)), external: true } : undefined;
      });
    },
  };
  await build({
    entryPoints: [resolve(root, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format,
    target: 'node20',
    sourcemap: 'linked',
    external: withPiscina ? [] : ['piscina'],
    plugins: [sharedBundles, ownUrls, ...(withPiscina ? [piscinaWorkerPath] : [])],
    logLevel: 'warning',
    // no comments or indentation (names kept): less for each thread to parse as it starts (~6 ms of the CLI's)
    minifyWhitespace: true, minifySyntax: true,
    ...(format === 'esm' ? {
      // commander is CommonJS: its require() calls need one in an ES module
      banner: { js: "import { createRequire as wkvmCreateRequire } from 'node:module'; const require = wkvmCreateRequire(import.meta.url);" },
    } : {
      // CommonJS has no import.meta: the file's own URL stands in for it
      banner: { js: "const wkvmImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
      define: { 'import.meta.url': 'wkvmImportMetaUrl' },
    }),
  });
}

const pool = { from: 'dist/src/workers/pool.js', to: 'dist/pool.js' };
await bundle(pool.from, pool.to, [], 'esm', true);
await bundle('dist/src/cli/main.js', 'dist/cli.js', [pool]);
await bundle('dist/src/index.js', 'dist/index.js', [pool]);
// CommonJS: why is at POOL_THREAD_FILE in src/workers/pool.ts
await bundle('dist/src/workers/vcpu-worker.js', 'dist/vcpu-worker.cjs', [], 'cjs');
