// Charts: Vega-Lite specs as plain JSON, rendered to SVG/PNG headless, shown in notebooks or saved as files.
export * from './spec.js';
export { renderSvg, renderPng, svgToPng, type PngOptions } from './render.js';
export { saveChart } from './save.js';
export { spreadChart, type SpreadOptions } from './spread.js';
export { smallMultiples, type SmallMultiplesOptions } from './facet.js';
