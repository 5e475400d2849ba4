// CommonJS for app code: require of the bundle's own files and of the
// modules the daemon provides, and where the app's hooks are once its main
// file ran.
import { hasOwn, parse, setGlobal } from './intrinsics.js'

// `builtinModules`: name -> the module's exports.
export function makeModules(host, builtinModules) {
  // CommonJS as Node runs it: each bundle file runs once, with its own
  // module, exports and require; later requires get its module.exports.
  const loaded = new Map();
  let bundleName = '';

  function dirname(path) {
    const slash = path.lastIndexOf('/');
    return slash < 0 ? '.' : path.slice(0, slash);
  }

  function makeRequire(referrer) {
    return function require(specifier) {
      if (typeof specifier !== 'string') throw new TypeError('require: the module name must be a string');
      if (hasOwn(builtinModules, specifier)) return builtinModules[specifier];
      const path = host.resolveModule(referrer, specifier);
      if (path === undefined) {
        const relative = specifier.startsWith('./') || specifier.startsWith('../');
        const why = relative
          ? 'no such file in the bundle'
          : `only files of the bundle and these modules can be imported: ${Object.keys(builtinModules).join(', ')}`;
        throw new Error(`${bundleName}/${referrer}: cannot import "${specifier}": ${why}`);
      }
      const known = loaded.get(path);
      if (known) return known.exports;
      const module = { exports: {}, id: path, filename: path, loaded: false };
      loaded.set(path, module);
      const body = host.loadModule(path);
      if (typeof body === 'string') module.exports = parse(body);
      else body.call(module.exports, module.exports, makeRequire(path), module, path, dirname(path));
      module.loaded = true;
      return module.exports;
    };
  }

  // Before the main file runs: its module, exports and require, as globals
  // (the main file is a script, so its top-level functions are globals too).
  function startMain(name, main) {
    bundleName = name;
    const module = { exports: {}, id: main, filename: main, loaded: false };
    loaded.set(main, module);
    const names = { module, exports: module.exports, require: makeRequire(main), __filename: main, __dirname: dirname(main) };
    for (const [key, value] of Object.entries(names)) setGlobal(key, value);
  }

  // Where the app's hooks are once the main file ran, looked up as the
  // reference did: `exports`, its `default`, `module.exports` and its
  // `default`; the global scope only when none of them holds anything (a
  // script that declares its hooks as top-level functions).
  function appExports(names) {
    const places = [globalThis.exports, globalThis.module && globalThis.module.exports];
    for (const place of places.slice()) if (place) places.push(place.default);
    const found = places.filter((p) => p !== null && (typeof p === 'object' || typeof p === 'function'));
    if (!found.some((p) => Object.keys(p).length > 0)) found.push(globalThis);
    const hooks = Object.create(null);
    for (const name of names) {
      const place = found.find((p) => p[name]);
      if (place) hooks[name] = place[name];
    }
    // An app with processEventBatch only: each event is a batch of one, and
    // the batch's first event is the result, as the reference ran it.
    const batchPlace = found.find((p) => p.processEventBatch);
    if (!hooks.processEvent && batchPlace) {
      const batch = batchPlace.processEventBatch;
      hooks.processEvent = async function processEvent(event, meta) {
        const out = await batch([event], meta);
        return Array.isArray(out) ? out[0] : undefined;
      };
    }
    return hooks;
  }

  return { startMain, appExports }
}
