// Quantised frozen base layers (int8, int4, NF4; QLoRA's double quantisation): a base-layer format, not LoRA.
// QLoRA = quantizeBase(model, { bits: 'nf4' }) then injectLora(model, config).
export {
  type QuantScheme,
  type QuantizeOptions,
  type QuantizedWeight,
  type QuantizedScales,
  type QuantError,
  NF4_CODE,
  quantizeWeight,
  dequantizeWeight,
  blockScales,
  quantizedBytes,
  bitsPerWeight,
  quantizationError,
  quantizeKernel,
} from './weight.js';
export { QuantizedDense, quantizeDense, type QuantizedDenseArgs } from './dense.js';
export { quantizeBase, weightBytes, isQuantized, type QuantizeBaseOptions, type QuantizedBase } from './base.js';
