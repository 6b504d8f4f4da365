// After tsc: the CLI as one file, dist/cli.js (bin/wkvm.js loads it). Loading
// the ~57 modules of dist/src one by one took ~90 ms of every start; one file
// takes ~45. The library (dist/src/index.js) stays as tsc wrote it.
//  - import.meta.url in each module becomes its own file's URL, so that the
//    files it names beside it (the vCPU module, the worker scripts, the demo
//    guest) are found where they are, not next to the bundle;
//  - piscina stays outside: it finds its own worker script beside its files.
import { build } from 'esbuild';
import { dirname, relative, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = resolve(root, 'dist/cli.js');
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
  entryPoints: [resolve(root, 'dist/src/cli/main.js')],
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
