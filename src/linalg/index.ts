// The linear-algebra chapter's public API: SVD and low-rank approximation over ml-matrix, randomized SVD,
// seeded random matrices, subspace similarity (LoRA paper §7.2), Tensor <-> Matrix crossings, LoRA parameter
// counts and a test picture. (The experiments that train, fitting B·A and a full fine-tune's ΔW, are in experiments/.)
export { asMatrix, type MatrixInput } from './validate.js';
export { svd, singularValues, reconstruct, sigmaMatrix, type Svd, type SvdOptions } from './svd.js';
export {
  lowRankApprox,
  energy,
  truncationError,
  frobeniusNorm,
  spectralNorm,
  frobeniusError,
  spectralError,
  effectiveRank,
  entropyEffectiveRank,
} from './lowrank.js';
export {
  createRng,
  randomGaussian,
  randomOrthogonal,
  prescribedSpectrum,
  type Rng,
  type SeedOrRng,
} from './random.js';
export { randomizedSvd, type RandomizedSvdOptions } from './rsvd.js';
export { svdFlops, bidiagonalizationFlops, randomizedSvdFlops, type RandomizedSvdFlops } from './flops.js';
export { type FlopCounter } from './dense.js';
export {
  subspaceSimilarity,
  subspaceSimilarityGrid,
  type SubspaceOptions,
  type SubspaceGridOptions,
} from './subspace.js';
export { tensorToMatrix, matrixToTensor } from './tensor.js';
export { paramCounts, type ParamCounts } from './params.js';
export { demoPicture } from './picture.js';
export { maxAbsDiff, relativeError } from './compare.js';
export { pca, pcaProject, type Pca } from './pca.js';
