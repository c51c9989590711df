// Loads a vendored classic (UMD) script once and resolves with the global it defines.
const pending = new Map();

export function loadScript(url, globalName) {
  if (window[globalName]) return Promise.resolve(window[globalName]);
  if (!pending.has(url)) {
    pending.set(url, new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = url;
      s.async = true;
      s.onload = () => (window[globalName] ? resolve(window[globalName]) : reject(new Error(`${globalName} missing`)));
      s.onerror = () => {
        pending.delete(url); // a later retry may succeed once the network is back
        s.remove();
        reject(new Error(`${url} failed to load`));
      };
      document.head.appendChild(s);
    }));
  }
  return pending.get(url);
}
