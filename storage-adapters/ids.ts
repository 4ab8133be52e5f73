/** Object ids are made by the server; nothing else may reach a file path or an S3 key. */
const OBJECT_ID = /^[a-z0-9][a-z0-9-]{7,99}$/;

/** The object asked for does not exist. */
export class ObjectNotFound extends Error {
  constructor(readonly id: string) {
    super(`object not found: ${id}`);
    this.name = 'ObjectNotFound';
  }
}

/** The id is not one the server could have made (wrong characters or length); storage was not touched. */
export class InvalidObjectId extends Error {
  constructor() {
    // The id itself is not echoed: it may be hostile (NUL, path separators, megabytes of text).
    super('invalid object id: expected 8–100 characters a-z, 0-9 and "-", not starting with "-"');
    this.name = 'InvalidObjectId';
  }
}

export function isObjectId(id: unknown): id is string {
  // (In JavaScript `$` without the m flag matches only at the very end, so no trailing "\n" slips by.)
  return typeof id === 'string' && OBJECT_ID.test(id);
}

export function assertObjectId(id: unknown): asserts id is string {
  if (!isObjectId(id)) throw new InvalidObjectId();
}
