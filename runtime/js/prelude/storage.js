// meta.storage: JSON values kept by the host (Postgres), per instance.

export function makeStorage(host) {
  return Object.freeze({
    get(key, defaultValue) {
      return host.storageGet(String(key)).then((json) => (json === undefined ? defaultValue : JSON.parse(json)));
    },
    set(key, value) {
      // As the reference: storing undefined removes the key.
      if (value === undefined) return host.storageDel(String(key));
      let json;
      try {
        json = JSON.stringify(value);
      } catch (e) {
        return Promise.reject(new TypeError(`storage.set: the value is not JSON-serialisable: ${e.message}`));
      }
      if (json === undefined) {
        return Promise.reject(new TypeError('storage.set: the value is not JSON-serialisable'));
      }
      return host.storageSet(String(key), json);
    },
    del(key) {
      return host.storageDel(String(key));
    },
  });
}

