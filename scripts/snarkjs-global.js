// What `import { groth16 } from 'snarkjs'` means in the browser build (scripts/build-web.mjs): the
// snarkjs browser bundle the page loads as a classic script (window.snarkjs), looked up at call time.
export const groth16 = {
  verify: (...args) => {
    const snarkjs = globalThis.snarkjs;
    if (!snarkjs?.groth16?.verify) throw new Error('snarkjs is not loaded (load vendor/snarkjs.min.js before verifying)');
    return snarkjs.groth16.verify(...args);
  },
};
