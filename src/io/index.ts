// File formats and safe writes: safetensors encode/decode and atomic file/directory replacement.
// Reference: huggingface/safetensors format spec.
export {
  type SafeDtype,
  type SafeTensor,
  DTYPE_SIZE,
  encodeSafetensors,
  decodeSafetensors,
  f32Tensor,
  toFloat32,
} from './safetensors.js';
export { writeFileAtomic, replaceDirAtomic } from './files.js';
