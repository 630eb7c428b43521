// Checks a parsed stdout object against the protocol schema (protocol/hima.schema.json, $defs/Event).
// The schema is the one source of truth; this file only compiles it and turns ajv's errors into one
// readable sentence ("step event: /loss must be number").
import Ajv2020, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020";
import { orderProblem } from "../../protocol/contract";
import schema from "../../protocol/hima.schema.json";
import type { Control, Event } from "../../protocol/protocol.generated";
import { CONTROL_DEFS, CONTROL_TYPES, EVENT_DEFS, EVENT_TYPES } from "../../protocol/protocol.generated";

let ajv: Ajv2020 | null = null;
const validators = new Map<string, ValidateFunction>();

/** The schema's `x-ordered: [a, b]` (field a must not exceed field b), with the reason protocol/contract.ts gives. */
const X_ORDERED = {
  keyword: "x-ordered",
  type: "object" as const,
  schemaType: "array" as const,
  errors: true,
  validate: function ordered(fields: [string, string], data: Record<string, unknown>): boolean {
    const problem = orderProblem(data, fields);
    (ordered as unknown as { errors: Partial<ErrorObject>[] | null }).errors = problem ? [{ keyword: "x-ordered", message: problem, params: {} }] : null;
    return problem === null;
  },
};

function validatorFor(def: string): ValidateFunction {
  let v = validators.get(def);
  if (!v) {
    // allowUnionTypes: the schema uses ["integer", "null"]; compiled lazily so importing is cheap.
    ajv ??= new Ajv2020({ allErrors: false, allowUnionTypes: true, strict: true }).addKeyword(X_ORDERED).addSchema(schema);
    const found = ajv.getSchema(`${schema.$id}#/$defs/${def}`);
    if (!found) throw new Error(`protocol schema has no $defs/${def}`);
    v = found;
    validators.set(def, v);
  }
  return v;
}

function describe(what: string, errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return `${what}: invalid`;
  const where = e.instancePath || "(root)";
  const extra = e.keyword === "additionalProperties" ? ` (${String(e.params.additionalProperty)})` : e.keyword === "const" || e.keyword === "enum" ? ` (expected ${JSON.stringify(expectedValue(e))})` : "";
  return `${what}: ${where} ${e.message ?? "is invalid"}${extra}`;
}
function expectedValue(e: ErrorObject): unknown {
  return (e.params as { allowedValue?: unknown; allowedValues?: unknown }).allowedValue ?? (e.params as { allowedValues?: unknown }).allowedValues;
}

function check<T>(value: unknown, kind: "event" | "control", known: readonly string[], defs: Readonly<Record<string, string>>): T | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return `${kind} is not a JSON object`;
  const type = (value as { type?: unknown }).type;
  if (typeof type !== "string") return `${kind} has no string "type"`;
  if (!known.includes(type)) return `unknown ${kind} type ${JSON.stringify(type.slice(0, 40))}`;
  const validate = validatorFor(defs[type]);
  return validate(value) ? (value as T) : describe(`${type} ${kind}`, validate.errors);
}

/** Whether `value` matches the schema's $defs/`def`, or the reason it does not ("trainer record: /pid must be >= 2"). */
export function validateDefinition(value: unknown, def: string, what: string): string | null {
  const validate = validatorFor(def);
  return validate(value) ? null : describe(what, validate.errors);
}

/** The value as a typed protocol event, or the reason it is not one. */
export function validateEvent(value: unknown): Event | string {
  return check<Event>(value, "event", EVENT_TYPES, EVENT_DEFS);
}

/** The value as a typed control line, or the reason it is not one (every sendControl checks it before writing). */
export function validateControl(value: unknown): Control | string {
  return check<Control>(value, "control", CONTROL_TYPES, CONTROL_DEFS);
}
