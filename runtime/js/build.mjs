// Bundles one of this folder's entry files, with the npm packages it
// imports, into a single script for the daemon to embed:
//   node build.mjs ENTRY OUTFILE
import { buildSync } from 'esbuild'

const [entry, outfile] = process.argv.slice(2)
buildSync({
  entryPoints: [entry],
  outfile,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  // What the V8 in Debian's libnode runs.
  target: 'es2021',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
})
