// The config schema's validators: compiled by ajv on first use here; the binary's build swaps in the same code, precompiled.
import Ajv, { type ValidateFunction } from 'ajv';
import standaloneCode from 'ajv/dist/standalone';
import { confSchema } from './schema';

/** Each validator by name, with the schema reference it checks. */
export const VALIDATORS = { conf: 'macmux', network: 'macmux#/$defs/network' } as const;
export type ValidatorName = keyof typeof VALIDATORS;

const options = { allErrors: true, strict: false, schemas: [confSchema] };

let ajv: Ajv | undefined;
export function validator(name: ValidatorName): ValidateFunction {
  ajv ??= new Ajv(options);
  return ajv.getSchema(VALIDATORS[name])!;
}

/**
 * The source of a CommonJS module that exports `validator(name)` over standalone validators: what
 * ajv compiles at run time, generated once at build time (it requires only ajv's small runtime helpers).
 */
export function precompiledSource(): string {
  const compiler = new Ajv({ ...options, code: { source: true } });
  const standalone = standaloneCode(compiler, { ...VALIDATORS });
  return `${standalone}\nconst __all = module.exports;\nmodule.exports = { validator: (name) => __all[name] };\n`;
}
