import { simulate } from './bench/scale';
async function main() {
for (const nodes of (process.env.N ?? '10,100').split(',').map(Number)) {
  const r = await simulate({ nodes, adds: Number(process.env.A ?? 200) });
  const a = r.add, d = r.del;
  console.log(nodes, 'ADD', { perAdd: { req: (a.requests / a.ops).toFixed(3), writesInc409: (a.attempts / a.ops).toFixed(4), objects: (a.objects / a.ops).toFixed(3), bytes: (a.bytes / a.ops).toFixed(0) }, refused: a.refusedByKind }, 'DEL', { req: (d.requests / d.ops).toFixed(2), bytes: (d.bytes / d.ops).toFixed(0), attempts: (d.attempts/d.ops).toFixed(3) }, 'sticky', r.sticky, 'dups', r.duplicates, r.liveClashes, 'kinds', JSON.stringify(r.kinds), 'ms', r.ms.toFixed(0));
}
}
void main();
