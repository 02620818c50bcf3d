// Inference latency of one forward pass (next-token logits for a [batch, context] block, read back): the base
// model, the same model with an unmerged LoRA adapter (two extra small matMuls per target), and with the adapter
// merged into the kernels (W' = W + scaling·B·A: Hu et al. 2021 §4.1, "no additional inference latency").
import * as tf from '@tensorflow/tfjs';
import type { BenchModels } from './training.js';
import { interleaved, median } from './timing.js';

export interface InferenceResult {
  batchSize: number;
  contextLength: number;
  /** Median milliseconds per forward pass. */
  baseMs: number;
  unmergedMs: number;
  mergedMs: number;
  /** Medians over rounds of the per-round ratios merged/base and unmerged/base (paired: robust to load drift). */
  mergedOverBase: number;
  unmergedOverBase: number;
  /** Largest |merged − unmerged| logit: merging must not change outputs (float32 rounding only). */
  mergeMaxAbsDiff: number;
}

export async function benchInference(models: BenchModels, maxReps: number, budgetMs = 20_000, minReps = 3): Promise<InferenceResult> {
  const { plain, loraModel, lora, batch } = models;
  const tokens = tf.tensor2d(batch.inputs, [batch.batchSize, batch.length], 'int32'); // [B, T]
  const forward = (m: typeof plain) => async () => {
    const logits = m.logits(tokens); // [B, T, V]
    await logits.data();
    logits.dispose();
  };
  // Outputs before and after merging, to report that merge is exact up to rounding.
  const unmergedLogits = loraModel.logits(tokens); // [B, T, V]
  lora.merge();
  const mergedLogits = loraModel.logits(tokens); // [B, T, V]
  const diff = tf.tidy(() => unmergedLogits.sub(mergedLogits).abs().max()); // scalar
  const mergeMaxAbsDiff = (await diff.data())[0]!;
  tf.dispose([unmergedLogits, mergedLogits, diff]);
  lora.unmerge();

  const base: number[] = [];
  const unmerged: number[] = [];
  const merged: number[] = [];
  // Merge state flips within a round: base, unmerged, then merged. The first round is a warm-up that also tells
  // how many rounds fit in `budgetMs` (at least `minReps`, at most `maxReps`).
  const round = async () => {
    const t = await interleaved({ base: forward(plain), unmerged: forward(loraModel) }, 1, 0);
    lora.merge();
    const m = await interleaved({ merged: forward(loraModel) }, 1, 0);
    lora.unmerge();
    return { base: t.base[0]!, unmerged: t.unmerged[0]!, merged: m.merged[0]! };
  };
  const t0 = performance.now();
  await round();
  const reps = Math.max(minReps, Math.min(maxReps, Math.floor(budgetMs / (performance.now() - t0))));
  for (let i = 0; i < reps; i++) {
    const r = await round();
    base.push(r.base);
    unmerged.push(r.unmerged);
    merged.push(r.merged);
  }
  tokens.dispose();
  return {
    batchSize: batch.batchSize,
    contextLength: batch.length,
    baseMs: median(base),
    unmergedMs: median(unmerged),
    mergedMs: median(merged),
    mergedOverBase: median(merged.map((m, i) => m / base[i]!)),
    unmergedOverBase: median(unmerged.map((u, i) => u / base[i]!)),
    mergeMaxAbsDiff,
  };
}
