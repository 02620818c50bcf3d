// Charts: Vega-Lite specs as plain JSON, rendered to SVG/PNG headless, shown in notebooks or saved as files.
export * from './spec.js';
export { renderSvg, renderPng, svgToPng, type PngOptions } from './render.js';
export { saveChart } from './save.js';
export { spreadChart, type SpreadOptions } from './spread.js';
export {
  svdStages, svdStagesChart, SVD_STAGE_COLORS, type Matrix2, type Svd2, type SvdStage, type SvdStagesOptions,
} from './svd-stages.js';
export { loraBlockDiagram, loraBlockGeometry, type LoraBlockOptions } from './lora-block.js';
export { matrixEquation, type EquationTerm, type MatrixEquationOptions } from './matrix-equation.js';
export { lossMaskChart, type MaskedRow, type LossMaskOptions } from './loss-mask.js';
export {
  attentionBlockDiagram, BLOCK_PROJECTIONS, type AttentionBlockOptions, type BlockProjection,
} from './attention-block.js';
