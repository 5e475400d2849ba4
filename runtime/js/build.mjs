// Bundles one of this folder's entry files, with the npm packages it
// imports, into a single script for the daemon to embed:
//   node build.mjs ENTRY OUTFILE FORMAT
// FORMAT is iife (a script run for its effect) or cjs (its exports, run as
// a function of module and exports).
import { buildSync } from 'esbuild'

const [entry, outfile, format] = process.argv.slice(2)
buildSync({
  entryPoints: [entry],
  outfile,
  bundle: true,
  format,
  platform: 'browser',
  // What the V8 in Debian's libnode runs (10.2, as in Chrome 102).
  target: 'chrome102',
  // The prelude (cjs) is not minified: its names show in apps' stack traces
  // and in what apps read (URL.name, a function's name).
  minify: format === 'iife',
  legalComments: 'none',
  logLevel: 'warning',
})
