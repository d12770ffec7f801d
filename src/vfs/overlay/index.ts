export { maxStackDepth, Overlay } from './filesystem.js';
export type { OverlayOptions } from './filesystem.js';
export type { OverlayChange } from './changes.js';
export type { LookupState } from './lookup.js';
export { isReservedName, opaqueMarker, whiteoutPrefix } from './lookup.js';
export { maxRenameCopyUp } from './copy-up.js';
