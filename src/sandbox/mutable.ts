/**
 * `T` with its fields writable: an options or result object built field
 * by field, each optional field set only when it has a value. On the
 * spawn path this replaces `{ ...a, ...(x !== undefined && { x }) }`,
 * whose spreads cost more than the rest of building the object.
 */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };
