/**
 * The data library's entry for the CLI and bench: find, read, list and fetch the datasets. Free of
 * TensorFlow.js; turning an ImageSet into model input lives in ./convert.js, imported separately by
 * code that has tfjs. It re-exports only what production code imports through it (the
 * unused-export check holds it to that); everything else is imported from its own module.
 */
export { parseDatasetName } from './catalog.js';
export { loadImageSet, parseSplit } from './load.js';
export { listDatasets } from './listing.js';
export { formatListingTable } from './listing-format.js';
export { fetchDataset } from './fetch.js';
export { fetchProgressPrinter } from './fetch-progress.js';
