// Model ids live with the formats (src/format/modelId.ts) so the Node-free verifier core can check them.
export { keyIdOfBundle, modelIdOfCommitment, modelIdProblem } from '../format/modelId.js';
