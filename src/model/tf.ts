/**
 * Load TensorFlow.js: prefer the native `@tensorflow/tfjs-node` (optional
 * dependency, usually absent because its install downloads libtensorflow) and
 * fall back silently to pure-JS `@tensorflow/tfjs` on the `cpu` backend.
 *
 * Set `ZKINFER_TF_BACKEND=cpu` to skip tfjs-node even when it is installed
 * (e.g. for bit-identical results with machines that lack it).
 */
type Tf = typeof import('@tensorflow/tfjs');

export interface LoadedTf {
  tf: Tf;
  /** Active backend name: 'tensorflow' (tfjs-node) or 'cpu'. */
  backend: string;
}

let loading: Promise<LoadedTf> | undefined;

async function tryTfjsNode(): Promise<Tf | undefined> {
  if (process.env.ZKINFER_TF_BACKEND === 'cpu') return undefined;
  // Module name in a variable: tfjs-node is optional and has no types installed.
  const name = '@tensorflow/tfjs-node';
  try {
    const mod = (await import(name)) as Tf & { default?: Tf };
    const tf = (typeof mod.ready === 'function' ? mod : mod.default) as Tf | undefined;
    if (!tf || typeof tf.ready !== 'function') return undefined;
    await tf.ready();
    return tf;
  } catch {
    // Not installed, or native binding unusable: fall back quietly.
    return undefined;
  }
}

async function load(): Promise<LoadedTf> {
  const nodeTf = await tryTfjsNode();
  if (nodeTf) return { tf: nodeTf, backend: nodeTf.getBackend() };

  const mod = (await import('@tensorflow/tfjs')) as Tf & { default?: Tf };
  const tf = (typeof mod.setBackend === 'function' ? mod : mod.default) as Tf;
  await tf.setBackend('cpu');
  await tf.ready();
  // The cpu backend prints a "looks like you are running TensorFlow.js in
  // Node.js ... install our node backend" banner on its first tensor write.
  // Suppress just that banner (tf.enableProdMode() would also do it, but it
  // silences every other tfjs warning too).
  const backend = tf.backend() as unknown as { firstUse?: boolean };
  if (backend && typeof backend.firstUse === 'boolean') backend.firstUse = false;
  return { tf, backend: tf.getBackend() };
}

/** Load (once, cached) TensorFlow.js and report the active backend. */
export function loadTf(): Promise<LoadedTf> {
  if (!loading) {
    loading = load().catch((err: unknown) => {
      loading = undefined;
      throw err;
    });
  }
  return loading;
}
