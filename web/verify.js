// Page glue for verify.html: read the key and bundle, run the verifier core's verifyBundle (the browser
// build of src/verify/core.ts that `npm run build` writes to vendor/), show the verdict.
import { verifyBundle } from './vendor/zkinfer-verify.js';

const $ = (id) => document.getElementById(id);
const verdict = $('verdict');
const details = $('details');

function show(state, text, valid) {
  verdict.textContent = text;
  verdict.dataset.state = state;
  if (valid === undefined) delete verdict.dataset.valid;
  else verdict.dataset.valid = String(valid);
}

function row(name, value) {
  const tr = details.insertRow();
  tr.insertCell().textContent = name;
  tr.insertCell().textContent = value;
}

for (const which of ['key', 'bundle']) {
  $(`${which}-file`).addEventListener('change', async (ev) => {
    const file = ev.target.files[0];
    if (file) $(`${which}-json`).value = await file.text();
  });
}

function parse(which) {
  try {
    return JSON.parse($(`${which}-json`).value);
  } catch (err) {
    throw new SyntaxError(`the ${which} is not JSON: ${err.message}`, { cause: err });
  }
}

async function run() {
  details.replaceChildren();
  delete verdict.dataset.class;
  delete verdict.dataset.reason;
  show('running', 'verifying…');
  try {
    const key = parse('key');
    const bundle = parse('bundle');
    const result = await verifyBundle(key, bundle);
    verdict.dataset.reason = result.reason ?? '';
    if (result.modelId) row('model id', result.modelId);
    if (!result.valid) return show('done', `INVALID: ${result.reason}`, false);
    const items = result.output.items;
    items.forEach((item, i) => {
      const p = item.prediction;
      const prefix = items.length > 1 ? `item ${i} ` : '';
      if (p.class !== undefined) row(`${prefix}class`, p.label !== undefined ? `${p.class} (${p.label})` : String(p.class));
      row(`${prefix}logits`, p.logits.join(', '));
      row(`${prefix}scores`, p.scores.map((s) => s.toFixed(4)).join(', '));
      for (const o of item.outputs ?? []) row(`${prefix}output ${o.name} [${o.shape.join('x')}]`, o.values.map((v) => v.toFixed(4)).join(', '));
      if (item.inputCommitment) row(`${prefix}input commitment`, item.inputCommitment);
    });
    if (result.insecureSetup) row('setup', 'local development setup (INSECURE: whoever ran it can forge proofs)');
    if (result.output.weightsCommitment) row('weights commitment', result.output.weightsCommitment);
    const cls = result.output.prediction.class;
    if (cls !== undefined) verdict.dataset.class = String(cls);
    show('done', cls !== undefined ? `VALID: class ${cls}` : 'VALID', true);
  } catch (err) {
    // A key or input that cannot be read: no verdict on the bundle, but never VALID.
    verdict.dataset.reason = err.message;
    show('done', `${err?.code === 'BAD_KEY' ? 'KEY ERROR' : 'ERROR'}: ${err.message}`, false);
  }
}

$('verify').addEventListener('click', run);
if (window.snarkjs?.groth16?.verify) {
  $('verify').disabled = false;
  show('ready', 'pick or paste a key and a bundle, then Verify');
} else {
  show('error', 'snarkjs did not load (vendor/snarkjs.min.js): run `npm run build` first, which writes web/vendor/', false);
}
