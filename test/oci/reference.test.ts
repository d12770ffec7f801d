import { describe, expect, it } from 'vitest';
import { formatReference, parseReference, type ImageReference } from '../../src/oci/reference.js';

const digest = `sha256:${'ab'.repeat(32)}` as const;

describe('parseReference', () => {
  const valid: [string, ImageReference][] = [
    ['127.0.0.1:5000/hello', { transport: 'registry', registry: '127.0.0.1:5000', repository: 'hello', tag: 'latest' }],
    ['127.0.0.1:5000/tools/hello:1.0', { transport: 'registry', registry: '127.0.0.1:5000', repository: 'tools/hello', tag: '1.0' }],
    [`127.0.0.1:5000/hello@${digest}`, { transport: 'registry', registry: '127.0.0.1:5000', repository: 'hello', digest }],
    [`registry.example/a/b:v1@${digest}`, { transport: 'registry', registry: 'registry.example', repository: 'a/b', tag: 'v1', digest }],
    ['localhost/x', { transport: 'registry', registry: 'localhost', repository: 'x', tag: 'latest' }],
    ['[::1]:5000/x:y', { transport: 'registry', registry: '[::1]:5000', repository: 'x', tag: 'y' }],
    ['docker://127.0.0.1:5000/hello:2', { transport: 'registry', registry: '127.0.0.1:5000', repository: 'hello', tag: '2' }],
    ['docker://alpine', { transport: 'registry', registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }],
    ['alpine:3.19', { transport: 'registry', registry: 'docker.io', repository: 'library/alpine', tag: '3.19' }],
    ['user/app', { transport: 'registry', registry: 'docker.io', repository: 'user/app', tag: 'latest' }],
    ['index.docker.io/user/app', { transport: 'registry', registry: 'docker.io', repository: 'user/app', tag: 'latest' }],
    ['a.b/c__d/e-f/g.h_i:T_a.g-1', { transport: 'registry', registry: 'a.b', repository: 'c__d/e-f/g.h_i', tag: 'T_a.g-1' }],
    ['oci:/images/hello', { transport: 'oci', dir: '/images/hello' }],
    ['oci:/images/hello:v1', { transport: 'oci', dir: '/images/hello', tag: 'v1' }],
    ['oci:rel/dir:v1', { transport: 'oci', dir: '/work/rel/dir', tag: 'v1' }],
    ['docker-archive:/tmp/app.tar', { transport: 'docker-archive', file: '/tmp/app.tar' }],
    ['docker-archive:app.tar:test/app:v1', { transport: 'docker-archive', file: '/work/app.tar', name: 'test/app:v1' }],
  ];
  it.each(valid)('%s', (text, expected) => {
    expect(parseReference(text, '/work')).toEqual(expected);
  });

  const invalid: [string, RegExp][] = [
    ['', /the image name is empty/],
    ['127.0.0.1:5000/', /the repository is empty/],
    ['127.0.0.1:5000/Hello', /repository component 'Hello' is invalid/],
    ['127.0.0.1:5000/a//b', /repository component '' is invalid/],
    ['127.0.0.1:5000/x:bad tag', /'bad tag' is not a valid tag/],
    [`127.0.0.1:5000/x:${'t'.repeat(129)}`, /is not a valid tag/],
    ['127.0.0.1:5000/x@sha256:abc', /'sha256:abc' is not a sha256 digest/],
    ['127.0.0.1:5000/x@md5:0123', /is not a sha256 digest/],
    ['bad_host.example/x', /'bad_host.example' is not a valid registry/],
    ['./images/hello', /for a local layout use oci:DIR/],
    ['oci:', /the layout directory is empty/],
    ['oci:/dir:bad/tag', /'bad\/tag' is not a valid tag/],
    ['docker-archive:', /the archive file is empty/],
    ['docker-archive:/a.tar:@0', /by @index is not supported/],
    ['oci-archive:/x.tar', /transport 'oci-archive:' is not supported/],
    ['containers-storage:x', /transport 'containers-storage:' is not supported/],
    [`a.b/${'x'.repeat(260)}`, /longer than 255/],
  ];
  it.each(invalid)('refuses %j', (text, message) => {
    let error: unknown;
    try {
      parseReference(text, '/work');
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'ERR_BAD_REFERENCE', message: expect.stringMatching(message) });
    expect((error as Error).message).toContain(`'${text.slice(0, 300)}'`);
  });
});

describe('formatReference', () => {
  it.each([
    ['127.0.0.1:5000/hello', '127.0.0.1:5000/hello:latest'],
    ['docker://alpine', 'docker.io/library/alpine:latest'],
    [`r.io/a:v@${digest}`, `r.io/a:v@${digest}`],
    [`r.io/a@${digest}`, `r.io/a@${digest}`],
    ['oci:x:v1', 'oci:/work/x:v1'],
    ['docker-archive:a.tar', 'docker-archive:/work/a.tar'],
  ])('%s is catalogued as %s, which parses back to itself', (text, canonical) => {
    const ref = parseReference(text, '/work');
    expect(formatReference(ref)).toBe(canonical);
    expect(parseReference(canonical, '/elsewhere')).toEqual(ref);
  });
});
