/** The detection engine's public surface. Pure functions only. */
export * from "./types.js";
export { detect, severityOf, highestSeverity, hashValue, hmacHex, findCandidates } from "./engine.js";
export * from "./validators.js";
export * from "./masking.js";
export { contextVerdict, hintWords } from "./context.js";
export { classifyName } from "./secrets.js";
