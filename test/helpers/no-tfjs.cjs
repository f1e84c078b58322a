// Preloaded with --require in a test: any attempt to load TensorFlow.js exits with code 99.
const Module = require('node:module');
const load = Module._load;
Module._load = function (request, ...rest) {
  if (typeof request === 'string' && request.startsWith('@tensorflow/')) {
    process.stderr.write(`tfjs was loaded: ${request}\n`);
    process.exit(99);
  }
  return load.call(this, request, ...rest);
};
