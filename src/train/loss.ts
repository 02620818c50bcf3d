// Losses: masked next-token cross-entropy for SFT (only answer tokens count) and plain cross-entropy for
// the classifier. CE at position t = −log softmax(logits_t)[target_t]; the masked mean is
// Σ_t mask_t·CE_t / Σ_t mask_t (Ouyang et al. 2022 §3.5 style SFT: the prompt is context, not a target).
import * as tf from '@tensorflow/tfjs';

/**
 * Mean cross-entropy over the positions where mask = 1.
 * logits [B, T, V], targets [B, T] int32, mask [B, T] float (0/1). Positions with mask 0 do not affect the
 * value or the gradient. An all-zero mask gives 0 (and zero gradients).
 */
export function maskedCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  const [B, T, V] = logits.shape;
  if (targets.shape[0] !== B || targets.shape[1] !== T || mask.shape[0] !== B || mask.shape[1] !== T) {
    throw new Error(
      `maskedCrossEntropy: logits [${logits.shape}] need targets and mask [${B}, ${T}], ` +
        `got targets [${targets.shape}] and mask [${mask.shape}]`,
    );
  }
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits); // [B, T, V]
    const picked = logp.mul(tf.oneHot(targets.toInt(), V)).sum(-1); // [B, T]: log p(target)
    const m = mask.toFloat(); // [B, T]
    const count = m.sum(); // scalar
    // The division by a data-dependent count is fine for gradients: count is a constant w.r.t. weights.
    return picked.mul(m).sum().neg().div(tf.maximum(count, 1)) as tf.Scalar;
  });
}

/** Mean softmax cross-entropy for class logits [N, C] and integer labels [N]. */
export function classCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  const [N, C] = logits.shape;
  if (labels.shape[0] !== N) throw new Error(`classCrossEntropy: ${N} rows of logits but ${labels.shape[0]} labels`);
  return tf.tidy(() => tf.logSoftmax(logits).mul(tf.oneHot(labels.toInt(), C)).sum(-1).mean().neg() as tf.Scalar);
}
