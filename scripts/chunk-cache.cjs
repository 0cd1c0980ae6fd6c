// Writes the V8 code cache of a wrapped chunk (argv[2]) to argv[3]; run by the node the binary is made from. `--eager` (argv[4]) puts every function in it.
const { readFileSync, writeFileSync } = require('node:fs');
const { Script } = require('node:vm');
const { setFlagsFromString } = require('node:v8');

const [source, out, eager] = [readFileSync(process.argv[2], 'utf8'), process.argv[3], process.argv[4] === '--eager'];
// V8 compiles a function only when it is first called, and a cache holds only what was compiled when it was made:
// without --eager, every function a verb calls is compiled at run time (about 10 ms of an ADD). V8 refuses a cache
// made under other flags, so lazy compilation is back on before the cache is written: the flags it records are
// the ones the binary runs with.
if (eager) setFlagsFromString('--no-lazy');
const script = new Script(source, { filename: process.argv[2] });
// Running the chunk's top level first puts the functions it compiles on the way into the cache too.
const chunk = { exports: {} };
script.runInThisContext()(chunk.exports, require, chunk);
if (eager) setFlagsFromString('--lazy');
const data = script.createCachedData();
writeFileSync(out, data);
// The cache must be one this node accepts under its default flags; the binary's own check is in scripts/build.mjs.
if (new Script(source, { filename: process.argv[2], cachedData: data }).cachedDataRejected !== false) {
  console.error(`chunk-cache: V8 refuses the code cache it made for ${process.argv[2]}`);
  process.exit(1);
}
