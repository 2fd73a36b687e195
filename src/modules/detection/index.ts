/** The detection engine's public surface. Pure functions only. */
export * from "./types.js";
export { detect, severityOf, highestSeverity, hashValue, hmacHex, findCandidates, phoneRegionList } from "./engine.js";
export { DEFAULT_PHONE_REGIONS } from "./patterns.js";
export * from "./validators.js";
export * from "./masking.js";
export { contextVerdict, hintWords } from "./context.js";
export { classifyName } from "./secrets.js";
