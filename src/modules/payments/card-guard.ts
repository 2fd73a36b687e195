import { luhnCheck } from "../detection/index.js";

/**
 * Refuses card data in payment records (PCI DSS: we store references, never PANs).
 *
 * A card number here is any 13-19 digits that pass the Luhn check, written contiguously or
 * in groups separated by spaces, dashes, dots, underscores, slashes or commas (up to three
 * separator characters between groups), anywhere in the text. Every group-aligned window is
 * tried, so a number glued to other digits by a separator ("ref 12 4111 1111 1111 1111") is
 * found; inside one unbroken run of more than 19 digits no window is tried, since that is a
 * long reference, not a card as anyone writes it. Fullwidth digits are folded (NFKC).
 *
 * Stricter than the detection engine's `isValidCreditCard` on purpose: no issuer (IIN)
 * check, because refusing a Luhn-valid unknown-issuer number costs a user a retyped
 * reference while storing a PAN is a compliance incident. The Luhn check itself is the
 * detection engine's.
 */
const GROUPS = /\d+(?:[\s\-\u2010-\u2015\u2212._/,]{1,3}\d+)*/gu;
const SEPARATORS = /[^\d]+/u;

export function containsCardNumber(text: string | null | undefined): boolean {
  if (!text) return false;
  const folded = text.normalize("NFKC");
  for (const match of folded.matchAll(GROUPS)) {
    const groups = match[0].split(SEPARATORS).filter(Boolean);
    for (let i = 0; i < groups.length; i++) {
      let digits = "";
      for (let j = i; j < groups.length; j++) {
        digits += groups[j];
        if (digits.length > 19) break;
        if (digits.length >= 13 && luhnCheck(digits)) return true;
      }
    }
  }
  return false;
}
