// What only notebooks need: check(), tslab display of charts/tables/markdown, live training progress.
export { check, checkClose, CheckError } from './check.js';
export { LiveOutput, chartOutput, pngSize, CHART_PNG_SCALE, showChart, showTable, showMarkdown, tableBundle } from './display.js';
export { notebookProgress, formatStep, formatDuration, type StepReport, type NotebookProgressOptions } from './progress.js';
export { interleavedMedians, type TimingOptions } from './timing.js';
