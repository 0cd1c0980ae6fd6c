// Writes the V8 code cache of a wrapped chunk (argv[2]) to argv[3]; run by the node the binary is made from.
const { readFileSync, writeFileSync } = require('node:fs');
const { Script } = require('node:vm');

const source = readFileSync(process.argv[2], 'utf8');
const script = new Script(source, { filename: process.argv[2] });
// Running the chunk's top level first puts the functions it compiles on the way into the cache too.
const chunk = { exports: {} };
script.runInThisContext()(chunk.exports, require, chunk);
writeFileSync(process.argv[3], script.createCachedData());
