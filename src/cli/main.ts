#!/usr/bin/env node
import { Command, Option } from 'commander';
import { DEFAULT_MODEL, BUNDLED_MODELS } from '../model/index.js';
import { ZkinferError } from '../util/errors.js';
import { checkArtifactsDir } from '../util/fs.js';
import { checkCommitmentCommand, ptauCommand, verifyCommand } from './commands.js';
import { exportCalldataCommand, exportVerifierCommand, serveCommand } from './verifierCommands.js';
import { DEFAULT_QUEUE, serveProverCommand, storeModelCommand, workerCommand } from './queueCommands.js';
import { graphCommitWeightsCommand, graphCompileCommand, graphDemoCommand, graphEvaluateCommand, graphProveCommand, graphSetupCommand } from './graphCommands.js';
import { isSplit, splitCompileCommand, splitProveCommand, splitSetupCommand } from './splitCommands.js';

/** Every model, in every visibility mode (private weights included), goes through the op-graph pipeline (src/graph). */

/** The zkinfer CLI. Exit codes: 0 success / valid proof, 1 invalid proof, 2 bad input or failure. */
const modelOption = () =>
  new Option('-m, --model <model>', `bundled model (${Object.keys(BUNDLED_MODELS).join(', ')}) or path to a tfjs model.json or an .onnx file`).default(DEFAULT_MODEL);
const common = (cmd: Command) =>
  cmd
    .addOption(modelOption())
    .option(
      '--calibration <file>',
      "calibration inputs in the model's own units (array of samples, {name: array}, or EZKL input.json): floats, or integers for an input with a declared integer encoding (the bundled models' pixels; default for them: 1,000 training digits)",
    )
    .option('--input-scale <x>', 'float inputs: real value of one input integer (default: calibrated range / 2^(bits-1))')
    .option('--input-bits <n>', 'width of the input integers (float default 12, signed; int default: the declared width, else from calibration)')
    .option('--bits <n>', 'width of requantized activations (default 8)')
    .option('--lookup-bits <n>', 'input width of nonlinear-function tables (default 8)')
    .option('--tensor-bits <list>', 'per-tensor widths, NAME=BITS[:LOOKUP_BITS],... (NAME: a node or the tensor it makes)')
    .option('--class', 'also prove the argmax of the first output as the class (default: when the graph ends in Softmax or the model declares class labels)')
    .addOption(
      new Option(
        '--emit <mode>',
        'graph models: circom compiles the whole circuit; linked compiles each gadget once and links them in TypeScript (for big models); auto links above 100k linear-form terms',
      )
        .choices(['circom', 'linked', 'auto'])
        .default('auto'),
    )
    .option('--artifacts <dir>', 'artifacts/cache directory (default: $ZKINFER_ARTIFACTS, else ./artifacts in the working directory)')
    .option('--private-input', 'keep the input private; publish a salted Poseidon commitment to it instead')
    .option('--class-only', 'publish only the predicted class, not the logits')
    .addOption(
      new Option('--weights <mode>', 'constant: weights baked into the circuit; private: one circuit for any weights of the architecture, model id = their commitment')
        .choices(['constant', 'private'])
        .default('constant'),
    )
    .option('-q, --quiet', 'no progress output');

/** Split models: compile, setup and prove a chain of chunk circuits (src/graph/split.ts). */
const splittable = (cmd: Command) =>
  cmd
    .option(
      '--split <tensors>',
      'cut the model at these tensors (comma-separated, in graph order) into chunks proved separately and chained by input/output commitments; auto: cuts from --chunk-constraints',
    )
    .option('--chunk-constraints <n>', 'with --split auto: estimated constraint budget per chunk');

const program = new Command('zkinfer')
  .description('Prove in zero knowledge that an output came from running a given quantized neural network on a given input (Groth16).')
  .showHelpAfterError()
  // Before any work: an artifacts path naming a regular file would otherwise fail at the first cache write.
  .hook('preAction', async (_program, command) => {
    const flag = (command.opts() as { artifacts?: string }).artifacts;
    if (flag !== undefined) await checkArtifactsDir(flag, '--artifacts');
    else if (process.env.ZKINFER_ARTIFACTS) await checkArtifactsDir(process.env.ZKINFER_ARTIFACTS, '$ZKINFER_ARTIFACTS');
  });

splittable(common(program.command('compile').description('quantize the model and compile its circuit (prints accuracy and constraints)'))).action((flags) =>
  isSplit(flags) ? splitCompileCommand(flags) : graphCompileCommand(flags),
);

common(program.command('evaluate').description('float vs quantized agreement of a model on a data set, without proving'))
  .requiredOption('--inputs <file>', 'samples to evaluate on (same formats as --calibration)')
  .option('--labels <file>', 'JSON array of class indices: also print float and quantized accuracy')
  .action(graphEvaluateCommand);

splittable(common(program.command('setup').description('Groth16 setup for the model (cached); writes its verification key')))
  .option('--ptau <file>', 'ceremony powers-of-tau file prepared for phase 2 (verified before use); default: local INSECURE dev ptau')
  .action((flags) => (isSplit(flags) ? splitSetupCommand(flags) : graphSetupCommand(flags)));

splittable(common(program.command('prove').description('prove one inference and write a proof bundle')))
  .option('--workers <n>', 'with --split: prove the chunks at once on n prover threads (default 0: one after another)')
  .option('--input <file>', "one sample in the model's units (flat array, {name: array}, or EZKL input.json; the bundled models: 784 integer pixels 0..255)")
  .option('--mnist-index <n>', 'use held-out MNIST digit n as the input')
  .option('--batch <file>', 'JSON array of k inputs: one proof for all k inferences (a circuit of k copies)')
  .option('--ptau <file>', 'ceremony powers-of-tau file (as for setup)')
  .option('-o, --out <file>', 'where to write the bundle', 'proof.json')
  .option(
    '--weights-file <file>',
    "with --weights private: another model (.onnx or model.json) of the same architecture whose weights to prove with, quantized at the circuit's scales (default: the --model's)",
  )
  .option('--weights-salt <n>', 'with --weights private: the secret salt of the weights commitment (see commit-weights)')
  .action((flags) => (isSplit(flags) ? splitProveCommand(flags) : graphProveCommand(flags)));

// The same lowering flags as compile: the circuit's public scales (and so the commitment's tag) come from them.
common(program.command('commit-weights').description("print the weights commitment (the model id of --weights private proofs) of a model's weights under a salt"))
  .option('--weights-file <file>', "another model of the same architecture whose weights to commit to (default: the --model's)")
  .option('--weights-salt <n>', 'decimal salt (default: a fresh random salt, printed)')
  .action(graphCommitWeightsCommand);

program
  .command('verify')
  .description("verify a proof bundle (or a split model's chain bundle); exit 0 if valid, 1 if not (with the reason), 2 if the bundle or key is malformed")
  .argument('<bundle>', 'proof bundle JSON file')
  .option('-k, --key <file>', "verification key, or chain key (default: looked up by the bundle's model id under artifacts/keys/by-id, or chain id under artifacts/keys/chains)")
  .option('--artifacts <dir>', 'artifacts directory holding keys/by-id')
  .option('--json', 'print the full verdict as JSON')
  .action(async (file: string, flags) => {
    process.exitCode = await verifyCommand(file, flags);
  });

program
  .command('check-commitment')
  .description('verify a private-input proof and check that its input commitments open to the given inputs and salts')
  .argument('<bundle>', 'proof bundle JSON file')
  .requiredOption('--opening <file>', 'the .opening.json written by zkinfer prove (inputs and salts)')
  .option('-k, --key <file>', 'verification key (default: looked up by model id)')
  .option('--artifacts <dir>', 'artifacts directory holding keys/by-id')
  .action(async (file: string, flags) => {
    process.exitCode = await checkCommitmentCommand(file, flags);
  });

program
  .command('ptau')
  .description('write a prepared local development powers-of-tau file (INSECURE, for development only)')
  .requiredOption('-p, --power <n>', 'log2 of the maximum constraint count')
  .requiredOption('-o, --out <file>', 'output .ptau file')
  .action(ptauCommand);

common(program.command('demo').description('compile, set up, prove and verify one held-out MNIST digit'))
  .option('--mnist-index <n>', 'which held-out digit', '0')
  .option('--ptau <file>', 'ceremony powers-of-tau file (as for setup)')
  .action(async (flags) => {
    process.exitCode = await graphDemoCommand(flags);
  });

program
  .command('serve')
  .description('HTTP verification service: POST /v1/verify, GET /v1/models[/:id], GET /healthz (stops gracefully on SIGINT/SIGTERM)')
  .option('--keys <dir>', 'directory of zkinfer keys (*.json), loaded once (default: artifacts/keys/by-id)')
  .option('--artifacts <dir>', 'artifacts directory whose keys/by-id to serve when --keys is not given')
  .option('-p, --port <n>', 'TCP port (0 = any free port)', '8080')
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--body-limit <bytes>', 'largest accepted request body', '1048576')
  .option('-q, --quiet', 'log warnings and errors only')
  .action(serveCommand);

program
  .command('export-verifier')
  .description("write a Solidity Groth16 verifier contract for a key (rendered with snarkjs's template from the key alone)")
  .requiredOption('-k, --key <key>', 'verification key file, or a model id filed under artifacts/keys/by-id')
  .requiredOption('-o, --out <file>', 'where to write the .sol file')
  .option('--contract-name <name>', 'Solidity contract name', 'Groth16Verifier')
  .option('--artifacts <dir>', 'artifacts directory holding keys/by-id')
  .action(exportVerifierCommand);

program
  .command('export-calldata')
  .description("print a bundle's verifyProof arguments (snarkjs format), or ABI-encoded call data with --abi")
  .argument('<bundle>', 'proof bundle JSON file')
  .option('--abi', 'print 0x-prefixed ABI-encoded call data (selector + arguments) instead')
  .option('-o, --out <file>', 'write to a file instead of stdout')
  .action(exportCalldataCommand);

common(
  program.command('store-model').description('set the model up (cached) and file it under artifacts/models/by-id so prove workers sharing the artifacts directory can prove it'),
)
  .option('--ptau <file>', 'ceremony powers-of-tau file (as for setup)')
  .option('--batch <k>', 'inferences per proof')
  .action(storeModelCommand);

program
  .command('worker')
  .description('prove jobs from a BullMQ queue in Redis (models loaded from the artifacts directory by id); stops gracefully on SIGINT/SIGTERM')
  .requiredOption('--redis <url>', 'Redis URL, e.g. redis://10.0.0.5:6379')
  .option('-c, --concurrency <n>', 'concurrent proofs, one thread each', '1')
  .option('--queue <name>', 'queue name', DEFAULT_QUEUE)
  .option('--prefix <prefix>', 'Redis key prefix of the queue (BullMQ default "bull")')
  .option('--artifacts <dir>', 'artifacts directory holding models/by-id (shared with the machine that ran store-model)')
  .option('--lock-duration <ms>', 'a job whose worker stops renewing its lock for this long is retried elsewhere (default 30000)')
  .option('-q, --quiet', 'print failures only')
  .action(workerCommand);

program
  .command('serve-prover')
  .description('the verification server plus POST /v1/prove and GET /v1/jobs/:id; proves on Redis workers with --redis, else in this process')
  .option('--keys <dir>', 'directory of zkinfer keys (default: artifacts/keys/by-id)')
  .option('--artifacts <dir>', 'artifacts directory (keys, and models for in-process proving)')
  .option('-p, --port <n>', 'TCP port (0 = any free port)', '8080')
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--redis <url>', 'enqueue jobs in this Redis for `zkinfer worker` processes')
  .option('--queue <name>', 'queue name', DEFAULT_QUEUE)
  .option('--prefix <prefix>', 'Redis key prefix of the queue')
  .option('-c, --concurrency <n>', 'prover threads without --redis', '1')
  .option('-q, --quiet', 'log warnings and errors only')
  .action(serveProverCommand);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const message = err instanceof ZkinferError ? err.message : `internal error: ${(err as Error)?.stack ?? String(err)}`;
  process.stderr.write(`zkinfer: ${message}\n`);
  process.exitCode = 2;
}
// snarkjs/ffjavascript keep curve worker threads alive; the CLI is done, so end the process here.
process.exit(process.exitCode ?? 0);
