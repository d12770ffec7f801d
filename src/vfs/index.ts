export { Errno, FsError, fsError } from './errors.js';
export { FileType, firstEntryCookie } from './node.js';
export type { DirEntry, DirNode, FileNode, FileSystem, Node, Stat, SymlinkNode, TimeChange } from './node.js';
export { Namespace, maxNameBytes, maxPathBytes, maxSymlinks } from './namespace.js';
export type { OpenOptions, Opened } from './namespace.js';
export { Tmpfs, defaultTmpfsLimits, maxFileSize } from './tmpfs.js';
export type { TmpfsLimits, TmpfsUsage } from './tmpfs.js';
export { coarseNowNs } from './clock.js';
