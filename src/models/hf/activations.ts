// The MLP activations Hugging Face configs name (transformers activations.py ACT2FN), written from their
// definitions: gelu_new / gelu_pytorch_tanh = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (GPT-2),
// gelu = x·Φ(x) (erf), silu / swish = x·σ(x) (Llama's SwiGLU gate), relu.
import * as tf from '@tensorflow/tfjs';
import { gelu as geluTanh } from '../gpt.js';

export type Activation = (x: tf.Tensor) => tf.Tensor;

const ACTIVATIONS: Record<string, Activation> = {
  gelu_new: geluTanh,
  gelu_pytorch_tanh: geluTanh,
  gelu: (x) => tf.tidy(() => x.mul(tf.erf(x.mul(Math.SQRT1_2)).add(1)).mul(0.5)),
  silu: (x) => tf.tidy(() => x.mul(tf.sigmoid(x))),
  swish: (x) => tf.tidy(() => x.mul(tf.sigmoid(x))),
  relu: (x) => tf.relu(x),
};

/** The activation called `name` in config.json, or an error listing the ones supported. */
export function activation(name: string): Activation {
  const f = ACTIVATIONS[name];
  if (f === undefined) throw new Error(`activation '${name}' is not supported; supported: ${Object.keys(ACTIVATIONS).join(', ')}`);
  return f;
}
