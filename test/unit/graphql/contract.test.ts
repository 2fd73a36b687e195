import { readFile } from "node:fs/promises";
import {
  buildSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  type GraphQLNamedType,
  type GraphQLSchema,
} from "graphql";
import { beforeAll, describe, expect, it } from "vitest";
import { buildAppSchema, printAppSchema } from "../../../src/graphql/schema.js";

/**
 * The contract (API.md) may grow but never change: every type, field, argument (with its
 * type and default) and enum value of the sketch must be served exactly so.
 */
let served: GraphQLSchema;
let contract: GraphQLSchema;

beforeAll(async () => {
  served = await buildAppSchema();
  contract = buildSchema(await readFile("test/fixtures/api-contract.graphql", "utf8"));
});

const userTypes = (schema: GraphQLSchema): GraphQLNamedType[] =>
  Object.values(schema.getTypeMap()).filter((t) => !t.name.startsWith("__"));

describe("the served schema honours the public contract", () => {
  it("has every contract type with the same kind", () => {
    for (const type of userTypes(contract)) {
      const mine = served.getType(type.name);
      expect(mine, `type ${type.name}`).toBeDefined();
      expect(mine!.constructor.name, type.name).toBe(type.constructor.name);
    }
  });

  it("has every contract field, argument and enum value, typed the same", () => {
    const problems: string[] = [];
    for (const type of userTypes(contract)) {
      const mine = served.getType(type.name);
      if (!mine) continue;
      if (isEnumType(type) && isEnumType(mine)) {
        for (const v of type.getValues()) if (!mine.getValue(v.name)) problems.push(`${type.name}.${v.name} missing`);
      }
      if ((isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) && (isObjectType(mine) || isInterfaceType(mine) || isInputObjectType(mine))) {
        const mineFields = mine.getFields();
        for (const [name, field] of Object.entries(type.getFields())) {
          const m = mineFields[name];
          if (!m) {
            problems.push(`${type.name}.${name} missing`);
            continue;
          }
          if (String(m.type) !== String(field.type)) problems.push(`${type.name}.${name}: ${String(m.type)} != ${String(field.type)}`);
          if ("args" in field && "args" in m) {
            for (const arg of field.args) {
              const ma = m.args.find((a) => a.name === arg.name);
              if (!ma) problems.push(`${type.name}.${name}(${arg.name}) missing`);
              else {
                if (String(ma.type) !== String(arg.type)) problems.push(`${type.name}.${name}(${arg.name}): ${String(ma.type)} != ${String(arg.type)}`);
                if (ma.defaultValue !== arg.defaultValue) problems.push(`${type.name}.${name}(${arg.name}) default ${String(ma.defaultValue)} != ${String(arg.defaultValue)}`);
              }
            }
            for (const ma of m.args) {
              if (!field.args.some((a: { name: string }) => a.name === ma.name) && String(ma.type).endsWith("!") && ma.defaultValue === undefined) {
                problems.push(`${type.name}.${name}(${ma.name}) is a new required argument`);
              }
            }
          }
          if (isInputObjectType(type) && "defaultValue" in field && "defaultValue" in m && m.defaultValue !== field.defaultValue) {
            problems.push(`${type.name}.${name} default ${String(m.defaultValue)} != ${String(field.defaultValue)}`);
          }
        }
      }
      if (isScalarType(type) && !isScalarType(mine)) problems.push(`${type.name} is not a scalar`);
    }
    expect(problems).toEqual([]);
  });

  it("matches schema.graphql, which `npm run schema` prints", async () => {
    expect(printAppSchema(served)).toBe(await readFile("schema.graphql", "utf8"));
  });
});
