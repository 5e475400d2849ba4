// processEvent with the rules every app relies on.
import { parse, stringify } from './intrinsics.js'

function describe(value) {
  return Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value;
}

// processEvent with the rules every app relies on: null/undefined drops the
// event, success is recorded in the event. That team_id did not change is
// checked by the host on the returned text, where the app cannot reach.
export function processEvent(fn, text, meta, label) {
  const event = parse(text);
  const finish = (result) => {
    if (result === null || result === undefined) return null;
    if (typeof result !== 'object' || Array.isArray(result)) {
      throw new TypeError(`processEvent must return an event object, null or undefined, not ${describe(result)}`);
    }
    if (!result.properties || typeof result.properties !== 'object') result.properties = {};
    const done = result.properties.$plugins_succeeded;
    result.properties.$plugins_succeeded = [...(Array.isArray(done) ? done : []), label];
    return stringify(result);
  };
  const out = fn(event, meta);
  return out && typeof out.then === 'function' ? Promise.resolve(out).then(finish) : finish(out);
}

