/**
 * The init process of every oci-runtime sandbox: a 129-byte static x86-64
 * ELF that calls pause(2) forever (`mov eax, 34; syscall; jmp -9`). It
 * keeps the container running, so that each process the backend starts
 * is a `runtime exec` into one sandbox (its tmpfs mounts, its namespaces,
 * its memory for runsc checkpoints), whatever the image holds. It is bound
 * read-only at {@link pauseTarget} and never part of a snapshot's delta.
 *
 * Hand-assembled so that strata ships no binary and needs no compiler:
 * one ELF header (64 bytes) and one PT_LOAD program header (56 bytes,
 * R+X, the whole file at 0x400000), then the 9 bytes of code.
 */

/** Where the pause program is bound in every sandbox. */
export const pauseTarget = '/.strata-pause';

/** The architectures {@link pauseProgram} is built for (OCI names). */
export const pauseArchitectures = ['amd64'] as const;

const hex =
  '7f454c4602010100000000000000000002003e0001000000780040000000000040000000000000000000000000000000' +
  '000000004000380001000000000000000100000005000000000000000000000000004000000000000000400000000000' +
  '810000000000000081000000000000000010000000000000b8220000000f05ebf7';

/** The program's bytes. */
export function pauseProgram(): Uint8Array {
  return Buffer.from(hex, 'hex');
}
