// The front end's size and depth limits, stated in docs/language.md
// ("Limits"). Real programs stay far below them; past them the parser's
// recursion, a code frame or the memory of one file would grow without
// bound, so the text is refused with a located diagnostic before it is parsed.

/** The longest source text, in characters (1 MiB of ASCII). */
export const MAX_SOURCE_CHARACTERS = 1_048_576;

/**
 * The most tokens of one file: the parser's tree costs about 2 KB a token,
 * so this keeps a check of any accepted file well under 1 GB.
 */
export const MAX_TOKENS = 250_000;

/** The deepest nesting of `(`, `[` and `{` (blocks, calls, indices, parentheses together). */
export const MAX_NESTING_DEPTH = 64;

/** The longest run of prefix operators (`- - x`, `!!b`). */
export const MAX_PREFIX_OPERATORS = 64;

/** The deepest expression tree (operators in one chain `1 + 1 + …` and parentheses together). */
export const MAX_EXPRESSION_DEPTH = 256;
