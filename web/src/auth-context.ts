import { createContext, useContext } from "react";

/** The signed-in token, for the few requests urql does not make (uploads, report downloads). */
export const TokenContext = createContext<string>("");
export const useToken = (): string => useContext(TokenContext);
