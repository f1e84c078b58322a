/**
 * The data library: find, read, list and fetch the datasets. Free of TensorFlow.js; turning an
 * ImageSet into model input lives in ./convert.js, imported separately by code that has tfjs.
 */
export { DATASET_NAMES, SPLITS } from './types.js';
export type { DatasetInfo, DatasetName, ImageSet, InputSpec, Normalisation, NormalisationFamily, Split } from './types.js';
export { datasetInfo, howToGet, parseDatasetName } from './catalog.js';
export { normalisationFor } from './normalisation.js';
export { loadImageSet, parseSplit, type LoadOptions } from './load.js';
export { listDatasets, type DatasetListing, type ListOptions, type SplitListing } from './listing.js';
export { formatListingTable } from './listing-format.js';
export { fetchDataset, type FetchEvent, type FetchOptions, type FetchReport } from './fetch.js';
export { fetchProgressPrinter } from './fetch-progress.js';
export { downloadsAllowed, OFFLINE_ENV } from './on-demand.js';
export { officialManifest, type DatasetManifest, type ManifestFile, type ZipExtraction } from './manifest.js';
export { defaultLocations, type DataLocations } from './locations.js';
