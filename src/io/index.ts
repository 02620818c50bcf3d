// File formats and safe writes: safetensors encode/decode, atomic file/directory replacement with crash recovery.
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
export { writeFileAtomic, replaceDirAtomic, updateDirAtomic, recoverDir, readDir, type LockOptions } from './files.js';
export { type SafeEntry, type SafeHeader } from './safetensors.js';
export { SafetensorsFile, type ReadFloat32Options } from './safetensors-file.js';
export { type FloatDtype } from './float.js';
